/**
 * X.690's discouraged header forms in the schema validator, as in the schema-free check: a
 * needlessly long definite length is a warning with the offset of its first length octet (the
 * value stays valid), a needlessly long identifier an error; every value is examined, including
 * string segments, ANY contents and values the validator skips. Also: header bytes rebuilt from
 * what the reader reports (putHeader, which the XER of ANY relies on) equal the bytes read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseHeader, newHeader } from '../../src/format/ber/header.js';
import { INDEFINITE } from '../../src/format/ber/length.js';
import { checkX690 } from '../../src/asn1/x690/index.js';
import { putHeader, MAX_HEADER_BYTES } from '../../src/asn1/x690/header.js';
import { loadSchema, validateBer } from '../../src/asn1/validate/index.js';
import { fixturePath } from './helpers.js';
import { asn1cConverter, assertSameXer, ourXer, requireTools, theirXer } from './asn1c-xer.js';

const certificate = loadSchema([fixturePath('PKIX1Explicit88-asn1c.asn')], 'Certificate').type;
const ldapMessage = loadSchema([fixturePath('LDAPv3.asn')], 'LDAPMessage').type;
const cert = new Uint8Array(readFileSync(fixturePath('certs/rsa-2048-san.der')));
const bind = new Uint8Array(readFileSync(fixturePath('ldap/bind-request.ber')));
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * DER re-encoded with every definite length in the 2-octet long form (82 hi lo): needless for
 * lengths below 256, so each such value gets one X690_LENGTH_FORM warning. Contents unchanged.
 */
function longLengths(der: Uint8Array): { bytes: Uint8Array; needless: number } {
  let needless = 0;
  const walk = (b: Uint8Array): number[] => {
    const out: number[] = [];
    for (let p = 0; p < b.length; ) {
      const h = newHeader();
      const n = parseHeader(b, p, b.length, h);
      assert.ok(n > 0 && h.length !== INDEFINITE && h.length < 65536);
      const contents = b.subarray(p + n, p + n + h.length);
      const inner = h.constructed ? walk(contents) : [...contents];
      if (inner.length < 256) needless++;
      out.push(...b.subarray(p, p + h.tagLength), 0x82, inner.length >> 8, inner.length & 255, ...inner);
      p += n + h.length;
    }
    return out;
  };
  const bytes = Uint8Array.from(walk(der));
  return { bytes, needless };
}

const headerFindings = (ds: readonly { code: string; severity: string; offset: number }[]): string[] =>
  ds.filter((d) => d.code === 'X690_LENGTH_FORM' || d.code === 'X690_TAG_FORM').map((d) => `${d.severity} ${d.code} @${d.offset}`);

test('a certificate with needlessly long lengths stays valid, with one warning per value, the same as --no-schema gives', async () => {
  const { bytes, needless } = longLengths(cert);
  const schema = await validateBer(bytes, certificate, { maxWarnings: 10_000 });
  const plain = await checkX690(bytes, { maxWarnings: 10_000 });
  assert.equal(schema.valid, true);
  assert.equal(schema.errors, 0);
  assert.equal(schema.warnings, needless);
  assert.equal(plain.warnings, needless);
  assert.deepEqual(headerFindings(schema.diagnostics), headerFindings(plain.diagnostics));
  // The certificate's own 82 03 9C was minimal already: the first warning is inside, at a length's first octet.
  const first = schema.diagnostics[0]!;
  assert.equal(first.severity, 'warning');
  assert.equal(bytes[first.offset], 0x82);
  assert.ok(first.path.length > 0 && first.path[0] === 'Certificate', String(first.path));
  assert.match(first.message, /length \d+ is encoded in 3 octets where (1|2) suffice/);
});

test('ANY contents (AttributeValue, parameters) are checked too, with and without an XER observer, and asn1c shows the same long forms', async (t) => {
  const { bytes } = longLengths(cert);
  const plain = await checkX690(bytes, { maxWarnings: 10_000 });
  const withXer = await ourXer(bytes, certificate, true);
  // parameters NULL, re-encoded: 05 82 00 00
  assert.match(withXer, /<parameters>05 82 00 00<\/parameters>/);
  assert.ok(plain.warnings > 0);
  if (!requireTools(t)) return;
  const theirs = theirXer(asn1cConverter(fixturePath('PKIX1Explicit88-asn1c.asn'), 'Certificate', ['-fwide-types']), bytes, 'long-lengths');
  // Serial numbers apart: asn1c writes this one in colon hex (see xer-certificates-asn1c.test.ts).
  const serial = /<serialNumber>[^<]*<\/serialNumber>/;
  assertSameXer(withXer.replace(serial, ''), theirs.replace(serial, ''), 'long-lengths certificate');
});

test('LDAP: lengths of string segments and of values the validator skips are reported as --no-schema reports them', async () => {
  const { bytes, needless } = longLengths(bind);
  const schema = await validateBer(bytes, ldapMessage);
  assert.equal(schema.valid, true);
  assert.equal(schema.warnings, needless);
  assert.deepEqual(headerFindings(schema.diagnostics), headerFindings((await checkX690(bytes)).diagnostics));
  // Hand-built: a bindRequest whose name is a constructed OCTET STRING, its first segment's length in 2 octets (81 02)
  const segmented = hex('30 16 02 01 01 60 11 02 01 03 24 80 04 81 02 61 62 04 01 63 00 00 80 00');
  const s = await validateBer(segmented, ldapMessage);
  assert.equal(s.valid, true);
  assert.deepEqual(headerFindings(s.diagnostics), ['warning X690_LENGTH_FORM @13']);
  assert.deepEqual(headerFindings(s.diagnostics), headerFindings((await checkX690(segmented)).diagnostics));
  // Hand-built: after unbindRequest, a [127] value that is no component of LDAPMessage (skipped), length 1 in 4 octets
  const skipped = hex('30 0c 02 01 01 42 00 9f 7f 83 00 00 01 00');
  const r = await validateBer(skipped, ldapMessage);
  assert.deepEqual(headerFindings(r.diagnostics), ['warning X690_LENGTH_FORM @9']);
  assert.deepEqual(headerFindings(r.diagnostics), headerFindings((await checkX690(skipped)).diagnostics));
});

test('a needlessly long identifier is an error in both, at the identifier', async () => {
  // messageID as 1F 02 (INTEGER in the high-tag-number form)
  const bytes = hex('30 06 1f 02 01 01 42 00');
  const r = await validateBer(bytes, ldapMessage);
  assert.deepEqual(headerFindings(r.diagnostics), ['error X690_TAG_FORM @2']);
  assert.deepEqual(headerFindings(r.diagnostics), headerFindings((await checkX690(bytes)).diagnostics));
});

test('putHeader rebuilds any header byte for byte: padded tag numbers and lengths, indefinite lengths', () => {
  const header = fc.record({
    cls: fc.constantFrom(0x00, 0x40, 0x80, 0xc0),
    constructed: fc.boolean(),
    number: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 40 })),
    highForm: fc.boolean(),
    tagPad: fc.integer({ min: 0, max: 2 }),
    length: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 48 }), fc.constant(INDEFINITE)),
    lengthPad: fc.integer({ min: 0, max: 3 }),
  });
  fc.assert(fc.property(header, (h) => {
    // Built independently of putHeader: identifier, then length octets.
    const bytes: number[] = [];
    const first = h.cls | (h.constructed ? 0x20 : 0);
    if (h.number < 31 && !h.highForm) bytes.push(first | h.number);
    else {
      const digits: number[] = [];
      for (let v = h.number; ; v = Math.floor(v / 128)) {
        digits.unshift(v % 128);
        if (v < 128) break;
      }
      for (let i = 0; i < h.tagPad; i++) digits.unshift(0);
      bytes.push(first | 0x1f, ...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d)));
    }
    if (h.length === INDEFINITE) bytes.push(0x80);
    else if (h.length < 128 && h.lengthPad === 0) bytes.push(h.length);
    else {
      const octets: number[] = [];
      for (let v = h.length; v > 0; v = Math.floor(v / 256)) octets.unshift(v % 256);
      for (let i = 0; i < h.lengthPad; i++) octets.unshift(0);
      if (octets.length === 0) octets.push(0);
      bytes.push(0x80 | octets.length, ...octets);
    }
    const input = Uint8Array.from(bytes);
    const parsed = newHeader();
    const n = parseHeader(input, 0, input.length, parsed);
    assert.equal(n, input.length);
    const out = new Uint8Array(MAX_HEADER_BYTES);
    const end = putHeader({ ...parsed, offset: 0, tagName: '' }, out, 0);
    assert.deepEqual(out.subarray(0, end), input);
  }), { numRuns: 2000 });
});

test('vmstream validate with a schema prints the warning with its offset and path, and exits 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vms-header-forms-'));
  try {
    const file = join(dir, 'segmented.ber');
    writeFileSync(file, hex('30 16 02 01 01 60 11 02 01 03 24 80 04 81 02 61 62 04 01 63 00 00 80 00'));
    const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const r = spawnSync(process.execPath, [main, 'validate', '--schema', fixturePath('LDAPv3.asn'), '--type', 'LDAPMessage', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /warning X690_LENGTH_FORM at byte 13 \(0xd\) in LDAPMessage\.protocolOp\.bindRequest\.name: OCTET STRING length 2 is encoded in 2 octets where 1 suffice/);
    assert.match(r.stdout, /valid \(.*1 warning/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
