/**
 * The compiled-schema cache: the type graph codec gives back the same graph (shared definitions and
 * recursive cycles included), a cached schema validates exactly as a fresh compile, and the cache is
 * keyed by the schema text and type (an edited schema is compiled again), survives a damaged file,
 * and is skipped in a directory others may write to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isVmsError } from '../../src/errors.js';
import { loadSchema, validateBer } from '../../src/asn1/validate/index.js';
import { loadSchemaCached } from '../../src/asn1/validate/schema-cache.js';
import { decodeTypeGraph, encodeTypeGraph } from '../../src/asn1/validate/type-graph.js';
import type { AsnType } from '../../src/asn1/types.js';
import { compileFixtures, fixturePath, mustType } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vms-schema-cache-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A small valid MigrationStream (as in validate-cli.test.ts), and the same with formatVersion 0 (outside 1..255). */
const VALID = Buffer.from('7fd6cd5312' + 'a006800101810103' + 'a108' + 'a004' + '80027063' + '8600', 'hex');
const BAD = Buffer.from('7fd6cd530c' + 'a006800100810103' + 'a1028600', 'hex');

test('type graph: migration, X.509 and LDAP types come back deep-equal, with shared definitions and cycles kept', () => {
  const types: AsnType[] = [
    loadSchema([]).type,
    mustType(compileFixtures('PKIX1Explicit88.asn'), 'Certificate'),
    mustType(compileFixtures('LDAPv3.asn'), 'LDAPMessage'),
  ];
  for (const t of types) {
    const back = decodeTypeGraph(encodeTypeGraph(t));
    assert.notEqual(back, t);
    assert.deepStrictEqual(back, t);
  }
  // LDAP's Filter is recursive: and/or hold SET OF Filter, whose element is the same definition again.
  const ldap = decodeTypeGraph(encodeTypeGraph(types[2]!));
  const protocolOp = ldap.def.components.find((c) => c.name === 'protocolOp')!.type;
  const search = protocolOp.def.components.find((c) => c.name === 'searchRequest')!.type;
  const filter = search.def.components.find((c) => c.name === 'filter')!.type;
  const and = filter.def.components.find((c) => c.name === 'and')!.type;
  assert.equal(and.def.element!.def, filter.def);
});

test('type graph: bigint, bytes and undefined survive; anything else is refused, and damaged text is a VmsError', () => {
  const t = { name: 'T', def: { a: [1n, -(2n ** 70n)], b: Uint8Array.of(0, 255), c: undefined, d: null, e: 'x', f: 1.5 } } as unknown as AsnType;
  const back = decodeTypeGraph(encodeTypeGraph(t)) as unknown as { def: Record<string, unknown> };
  assert.deepStrictEqual(back.def, { a: [1n, -(2n ** 70n)], b: Uint8Array.of(0, 255), c: undefined, d: null, e: 'x', f: 1.5 });
  assert.ok('c' in back.def);
  for (const odd of [new Map(), new Set(), () => 0, Symbol('s'), Number.NaN, -0, new Date(0)]) {
    assert.throws(() => encodeTypeGraph({ name: 'T', def: { x: odd } } as unknown as AsnType), (e: unknown) => isVmsError(e) && e.code === 'E_USAGE');
  }
  for (const text of ['', '{', '{"v":2,"nodes":[{"o":{}}]}', '{"v":1,"nodes":[]}', '{"v":1,"nodes":[{"o":{"name":{"$":5}}}]}', '{"v":1,"nodes":[{"o":{"name":{"n":"1x"}}}]}', '{"v":1,"nodes":[{"a":[]}]}']) {
    assert.throws(() => decodeTypeGraph(text), (e: unknown) => isVmsError(e) && e.code === 'E_USAGE', text);
  }
});

test('schema cache: stored on the first load, a hit on the next, and the cached type validates exactly as a fresh compile', async () => {
  const cacheDir = join(dir, 'c1');
  const first = await loadSchemaCached([], undefined, { cacheDir });
  assert.equal(first.cache, 'stored');
  const second = await loadSchemaCached([], undefined, { cacheDir });
  assert.equal(second.cache, 'hit');
  assert.equal(second.type.name, 'MigrationStream');
  assert.deepStrictEqual(second.type, loadSchema([]).type);
  for (const bytes of [VALID, BAD]) {
    const fresh = await validateBer(bytes, loadSchema([]).type);
    const cached = await validateBer(bytes, second.type);
    assert.deepStrictEqual(cached, fresh);
  }
  assert.equal((await validateBer(BAD, second.type)).diagnostics[0]!.code, 'SCHEMA_VALUE');
  assert.equal((await loadSchemaCached([], undefined, { cacheDir: null })).cache, 'compiled');
});

test('schema cache: an edited schema or another --type is compiled again; a damaged cache file is replaced', async () => {
  const cacheDir = join(dir, 'c2');
  const schema = join(dir, 'm.asn1');
  writeFileSync(schema, 'M DEFINITIONS ::= BEGIN\n  A ::= INTEGER (0..9)\n  B ::= BOOLEAN\nEND\n');
  const a = await loadSchemaCached([schema], undefined, { cacheDir });
  assert.equal(a.cache, 'stored');
  assert.equal(a.type.name, 'A');
  assert.equal((await loadSchemaCached([schema], undefined, { cacheDir })).cache, 'hit');
  const b = await loadSchemaCached([schema], 'B', { cacheDir });
  assert.equal(b.cache, 'stored');
  assert.equal(b.type.kind, 'BOOLEAN');
  // The same file, edited: the cached A (0..9) must not come back.
  writeFileSync(schema, 'M DEFINITIONS ::= BEGIN\n  A ::= INTEGER (0..99)\n  B ::= BOOLEAN\nEND\n');
  const edited = await loadSchemaCached([schema], undefined, { cacheDir });
  assert.equal(edited.cache, 'stored');
  assert.equal(edited.type.value!.ranges[0]!.max, 99n);
  assert.equal(readdirSync(cacheDir).length, 3);
  for (const f of readdirSync(cacheDir)) writeFileSync(join(cacheDir, f), '{"v":1,"nodes":[{"o":{"name":{"$":');
  const again = await loadSchemaCached([schema], undefined, { cacheDir });
  assert.equal(again.cache, 'stored');
  assert.equal(again.type.value!.ranges[0]!.max, 99n);
  assert.equal((await loadSchemaCached([schema], undefined, { cacheDir })).cache, 'hit');
});

test('schema cache: errors are the compiler\'s (not cached), and a directory others may write to is not used', async () => {
  const cacheDir = join(dir, 'c3');
  const broken = join(dir, 'broken.asn1');
  writeFileSync(broken, 'M DEFINITIONS ::= BEGIN\n  A ::= Missing\nEND\n');
  await assert.rejects(loadSchemaCached([broken], undefined, { cacheDir }), (e: unknown) => isVmsError(e) && e.code === 'E_ASN1');
  await assert.rejects(loadSchemaCached([fixturePath('LDAPv3.asn')], 'NoSuchType', { cacheDir }), (e: unknown) => isVmsError(e) && e.code === 'E_USAGE');
  await assert.rejects(loadSchemaCached([join(dir, 'absent.asn1')], undefined, { cacheDir }), (e: unknown) => isVmsError(e) && e.code === 'E_IO');
  assert.deepStrictEqual(readdirSync(cacheDir), []);
  const open = join(dir, 'open');
  await loadSchemaCached([], undefined, { cacheDir: open });
  chmodSync(open, 0o777);
  assert.equal((await loadSchemaCached([], undefined, { cacheDir: open })).cache, 'compiled');
});

test('vmstream validate: the first run fills $VMSTREAM_SCHEMA_CACHE, later runs report the same from it; =off leaves no file', () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const cacheDir = join(dir, 'cli');
  const ok = join(dir, 'ok.ber');
  const bad = join(dir, 'bad.ber');
  writeFileSync(ok, VALID);
  writeFileSync(bad, BAD);
  const run = (cache: string, f: string) => spawnSync(process.execPath, [main, 'validate', '--json', f], { encoding: 'utf8', env: { ...process.env, VMSTREAM_SCHEMA_CACHE: cache } });
  const first = [run(cacheDir, ok), run(cacheDir, bad)];
  assert.equal(readdirSync(cacheDir).length, 1);
  const second = [run(cacheDir, ok), run(cacheDir, bad)];
  const off = [run('off', ok), run('off', bad)];
  assert.deepStrictEqual(first.map((r) => r.status), [0, 1]);
  for (const again of [second, off]) {
    assert.deepStrictEqual(again.map((r) => r.status), [0, 1]);
    assert.deepStrictEqual(again.map((r) => r.stdout), first.map((r) => r.stdout));
  }
  assert.match(first[1]!.stdout, /"code": "SCHEMA_VALUE"/);
  assert.equal(readdirSync(cacheDir).length, 1);
});
