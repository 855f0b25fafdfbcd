/**
 * The schema validator on public schemas (RFC 5280 certificates, RFC 4511 LDAP messages), on
 * the constructs our own schema lacks (SET, ENUMERATED, SIZE, FROM, ANY, extensibility), and
 * on hostile inputs and schemas: always a diagnostic or a typed error, in bounded time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { ChannelReader } from '../../src/channel/reader.js';
import type { ByteSource } from '../../src/channel/transport.js';
import { formatPath, isVmsError } from '../../src/errors.js';
import { compileAsn1 } from '../../src/asn1/compile.js';
import { loadSchema, validateBer, type ValidationReport } from '../../src/asn1/validate/index.js';
import type { AsnType } from '../../src/asn1/types.js';
import { fixture, fixturePath } from './helpers.js';

const CERTS = new URL('../../../test/fixtures/asn1/certs/', import.meta.url);
const LDAP = new URL('../../../test/fixtures/asn1/ldap/', import.meta.url);
const certificate = loadSchema([fixturePath('PKIX1Explicit88.asn'), fixturePath('PKIX1Implicit88.asn')], 'Certificate').type;
const ldapMessage = loadSchema([fixturePath('LDAPv3.asn')], 'LDAPMessage').type;
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex'));
const codes = (r: ValidationReport): string[] => r.diagnostics.map((d) => d.code);

function typeOf(text: string, name: string): AsnType {
  const c = compileAsn1([{ text, file: 'inline.asn' }]);
  assert.deepEqual(c.diagnostics.filter((d) => d.severity === 'error'), []);
  return c.type(name)!;
}

const certs = readdirSync(CERTS).filter((f) => f.endsWith('.der')).sort();

test('openssl certificates (RSA and EC, with extensions) are valid Certificates', async () => {
  assert.ok(certs.length >= 2);
  for (const name of certs) {
    const r = await validateBer(new Uint8Array(readFileSync(new URL(name, CERTS))), certificate);
    assert.deepEqual(r.diagnostics, [], name);
    assert.ok(r.values > 30, name);
  }
});

test('a certificate with a wrong tag, a truncated one, and one with an empty Extensions', async () => {
  const der = new Uint8Array(readFileSync(new URL(certs[0]!, CERTS)));
  // The TBSCertificate SEQUENCE starts after the outer header (30 82 xx xx): give it a SET tag
  const wrong = der.slice();
  wrong[4] = 0x31;
  const w = await validateBer(wrong, certificate);
  assert.equal(w.diagnostics[0]!.code, 'SCHEMA_TAG');
  assert.equal(w.diagnostics[0]!.offset, 4);
  assert.equal(formatPath(w.diagnostics[0]!.path), 'Certificate.tbsCertificate');
  assert.equal(w.diagnostics[0]!.actual, 'SET');

  const cut = await validateBer(der.subarray(0, der.length - 20), certificate);
  assert.deepEqual(codes(cut), ['X690_TRUNCATED']);

  // TBSCertificate with its extensions [3] EXPLICIT Extensions emptied: SIZE (1..MAX) is broken.
  const tbs = hex(`
    30 1e                      # TBSCertificate
      a0 03 02 01 02           # version [0] v3
      02 01 01                 # serialNumber
      30 03 06 01 2a           # signature AlgorithmIdentifier { 1.2 }
      30 00                    # issuer: empty RDNSequence
      30 00                    # validity: both times missing
      30 00                    # subject
      30 05 30 03 06 01 2a     # subjectPublicKeyInfo: algorithm only
      a3 02 30 00              # extensions [3] { } -- empty
  `);
  const r = await validateBer(tbs, loadSchema([fixturePath('PKIX1Explicit88.asn'), fixturePath('PKIX1Implicit88.asn')], 'TBSCertificate').type);
  assert.deepEqual(codes(r), ['SCHEMA_MISSING', 'SCHEMA_MISSING', 'SCHEMA_MISSING', 'SCHEMA_SIZE']);
  assert.equal(formatPath(r.diagnostics[3]!.path), 'TBSCertificate.extensions');
  assert.equal(r.diagnostics[3]!.expected, 'SIZE 1..MAX');
});

test('LDAP messages: bind, search with a filter, entry and done are valid; constraint breaks are found', async () => {
  for (const name of ['bind-request', 'search-request', 'search-result-entry', 'search-result-done']) {
    const r = await validateBer(new Uint8Array(readFileSync(new URL(`${name}.ber`, LDAP))), ldapMessage);
    assert.deepEqual(r.diagnostics, [], name);
  }
  const bad = async (name: string) => {
    const r = await validateBer(new Uint8Array(readFileSync(new URL(`${name}.ber`, LDAP))), ldapMessage);
    assert.equal(r.errors, 1, name);
    const d = r.diagnostics[0]!;
    return [d.code, formatPath(d.path), d.actual];
  };
  assert.deepEqual(await bad('bad-size-limit'), ['SCHEMA_VALUE', 'LDAPMessage.protocolOp.searchRequest.sizeLimit', '-1']);
  assert.deepEqual(await bad('bad-empty-and'), ['SCHEMA_SIZE', 'LDAPMessage.protocolOp.searchRequest.filter.and', '0']);
  assert.deepEqual(await bad('bad-bind-version'), ['SCHEMA_VALUE', 'LDAPMessage.protocolOp.bindRequest.version', '200']);
});

const CONSTRUCTS = `
T DEFINITIONS IMPLICIT TAGS ::= BEGIN
  S ::= SET { a [0] INTEGER, b [1] BOOLEAN DEFAULT TRUE, c [2] PrintableString (SIZE (1..4)) OPTIONAL }
  E ::= ENUMERATED { red(0), green(1) }
  X ::= SEQUENCE { a INTEGER, ... }
  P ::= IA5String (FROM ("a".."f"))
  B ::= BIT STRING (SIZE (3))
  A ::= SEQUENCE { id OBJECT IDENTIFIER, v ANY DEFINED BY id OPTIONAL }
  U ::= BMPString (SIZE (2))
END`;

test('SET membership in any order, duplicates, missing members; string SIZE in characters', async () => {
  const s = typeOf(CONSTRUCTS, 'S');
  assert.equal((await validateBer(hex('31 06 81 01 ff 80 01 05'), s)).valid, true);
  assert.deepEqual(codes(await validateBer(hex('31 06 80 01 05 80 01 05'), s)), ['SCHEMA_DUPLICATE']);
  assert.deepEqual(codes(await validateBer(hex('31 03 81 01 00'), s)), ['SCHEMA_MISSING']);
  assert.deepEqual(codes(await validateBer(hex('31 03 83 01 00'), s)), ['SCHEMA_UNEXPECTED', 'SCHEMA_MISSING']);
  const long = await validateBer(hex('31 0a 80 01 05 82 05 41 42 43 44 45'), s);
  assert.deepEqual(codes(long), ['SCHEMA_SIZE']);
  assert.equal(long.diagnostics[0]!.actual, '5');
  // A constructed PrintableString: its segments are counted together (2 + 3 characters)
  assert.deepEqual(codes(await validateBer(hex('31 0e 80 01 05 a2 09 04 02 41 42 04 03 43 44 45'), s)), ['SCHEMA_SIZE']);
  assert.deepEqual(codes(await validateBer(hex('31 0c 80 01 05 a2 07 04 02 41 42 04 01 43'), s)), []);
});

test('ENUMERATED items, permitted alphabets, BIT STRING sizes in bits, BMPString characters', async () => {
  const e = typeOf(CONSTRUCTS, 'E');
  assert.equal((await validateBer(hex('0a 01 01'), e)).valid, true);
  assert.deepEqual(codes(await validateBer(hex('0a 01 02'), e)), ['SCHEMA_VALUE']);
  const p = typeOf(CONSTRUCTS, 'P');
  assert.equal((await validateBer(hex('16 03 61 62 66'), p)).valid, true);
  const bad = await validateBer(hex('16 03 61 7a 62'), p);
  assert.deepEqual([codes(bad), bad.diagnostics[0]!.offset, bad.diagnostics[0]!.actual], [['SCHEMA_ALPHABET'], 3, "U+007A 'z'"]);
  const b = typeOf(CONSTRUCTS, 'B');
  assert.equal((await validateBer(hex('03 02 05 e0'), b)).valid, true); // 3 bits
  assert.deepEqual(codes(await validateBer(hex('03 02 04 f0'), b)), ['SCHEMA_SIZE']); // 4 bits
  const u = typeOf(CONSTRUCTS, 'U');
  assert.equal((await validateBer(hex('1e 04 00 41 00 42'), u)).valid, true);
  assert.deepEqual(codes(await validateBer(hex('1e 02 00 41'), u)), ['SCHEMA_SIZE']);
});

test('extensible SEQUENCE skips unknown trailing components; ANY DEFINED BY takes any single TLV', async () => {
  const x = typeOf(CONSTRUCTS, 'X');
  assert.equal((await validateBer(hex('30 0a 02 01 01 a5 03 02 01 07 04 00'), x)).valid, true);
  const a = typeOf(CONSTRUCTS, 'A');
  assert.equal((await validateBer(hex('30 0a 06 01 2a 30 05 a0 03 01 01 ff'), a)).valid, true);
  assert.equal((await validateBer(hex('30 03 06 01 2a'), a)).valid, true);
  assert.deepEqual(codes(await validateBer(hex('30 07 06 01 2a 05 00 05 00'), a)), ['SCHEMA_UNEXPECTED']);
});

/** A source that produces `total` bytes from a generator function, in 64 KiB reads, without holding them. */
function generated(total: number, byteAt: (i: number) => number): ByteSource {
  let at = 0;
  return {
    size: total,
    async read(into: Uint8Array): Promise<number> {
      const n = Math.min(into.length, total - at, 64 << 10);
      for (let i = 0; i < n; i++) into[i] = byteAt(at + i);
      at += n;
      return n;
    },
    async close(): Promise<void> {},
  } as ByteSource;
}

test('hostile streams: a 2^62 length, 100,000-deep nesting, an endless indefinite length, a tag number that never ends', async () => {
  const migration = loadSchema([]).type;
  const t0 = Date.now();
  // 7F D6 CD 53, then a length of 2^62 in 8 octets
  const huge = await validateBer(hex('7f d6 cd 53 88 40 00 00 00 00 00 00 00 a0 00'), migration);
  assert.deepEqual([codes(huge), huge.diagnostics[0]!.offset], [['X690_LIMIT'], 0]);
  // 2^40: representable, but past the end of the input: nothing is allocated or awaited for it
  const past = await validateBer(hex('7f d6 cd 53 86 01 00 00 00 00 00 a0 00'), migration);
  assert.deepEqual(codes(past), ['X690_TRUNCATED']);
  assert.match(past.diagnostics[0]!.expected!, /at most 2 contents bytes/);

  const deepBytes = new Uint8Array(200_000);
  for (let i = 0; i < deepBytes.length; i += 2) { deepBytes[i] = 0x30; deepBytes[i + 1] = 0x80; }
  const deep = await validateBer(deepBytes, typeOf('D DEFINITIONS ::= BEGIN D ::= SEQUENCE OF D END', 'D'));
  assert.equal(deep.diagnostics[0]!.code, 'X690_LIMIT');

  // One indefinite SEQUENCE OF then 8 MiB of empty OCTET STRINGs, never closed
  const endless = await validateBer(new ChannelReader(generated(8 << 20, (i) => (i < 2 ? [0x30, 0x80][i]! : i % 2 === 0 ? 0x04 : 0x00))),
    typeOf('O DEFINITIONS ::= BEGIN O ::= SEQUENCE OF OCTET STRING END', 'O'));
  assert.deepEqual(codes(endless), ['X690_TRUNCATED']);
  assert.equal(endless.values, (8 << 20) / 2);

  const tag = await validateBer(hex('1f' + 'ff'.repeat(64)), migration);
  assert.equal(tag.diagnostics[0]!.code, 'X690_LIMIT');
  assert.ok(Date.now() - t0 < 20_000);
});

test('hostile schemas: a malformed module is E_ASN1, an unknown type E_USAGE, a missing file E_IO', () => {
  const tryLoad = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      assert.ok(isVmsError(e));
      return e.code;
    }
    return 'no error';
  };
  assert.equal(tryLoad(() => loadSchema([fixturePath('Malformed.asn')])), 'E_ASN1');
  assert.equal(tryLoad(() => loadSchema([fixturePath('LDAPv3.asn')], 'NoSuchType')), 'E_USAGE');
  assert.equal(tryLoad(() => loadSchema(['no/such/schema.asn'])), 'E_IO');
  assert.ok(fixture('Malformed.asn').length > 0);
});
