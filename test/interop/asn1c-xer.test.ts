// Interop: our `--xer` output and asn1c's sample converter (`-iber -oxer`) give the same
// document, once whitespace is normalised, for the BER of every fixture stream (our schema) and
// for the LDAP samples (RFC 4511, PDU LDAPMessage). asn1c 0.9.28 refuses the RFC 5280 modules
// ("Attempt to redefine a standard basic string type"), so certificates are not compared here.
// The converters are cached in the temp dir by schema hash; the migration one is the same build
// test/interop/asn1c.test.ts uses. A missing asn1c fails unless VMSTREAM_SKIP_INTEROP=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { qemuToBer } from '../../src/stream/ber/convert.js';
import { loadSchema, validateBer } from '../../src/asn1/validate/index.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import type { AsnType } from '../../src/asn1/types.js';

const SCHEMA = 'schema/migration.asn1';
const LDAP_SCHEMA = 'test/fixtures/asn1/LDAPv3.asn';
const FIXTURES = 'test/fixtures/qemu';
const LDAP = 'test/fixtures/asn1/ldap';
const skip = process.env.VMSTREAM_SKIP_INTEROP === '1';

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function run(cmd: string, args: readonly string[], cwd?: string): { status: number | null; out: string; stdout: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 30 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

function requireTools(t: { skip: (m: string) => void }): boolean {
  for (const tool of ['asn1c', 'make', 'cc']) {
    if (have(tool)) continue;
    if (skip) {
      t.skip(`${tool} is not installed (VMSTREAM_SKIP_INTEROP=1)`);
      return false;
    }
    assert.fail(`${tool} is not installed: install it (apt-get install asn1c build-essential) or set VMSTREAM_SKIP_INTEROP=1`);
  }
  return true;
}

const converters = new Map<string, string>();

/**
 * asn1c's sample converter for a schema, built once per schema content. For our own schema the
 * key (schema bytes + asn1c version) and directory match test/interop/asn1c.test.ts, so the two
 * tests share one build.
 */
function asn1cConverter(schemaFile: string, pdu: string): string {
  const cached = converters.get(schemaFile);
  if (cached !== undefined) return cached;
  const schema = readFileSync(schemaFile);
  const version = run('asn1c', ['-v']).out.trim();
  const hash = createHash('sha256').update(schema).update(version);
  if (pdu !== 'MigrationStream') hash.update(pdu);
  const dir = join(tmpdir(), `vmstream-asn1c-${hash.digest('hex').slice(0, 16)}`);
  const progname = join(dir, 'progname');
  if (!existsSync(progname)) {
    const work = mkdtempSync(join(tmpdir(), 'vmstream-asn1c-build-'));
    const name = basename(schemaFile);
    writeFileSync(join(work, name), schema);
    const gen = run('asn1c', ['-fcompound-names', name], work);
    assert.equal(gen.status, 0, `asn1c failed:\n${gen.out}`);
    const make = run('make', ['-f', 'Makefile.am.sample', `CFLAGS+=-DPDU=${pdu} -I.`, '-j2'], work);
    assert.equal(make.status, 0, `building asn1c's converter failed:\n${make.out.slice(-4000)}`);
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another run won the race
    }
  }
  converters.set(schemaFile, progname);
  return progname;
}

/** Collapses whitespace runs and drops whitespace next to tags (between tags, and around text). */
function normalizeXml(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/ ?(<[^>]*>) ?/g, '$1');
}

async function ourXer(ber: Uint8Array, type: AsnType): Promise<string> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const xer = new XerWriter(out);
  const r = await validateBer(ber, type, { observer: xer });
  assert.deepEqual(r.diagnostics, []);
  await xer.finish();
  await out.close();
  return Buffer.from(sink.bytes()).toString('utf8');
}

function theirXer(progname: string, ber: Uint8Array, name: string): string {
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
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at ${i}:\n ours:  ${a.slice(Math.max(0, i - 120), i + 120)}\n asn1c: ${b.slice(Math.max(0, i - 120), i + 120)}`;
}

test('normalisation: whitespace runs collapse, whitespace beside tags goes', () => {
  assert.equal(normalizeXml('<a>\n    <b>1 2</b>\n    <c>\n  AA BB \n  CC\n </c>\n</a>\n'), '<a><b>1 2</b><c>AA BB CC</c></a>');
});

const migrationType = loadSchema([SCHEMA]).type;

for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith('.mig')).sort()) {
  test(`XER of ${name}: ours equals asn1c's`, async (t) => {
    if (!requireTools(t)) return;
    const sink = new MemorySink();
    await qemuToBer(new Uint8Array(readFileSync(join(FIXTURES, name))), sink);
    const ber = sink.bytes();
    const ours = normalizeXml(await ourXer(ber, migrationType));
    const theirs = normalizeXml(theirXer(asn1cConverter(SCHEMA, 'MigrationStream'), ber, name));
    assert.ok(ours === theirs, `XER differs for ${name} ${firstDifference(ours, theirs)}`);
  });
}

test('XER of the LDAP samples: ours equals asn1c\'s', async (t) => {
  if (!requireTools(t)) return;
  const type = loadSchema([LDAP_SCHEMA], 'LDAPMessage').type;
  const progname = asn1cConverter(LDAP_SCHEMA, 'LDAPMessage');
  const samples = readdirSync(LDAP).filter((f) => f.endsWith('.ber') && !f.startsWith('bad-'));
  assert.ok(samples.length >= 4);
  for (const name of samples) {
    const ber = new Uint8Array(readFileSync(join(LDAP, name)));
    const ours = normalizeXml(await ourXer(ber, type));
    const theirs = normalizeXml(theirXer(progname, ber, name));
    assert.ok(ours === theirs, `XER differs for ${name} ${firstDifference(ours, theirs)}`);
  }
});

