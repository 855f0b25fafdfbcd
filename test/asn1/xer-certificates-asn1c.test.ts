/**
 * X.509 certificates (RFC 5280) against asn1c 0.9.28: our XER of the openssl certificates in
 * test/fixtures/asn1/certs/ and its converter's, for PDU Certificate of PKIX1Explicit88.
 *
 * Two things make asn1c able to take them at all:
 * - the module is PKIX1Explicit88-asn1c.asn, RFC 5280's module less its own `[UNIVERSAL n]`
 *   definitions of UniversalString, BMPString and UTF8String, which asn1c refuses ("Attempt to
 *   redefine a standard basic string type"); the built-in types it then uses have the same tags;
 * - `-fwide-types`: by default asn1c holds an INTEGER in a C long, and fails on the 20-octet
 *   serial numbers openssl writes ("Decode failed past byte 4").
 * With -fwide-types asn1c writes an INTEGER beyond a long as colon-separated hex octets
 * (`3D:95:40:...`); we write every INTEGER in decimal, as X.693 does. That is the one difference,
 * so asn1c's hex integers are turned into decimal before comparing, and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { loadSchema, validateBer } from '../../src/asn1/validate/index.js';
import { fixturePath } from './helpers.js';
import { asn1cConverter, assertSameXer, ourXer, requireTools, theirXer } from './asn1c-xer.js';

const TRIMMED = fixturePath('PKIX1Explicit88-asn1c.asn');
const CERTS = new URL('../../../test/fixtures/asn1/certs/', import.meta.url);
const certificate = loadSchema([TRIMMED], 'Certificate').type;
const certs = readdirSync(CERTS).filter((f) => f.endsWith('.der')).sort();
const der = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, CERTS)));

/** asn1c's `XX:YY:...` INTEGER form as signed decimal; returns the text and how many it changed. */
function hexIntegersToDecimal(xer: string): { text: string; count: number } {
  let count = 0;
  const text = xer.replace(/<([A-Za-z][\w-]*)>((?:[0-9A-F]{2}:)+[0-9A-F]{2})<\/\1>/g, (_m, name: string, octets: string) => {
    count++;
    const hex = octets.replace(/:/g, '');
    return `<${name}>${BigInt.asIntN(hex.length * 4, BigInt(`0x${hex}`)).toString()}</${name}>`;
  });
  return { text, count };
}

test('the trimmed PKIX1Explicit88 module differs from RFC 5280\'s only by the three string definitions', () => {
  const full = readFileSync(fixturePath('PKIX1Explicit88.asn'), 'utf8');
  const trimmed = readFileSync(TRIMMED, 'utf8');
  const code = (s: string): string[] => s.split('\n').filter((l) => !/^\s*(--.*)?$/.test(l));
  const dropped = code(full).filter((l) => !code(trimmed).includes(l));
  assert.deepEqual(dropped, [
    'UniversalString ::= [UNIVERSAL 28] IMPLICIT OCTET STRING',
    'BMPString ::= [UNIVERSAL 30] IMPLICIT OCTET STRING',
    'UTF8String ::= [UNIVERSAL 12] IMPLICIT OCTET STRING',
  ]);
  assert.equal(code(trimmed).length, code(full).length - 3);
});

test('the openssl certificates are valid Certificates of the trimmed module', async () => {
  assert.ok(certs.length >= 2);
  for (const name of certs) {
    const r = await validateBer(der(name), certificate);
    assert.deepEqual(r.diagnostics, [], name);
  }
});

test('XER of the openssl certificates: ours equals asn1c\'s, serial numbers aside (decimal vs its hex)', async (t) => {
  if (!requireTools(t)) return;
  const progname = asn1cConverter(TRIMMED, 'Certificate', ['-fwide-types']);
  for (const name of certs) {
    const ours = await ourXer(der(name), certificate);
    const theirs = hexIntegersToDecimal(theirXer(progname, der(name), name));
    assert.equal(theirs.count, 1, `${name}: only the serial number is beyond a C long`);
    assertSameXer(ours, theirs.text, name);
    // What the comparison covered: ANY (AttributeValue, parameters), BIT STRING, OIDs, times, extensions.
    assert.match(ours, /<value>13 02 44 45<\/value>|<value>0C /);
    assert.match(ours, /<subjectPublicKey>\n {16}[01]{64}\n/);
  }
});
