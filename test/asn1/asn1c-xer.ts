/**
 * asn1c as the judge of our XER: builds its sample converter for a schema (cached in the temp dir
 * by schema, asn1c version, PDU and flags), runs `-iber -oxer`, and compares documents once
 * whitespace is normalised. Shared by test/interop/asn1c-xer.test.ts and the test/asn1 XER tests.
 * A missing asn1c fails the test unless VMSTREAM_SKIP_INTEROP=1.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ChannelWriter } from '../../src/channel/writer.js';
import { ChannelReader } from '../../src/channel/reader.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { validateBer } from '../../src/asn1/validate/index.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import type { AsnType } from '../../src/asn1/types.js';

const skipInterop = process.env.VMSTREAM_SKIP_INTEROP === '1';

export function run(cmd: string, args: readonly string[], cwd?: string): { status: number | null; out: string; stdout: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 30 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** True when asn1c, make and cc are there; otherwise skips (VMSTREAM_SKIP_INTEROP=1) or fails. */
export function requireTools(t: { skip: (m: string) => void }): boolean {
  for (const tool of ['asn1c', 'make', 'cc']) {
    if (have(tool)) continue;
    if (skipInterop) {
      t.skip(`${tool} is not installed (VMSTREAM_SKIP_INTEROP=1)`);
      return false;
    }
    assert.fail(`${tool} is not installed: install it (apt-get install asn1c build-essential) or set VMSTREAM_SKIP_INTEROP=1`);
  }
  return true;
}

const converters = new Map<string, string>();

/**
 * asn1c's sample converter for a schema, built once per schema content, PDU and asn1c flags
 * (`-fcompound-names` always). For our own schema with no extra flags the key (schema bytes +
 * asn1c version) and directory match test/interop/asn1c.test.ts, so the two share one build.
 */
export function asn1cConverter(schemaFile: string, pdu: string, flags: readonly string[] = []): string {
  const memo = `${schemaFile}\0${pdu}\0${flags.join(' ')}`;
  const cached = converters.get(memo);
  if (cached !== undefined) return cached;
  const schema = readFileSync(schemaFile);
  const version = run('asn1c', ['-v']).out.trim();
  const hash = createHash('sha256').update(schema).update(version);
  if (pdu !== 'MigrationStream') hash.update(pdu);
  if (flags.length > 0) hash.update(flags.join(' '));
  const dir = join(tmpdir(), `vmstream-asn1c-${hash.digest('hex').slice(0, 16)}`);
  const progname = join(dir, 'progname');
  if (!existsSync(progname)) {
    // Build beside the final place, then rename: a parallel run never sees a half-built tree.
    const work = mkdtempSync(join(tmpdir(), 'vmstream-asn1c-build-'));
    const name = basename(schemaFile);
    writeFileSync(join(work, name), schema);
    const gen = run('asn1c', ['-fcompound-names', ...flags, name], work);
    assert.equal(gen.status, 0, `asn1c failed:\n${gen.out}`);
    // -lm: asn1c's REAL support calls ilogb().
    const make = run('make', ['-f', 'Makefile.am.sample', `CFLAGS+=-DPDU=${pdu} -I.`, 'LIBS=-lm', '-j2'], work);
    assert.equal(make.status, 0, `building asn1c's converter failed:\n${make.out.slice(-4000)}`);
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another run won the race
    }
  }
  converters.set(memo, progname);
  return progname;
}

/** Collapses whitespace runs and drops whitespace next to tags (between tags, and around text). */
export function normalizeXml(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/ ?(<[^>]*>) ?/g, '$1');
}

/** Our XER of `ber` as `type`; the validator must find nothing wrong (warnings too, unless allowed). */
export async function ourXer(ber: Uint8Array | ChannelReader, type: AsnType, allowWarnings = false): Promise<string> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const xer = new XerWriter(out);
  const r = await validateBer(ber, type, { observer: xer });
  assert.deepEqual(allowWarnings ? r.diagnostics.filter((d) => d.severity === 'error') : r.diagnostics, []);
  await xer.finish();
  await out.close();
  return Buffer.from(sink.bytes()).toString('utf8');
}

/** asn1c's XER of `ber` (its converter must accept it). */
export function theirXer(progname: string, ber: Uint8Array, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-xer-'));
  try {
    const file = join(dir, `${name}.ber`);
    writeFileSync(file, ber);
    const r = run(progname, ['-iber', '-oxer', file]);
    assert.equal(r.status, 0, `asn1c could not convert ${name}:\n${r.out.slice(-2000)}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The first place two normalised documents differ, with some context. */
export function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at ${i}:\n ours:  ${a.slice(Math.max(0, i - 120), i + 120)}\n asn1c: ${b.slice(Math.max(0, i - 120), i + 120)}`;
}

/** Asserts the two documents agree once normalised. */
export function assertSameXer(ours: string, theirs: string, what: string): void {
  const a = normalizeXml(ours);
  const b = normalizeXml(theirs);
  assert.ok(a === b, `XER differs for ${what} ${firstDifference(a, b)}`);
}
