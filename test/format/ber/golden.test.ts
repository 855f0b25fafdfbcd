/** Golden X.690 byte vectors for tags, lengths and primitive contents, written and read back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TagClass, UniversalTag, berTag, decodeIntegerBig, decodeIntegerSafe, decodeOid, decodeReal, encodeOid, encodeReal,
  integerSize, lengthSize, newHeader, parseHeader, putLength, putTag, tagSize, tlvSize, INDEFINITE, HeaderStatus,
} from '../../../src/format/ber/index.js';
import { encode, events, hex, unhex } from './support.js';

test('length octets: short, long and indefinite forms (X.690 8.1.3)', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [0x7f, '7f'], // largest short form
    [0x80, '8180'], // smallest long form: 0x81 = one length octet follows
    [0xff, '81ff'],
    [0x100, '820100'], // two length octets
    [0x10000, '83010000'],
    [2 ** 32, '850100000000'], // beyond 32 bits
    [INDEFINITE, '80'],
  ];
  for (const [len, want] of cases) {
    const out = new Uint8Array(16);
    const end = putLength(out, 0, len);
    assert.equal(hex(out.subarray(0, end)), want, `length ${len}`);
    if (len !== INDEFINITE) assert.equal(lengthSize(len), end);
  }
});

test('identifier octets: low and high tag number forms (X.690 8.1.2)', () => {
  const cases: [TagClass, boolean, number, string][] = [
    [TagClass.Universal, false, 2, '02'], // INTEGER
    [TagClass.Universal, true, 16, '30'], // SEQUENCE, constructed bit 0x20
    [TagClass.Context, false, 30, '9e'], // largest low form
    [TagClass.Context, false, 31, '9f1f'], // smallest high form: 0x1F then 31
    [TagClass.Application, false, 201, '5f8149'], // 201 = 1*128 + 73: 0x81 0x49
    [TagClass.Application, true, 8914, '7fc552'], // Dave Gilbert's RAMSecEntry: bytes read "ER"
    [TagClass.Private, false, 2 ** 35, 'df818080808000'], // 36 bits: six 7-bit groups,
  ];
  for (const [cls, cons, num, want] of cases) {
    const out = new Uint8Array(16);
    const end = putTag(out, 0, cls, cons, num);
    assert.equal(hex(out.subarray(0, end)), want, `tag ${num}`);
    assert.equal(tagSize(num), end);
    const h = newHeader();
    const bytes = Uint8Array.from([...out.subarray(0, end), 0x00]);
    assert.equal(parseHeader(bytes, 0, bytes.length, h), end + 1);
    assert.deepEqual([h.cls, h.constructed, h.number, h.length, h.tagNonMinimal], [cls, cons, num, 0, false]);
  }
});

test('parseHeader reports short input, reserved and oversized lengths, and non-minimal tags', () => {
  const h = newHeader();
  const p = (s: string): number => {
    const b = unhex(s);
    return parseHeader(b, 0, b.length, h);
  };
  assert.equal(p(''), HeaderStatus.Short);
  assert.equal(p('1f81'), HeaderStatus.Short);
  assert.equal(p('0482ff'), HeaderStatus.Short);
  assert.equal(p('04ff'), HeaderStatus.LengthReserved);
  assert.equal(p('04884000000000000000'), HeaderStatus.LengthTooLarge); // 2^62
  assert.equal(p('1f' + '81'.repeat(12) + '01'), HeaderStatus.TagTooLong);
  assert.equal(p('04820001'), 4); // long form with a leading zero octet: legal BER
  assert.equal(h.length, 1);
  assert.equal(p('1f0500'), 3); // high form for 5
  assert.equal(h.tagNonMinimal, true);
  assert.equal(p('1f801f00'), 4); // leading 0x80
  assert.equal(h.tagNonMinimal, true);
});

test('INTEGER contents: minimal two\'s complement (X.690 8.3)', async () => {
  const cases: [number | bigint, string][] = [
    [0, '020100'],
    [127, '02017f'],
    [128, '02020080'], // needs a 00 so bit 8 is not a sign bit
    [256, '02020100'],
    [-128, '020180'],
    [-129, '0202ff7f'],
    [-1, '0201ff'],
    [Number.MAX_SAFE_INTEGER, '02071fffffffffffff'],
    [2n ** 63n, '0209008000000000000000'], // a uint64 with its top bit set
    [-(2n ** 63n), '02088000000000000000'],
    [-1n, '0201ff'],
    [0n, '020100'],
  ];
  for (const [v, want] of cases) {
    assert.equal(hex(await encode((w) => w.integer(v))), want, `INTEGER ${v}`);
    const contents = unhex(want).subarray(2);
    assert.equal(integerSize(v), contents.length);
    assert.equal(decodeIntegerBig(contents), BigInt(v));
    const safe = decodeIntegerSafe(contents);
    if (typeof v === 'number') assert.equal(safe, v);
  }
  assert.equal(decodeIntegerSafe(unhex('0209008000000000000000').subarray(2)), undefined);
  await assert.rejects(encode((w) => w.integer(2 ** 60)), { code: 'E_USAGE' });
});

test('BOOLEAN, NULL, OCTET STRING, strings, ENUMERATED, BIT STRING', async () => {
  assert.equal(hex(await encode((w) => w.boolean(true))), '0101ff');
  assert.equal(hex(await encode((w) => w.boolean(false))), '010100');
  assert.equal(hex(await encode((w) => w.null())), '0500');
  assert.equal(hex(await encode((w) => w.octetString(unhex('0123')))), '04020123');
  assert.equal(hex(await encode((w) => w.utf8String('é'))), '0c02c3a9');
  assert.equal(hex(await encode((w) => w.ia5String('pc.ram'))), '16067063 2e72616d'.replace(' ', ''));
  assert.equal(hex(await encode((w) => w.enumerated(3))), '0a0103');
  assert.equal(hex(await encode((w) => w.bitString(unhex('a0'), 5))), '030205a0');
  await assert.rejects(encode((w) => w.ia5String('é')), { code: 'E_USAGE' });
  await assert.rejects(encode((w) => w.bitString(new Uint8Array(0), 1)), { code: 'E_USAGE' });
});

test('OBJECT IDENTIFIER and RELATIVE-OID (X.690 8.19, 8.20)', async () => {
  assert.equal(hex(await encode((w) => w.oid('1.2.840.113549'))), '06062a864886f70d');
  assert.equal(hex(await encode((w) => w.oid('2.999.3'))), '0603883703'); // 80 + 999 = 1079 = 0x88 0x37
  assert.equal(hex(await encode((w) => w.relativeOid([8571, 3, 2]))), '0d04c27b0302');
  assert.equal(decodeOid(encodeOid('1.2.840.113549')), '1.2.840.113549');
  assert.equal(decodeOid(encodeOid('2.999.3')), '2.999.3');
  assert.equal(decodeOid(encodeOid('8571.3.2', true), true), '8571.3.2');
  assert.throws(() => decodeOid(unhex('2a8048')), { code: 'E_BER' }); // subidentifier starting 0x80
  assert.throws(() => decodeOid(unhex('2a86')), { code: 'E_BER' }); // last octet has bit 8 set
  assert.throws(() => encodeOid('3.1'), { code: 'E_USAGE' });
});

test('REAL: binary base 2 with an odd mantissa, and special values (X.690 8.5)', async () => {
  assert.equal(hex(await encode((w) => w.real(0))), '0900');
  assert.equal(hex(await encode((w) => w.real(1))), '0903800001'); // 1 * 2^0
  assert.equal(hex(await encode((w) => w.real(0.5))), '090380ff01'); // 1 * 2^-1
  assert.equal(hex(await encode((w) => w.real(-3))), '0903c00003'); // sign bit 0x40
  assert.equal(hex(await encode((w) => w.real(Infinity))), '090140');
  assert.equal(hex(await encode((w) => w.real(-Infinity))), '090141');
  assert.equal(hex(await encode((w) => w.real(NaN))), '090142');
  assert.equal(hex(await encode((w) => w.real(-0))), '090143');
  for (const v of [0, 1, -1, 0.1, 1e300, -2.5e-308, 5e-324, Math.PI, 2 ** 60, -0, Infinity]) {
    assert.ok(Object.is(decodeReal(encodeReal(v)), v), `REAL ${v}`);
  }
  assert.ok(Number.isNaN(decodeReal(encodeReal(NaN))));
  assert.equal(decodeReal(Uint8Array.from([0x03, ...Buffer.from('12.5E1')])), 125); // decimal NR3
  assert.equal(decodeReal(unhex('90fe03')), 3 * 8 ** -2); // base 8
});

test('an indefinite-length SEQUENCE and high tags decode to the expected events', async () => {
  const bytes = unhex(
    '30 80' + //        SEQUENCE, indefinite
      '02 01 05' + //   INTEGER 5
      '7f c5 52 03' + // [APPLICATION 8914] constructed, length 3
      '9f 1f 00' + //   [31] primitive, empty
      '00 00', //       end-of-contents
  );
  assert.deepEqual(await events(bytes), [
    'S SEQUENCE @0 h2 l=inf d0 i0',
    'P INTEGER @2 h2 l=1 d1 i0 05',
    'S [APPLICATION 8914] @5 h4 l=3 d1 i1',
    'P [31] @9 h3 l=0 d2 i0 ',
    'E [APPLICATION 8914] @5 end=12 d1',
    'E SEQUENCE @0 end=14 d0',
  ]);
});

test('tlvSize lets definite containers be written without encoding twice', async () => {
  const page = new Uint8Array(300).fill(7);
  const inner = tlvSize(UniversalTag.Integer, integerSize(4096)) + tlvSize(UniversalTag.OctetString, page.length);
  const bytes = await encode((w) => {
    w.startDefinite(berTag(TagClass.Application, 9040), inner).integer(4096).octetString(page).end();
  });
  assert.equal(bytes.length, tlvSize(berTag(TagClass.Application, 9040), inner));
  assert.equal(hex(bytes.subarray(0, 12)), '7fc650' + '820134' + '02021000' + '0482'); // 4 + 4 + 300 = 308 = 0x134
});
