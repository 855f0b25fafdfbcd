/** `vmstream validate` with a schema: default schema, --schema/--type, --xer, exit statuses 0/1/2. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vms-validate-schema-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// Run from the temp dir: the default schema must be found beside the package, not in the cwd.
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

/** A small valid MigrationStream: header (version 1, QEMU file version 3), records configuration "pc" and eof. */
const VALID = '7fd6cd5312' + 'a006800101810103' + 'a108' + 'a004' + '80027063' + '8600';

test('a stream is a valid MigrationStream by default, the schema found beside the package (exit 0); --no-schema still runs the X.690 check', () => {
  const f = join(dir, 'ok.ber');
  writeFileSync(f, Buffer.from(VALID, 'hex'));
  const r = run('validate', f);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /valid \(8 values, 23 bytes, 0 errors/);
  const x = run('validate', '--no-schema', '--json', f);
  assert.equal(x.status, 0);
  assert.equal((JSON.parse(x.stdout) as { validator: string }).validator, 'x690');
});

test('a violation exits 1 with the offset, the schema path, expected/found and a hex excerpt', () => {
  const f = join(dir, 'bad.ber');
  // header formatVersion 0 (1..255)
  const bytes = Buffer.from('7fd6cd530c' + 'a006800100810103' + 'a1028600', 'hex');
  writeFileSync(f, bytes);
  const r = run('validate', '--max-errors', '5', f);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /error SCHEMA_VALUE at byte 7 \(0x7\) in MigrationStream\.header\.formatVersion: .*expected 1\.\.255; found 0/);
  assert.match(r.stdout, /00000000: 7f d6 cd 53 0c a0 06 \[80\] 01 00/);
  const j = run('validate', '--json', f);
  const report = JSON.parse(j.stdout) as { validator: string; diagnostics: { code: string; path: string }[] };
  assert.equal(report.validator, 'schema MigrationStream');
  assert.equal(report.diagnostics[0]!.path, 'MigrationStream.header.formatVersion');
});

test('--schema/--type with other modules; --xer to a file and to stdout', () => {
  const ldap = join(fixtures, 'asn1', 'LDAPv3.asn');
  const msg = join(fixtures, 'asn1', 'ldap', 'bind-request.ber');
  const r = run('validate', '--schema', ldap, '--type', 'LDAPMessage', '--xer', join(dir, 'bind.xer'), msg);
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(dir, 'bind.xer'), 'utf8'), /^<LDAPMessage>\n {4}<messageID>1<\/messageID>/);
  const s = run('validate', '--schema', ldap, '--type', 'LDAPMessage', '--xer', '-', msg);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /<bindRequest>/);
  assert.match(s.stderr, /valid/);
  const certs = [join(fixtures, 'asn1', 'PKIX1Explicit88.asn'), join(fixtures, 'asn1', 'PKIX1Implicit88.asn')];
  const c = run('validate', '--schema', certs[0]!, '--schema', certs[1]!, '--type', 'Certificate', join(fixtures, 'asn1', 'certs', 'ec-p256-ca.der'));
  assert.equal(c.status, 0, c.stdout + c.stderr);
});

test('usage and I/O problems exit 2: a malformed schema, an unknown type, a missing stream', () => {
  const msg = join(fixtures, 'asn1', 'ldap', 'bind-request.ber');
  const bad = run('validate', '--schema', join(fixtures, 'asn1', 'Malformed.asn'), msg);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /E_USAGE: schema does not compile/);
  const type = run('validate', '--schema', join(fixtures, 'asn1', 'LDAPv3.asn'), '--type', 'Nope', msg);
  assert.equal(type.status, 2);
  assert.match(type.stderr, /no type Nope/);
  assert.equal(run('validate', join(dir, 'missing.ber')).status, 2);
  assert.equal(run('validate', '--no-schema', '--xer', '-', msg).status, 2);
});
