// Interop: tools that know nothing of QEMU check our BER against schema/migration.asn1.
//  - asn1c -fcompound-names compiles the schema; its sample converter (built with
//    -DPDU=MigrationStream, cached in a temp dir keyed by the schema's hash, see
//    test/asn1/asn1c-xer.ts) decodes our BER
//    of every fixture stream, and of a device section using every Value alternative.
//  - libtasn1's asn1Parser accepts the schema.
// Missing tools fail these tests unless VMSTREAM_SKIP_INTEROP=1 is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { qemuToBer } from '../../src/stream/ber/convert.js';
import { BerStreamWriter } from '../../src/stream/ber/writer.js';
import type { SectionHeader } from '../../src/stream/events.js';
import * as V from '../../src/vmstate/index.js';
import { asn1cConverter } from '../asn1/asn1c-xer.js';

const SCHEMA = 'schema/migration.asn1';
const FIXTURES = 'test/fixtures/qemu';
const skip = process.env.VMSTREAM_SKIP_INTEROP === '1';

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function run(cmd: string, args: readonly string[], cwd?: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Skips with a message under VMSTREAM_SKIP_INTEROP=1, else fails, when `tool` is missing. */
function requireTool(t: { skip: (m: string) => void }, tool: string): boolean {
  if (have(tool)) return true;
  if (skip) {
    t.skip(`${tool} is not installed (VMSTREAM_SKIP_INTEROP=1)`);
    return false;
  }
  assert.fail(`${tool} is not installed: install it (apt-get install asn1c libtasn1-bin) or set VMSTREAM_SKIP_INTEROP=1`);
}

/** asn1c's sample converter for the schema, built once per schema content (test/asn1/asn1c-xer.ts; shared with the XER test). */
const asn1cDecoder = (): string => asn1cConverter(SCHEMA, 'MigrationStream');

/** Decodes `ber` with asn1c's converter; returns its exit status and output. */
function asn1cDecode(ber: Uint8Array, name: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-ber-'));
  try {
    const file = join(dir, `${name}.ber`);
    writeFileSync(file, ber);
    return run(asn1cDecoder(), ['-iber', '-onull', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertDecodes(ber: Uint8Array, name: string): void {
  const r = asn1cDecode(ber, name);
  assert.equal(r.status, 0, `asn1c could not decode ${name}:\n${r.out}`);
  assert.match(r.out, /decoded successfully/);
  assert.doesNotMatch(r.out, /fail/i);
}

const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.mig'))
  .sort();

for (const name of fixtures) {
  test(`asn1c decodes the BER of ${name}`, async (t) => {
    if (!requireTool(t, 'asn1c') || !requireTool(t, 'make') || !requireTool(t, 'cc')) return;
    const sink = new MemorySink();
    await qemuToBer(new Uint8Array(readFileSync(join(FIXTURES, name))), sink);
    assertDecodes(sink.bytes(), name);
  });
}

test('asn1c decodes device sections using every Value alternative, a configuration subsection and a command', async (t) => {
  if (!requireTool(t, 'asn1c') || !requireTool(t, 'make') || !requireTool(t, 'cc')) return;
  const elem = V.vmstate({ name: 'elem', version: 1, fields: { x: V.uint16() } });
  const sub = V.vmstate({ name: 'dev/sub', version: 2, fields: { s: V.string() } });
  const dev = V.vmstate({
    name: 'dev',
    version: 3,
    fields: {
      b: V.bool(),
      i8: V.int8(),
      i16: V.int16(),
      i32: V.int32(),
      i64: V.int64(),
      u8: V.uint8(),
      u16: V.uint16(),
      u32: V.uint32(),
      u64: V.uint64(),
      buf: V.buffer(3),
      pad: V.unused(2),
      arr: V.array(V.uint16(), 2),
      bytes: V.array(V.uint8(), 8),
      ptrs: V.pointerArray(V.struct(elem), 2),
      q: V.list(elem),
      tree: V.tree('direct', elem),
      nested: V.struct(elem),
    },
    subsections: [sub],
  });
  const state = {
    ...V.emptyState(dev),
    b: true,
    i8: -1,
    i64: -5n,
    u64: 0xffffffffffffffffn,
    buf: Uint8Array.of(1, 2, 3),
    arr: [1, 2],
    bytes: [1, 2, 3, 4, 5, 6, 7, 8],
    ptrs: [{ x: 1 }, null],
    q: [{ x: 2 }],
    tree: [[7n, { x: 3 }]],
    s: 'hello',
  } as V.StateOf<typeof dev>;
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new BerStreamWriter(out);
  w.header({ magic: 0x5145564d, version: 3 });
  w.configuration({ machine: 'pc', subsections: [{ kind: 'capabilities', name: 'configuration/capabilities', version: 1, capabilities: ['x-ignore-shared'] }] });
  const h: SectionHeader = { kind: 'full', id: 9, idstr: 'dev', instance: 0, version: 3, offset: 0, depth: 0 };
  w.sectionStart(h);
  const fields = w.deviceFields(h)!;
  V.save(dev, state, fields);
  await w.sectionEnd(h, { payloadEnd: 0, footer: false });
  // An opaque value, as the binary reader reports a type it does not decode.
  const h2: SectionHeader = { ...h, id: 10, idstr: 'raw' };
  w.sectionStart(h2);
  const raw = w.deviceFields(h2)!;
  raw.startStruct('raw', { vmsdName: 'raw', version: 1 });
  raw.opaque('config', 'pci config', new Uint8Array(256).fill(7));
  raw.nullPointer('none');
  raw.endStruct();
  await w.sectionEnd(h2, { payloadEnd: 0, footer: true });
  w.command({ cmd: 2, name: 'PING', payload: Uint8Array.of(0, 0, 0, 1), detail: {}, offset: 0 });
  w.eof(0, 0);
  await w.end();
  assertDecodes(sink.bytes(), 'every-value');
});

test('asn1c rejects a damaged stream (the check can fail)', async (t) => {
  if (!requireTool(t, 'asn1c') || !requireTool(t, 'make') || !requireTool(t, 'cc')) return;
  const sink = new MemorySink();
  await qemuToBer(new Uint8Array(readFileSync(join(FIXTURES, fixtures[0]!))), sink);
  const ber = sink.bytes().slice();
  ber[19] = 0xbe; // the configuration record's [0] becomes [30]: no Record alternative has it
  const r = asn1cDecode(ber, 'damaged');
  assert.notEqual(r.status, 0);
  assert.match(r.out, /failed/i);
});

test('libtasn1 asn1Parser accepts the schema', (t) => {
  if (!requireTool(t, 'asn1Parser')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-asn1parser-'));
  try {
    mkdirSync(join(dir, 'out'));
    const r = run('asn1Parser', ['-o', join(dir, 'out', 'migration_asn1_tab.c'), SCHEMA]);
    assert.equal(r.status, 0, `asn1Parser failed:\n${r.out}`);
    assert.match(readFileSync(join(dir, 'out', 'migration_asn1_tab.c'), 'utf8'), /MigrationStream/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
