/** The schema-free X.690 check: each universal type's rules, forms, resync, caps and chunking. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/index.js';
import { formatPath } from '../../src/errors.js';
import { checkX690, type X690Options, type X690Report } from '../../src/asn1/x690/index.js';
import { encodeReal } from '../../src/format/ber/index.js';
import { streamSource, unhex } from '../format/ber/support.js';

const check = (s: string | Uint8Array, opts: X690Options = {}): Promise<X690Report> => checkX690(typeof s === 'string' ? unhex(s) : s, opts);
const tlv = (tag: number, contents: Uint8Array | number[] | string): string => {
  const c = typeof contents === 'string' ? Buffer.from(contents, 'latin1') : Buffer.from(contents);
  return Buffer.from([tag, c.length, ...c]).toString('hex');
};

/** Asserts the findings as `severity code @offset path` lines. */
async function findings(input: string | Uint8Array, want: string[], opts: X690Options = {}): Promise<X690Report> {
  const r = await check(input, opts);
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.severity} ${d.code} @${d.offset} ${formatPath(d.path)}`.trimEnd()),
    want,
    r.diagnostics.map((d) => d.message).join('\n'),
  );
  assert.equal(r.valid, !want.some((w) => w.startsWith('error')));
  return r;
}

test('well-formed values of every checked type give no findings', async () => {
  const ok = [
    tlv(0x01, [0x01]), // BOOLEAN: any non-zero octet is TRUE in BER
    tlv(0x05, []),
    tlv(0x02, [0x00, 0x80]), // 128 needs its 00
    tlv(0x02, [0xff, 0x7f]), // -129 needs its FF
    tlv(0x0a, [0x05]),
    tlv(0x06, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
    tlv(0x0d, [0xc2, 0x7b, 0x03]),
    ...[0, 1, -2.5, 1e300, Infinity, NaN, -0].map((v) => tlv(0x09, encodeReal(v))),
    tlv(0x09, [0x01, ...Buffer.from('  -12')]), // NR1
    tlv(0x09, [0x02, ...Buffer.from('1,5')]), // NR2
    tlv(0x09, [0x03, ...Buffer.from('1.5E-3')]), // NR3
    tlv(0x09, [0x83, 0x01, 0x05, 0x01]), // binary, exponent length in its own octet
    tlv(0x03, [0x00]), // empty BIT STRING
    tlv(0x03, [0x05, 0xa0]),
    tlv(0x0c, 'caf\u00c3\u00a9'), // "café" in UTF-8
    tlv(0x16, 'pc.ram'),
    tlv(0x12, '123 45'),
    tlv(0x13, "A-Za-z0 '()+,./:=?"),
    tlv(0x17, '991231235959Z'),
    tlv(0x17, '9912312359+0100'),
    tlv(0x18, '20261126074500.123Z'),
    tlv(0x18, '2026112607'),
    tlv(0x1e, [0x00, 0x41]),
    '23 80 03 02 00 ff 03 02 03 a0 00 00', // constructed BIT STRING: only the last has unused bits
    '24 80 04 01 aa 24 03 04 01 bb 00 00', // nested constructed OCTET STRING
    '2c 80 04 01 c3 04 01 a9 00 00', // constructed UTF8String: OCTET STRING segments, a character split across them
    '30 80 a1 03 02 01 00 7f c5 52 00 00 00', // context and application tags are not checked for content
  ];
  const r = await findings(unhex(`30 80 ${ok.join('')} 00 00`), []);
  assert.equal(r.complete, true);
});

test('BOOLEAN, NULL, INTEGER and ENUMERATED rules', async () => {
  await findings(`30 80 ${tlv(0x01, [])} ${tlv(0x01, [0xff, 0])} ${tlv(0x05, [0])} 00 00`, [
    'error X690_BOOLEAN @2 SEQUENCE[0]',
    'error X690_BOOLEAN @4 SEQUENCE[1]',
    'error X690_NULL @8 SEQUENCE[2]',
  ]);
  await findings(`30 80 ${tlv(0x02, [])} ${tlv(0x02, [0, 0x7f])} ${tlv(0x02, [0xff, 0x80])} ${tlv(0x0a, [0, 1])} 00 00`, [
    'error X690_INTEGER @2 SEQUENCE[0]',
    'error X690_INTEGER @4 SEQUENCE[1]',
    'error X690_INTEGER @8 SEQUENCE[2]',
    'error X690_INTEGER @12 SEQUENCE[3]',
  ]);
});

test('OBJECT IDENTIFIER and RELATIVE-OID subidentifiers', async () => {
  await findings(tlv(0x06, []), ['error X690_OID @0']);
  await findings(tlv(0x06, [0x2a, 0x80, 0x01]), ['error X690_OID @3']); // offset of the 0x80 octet
  await findings(tlv(0x0d, [0x01, 0x86]), ['error X690_OID @3']); // its last octet has bit 8 set
});

test('REAL forms (X.690 8.5.7-8.5.9)', async () => {
  const bad = [
    [0xb0, 0x00, 0x01], // reserved base
    [0x44], // unknown special value
    [0x40, 0x00], // special value with extra octets
    [0x04, 0x31], // reserved decimal form
    [0x01, ...Buffer.from('1.5')], // NR1 has no decimal mark
    [0x80, 0x01], // no mantissa
    [0x83, 0x00, 0x01], // zero exponent length
    [0x83, 0x02, 0x00, 0x01, 0x01], // exponent with a redundant leading octet
  ];
  const r = await check(`30 80 ${bad.map((c) => tlv(0x09, c)).join('')} 00 00`);
  assert.deepEqual(r.diagnostics.map((d) => d.code), bad.map(() => 'X690_REAL'));
});

test('BIT STRING rules, primitive and constructed', async () => {
  await findings(`30 80 ${tlv(0x03, [])} ${tlv(0x03, [8, 0])} ${tlv(0x03, [3])} 00 00`, [
    'error X690_BIT_STRING @2 SEQUENCE[0]',
    'error X690_BIT_STRING @4 SEQUENCE[1]',
    'error X690_BIT_STRING @8 SEQUENCE[2]',
  ]);
  await findings('23 80 03 02 03 a0 03 02 00 ff 00 00', ['error X690_BIT_STRING @2 BIT STRING[0]']);
  await findings('23 80 03 00 00 00', ['error X690_BIT_STRING @2 BIT STRING[0]']);
});

test('constructed strings: segments must be of the type X.690 names', async () => {
  await findings('24 80 02 01 00 00 00', ['error X690_SEGMENT @2 OCTET STRING[0]']);
  await findings('2c 80 0c 01 41 00 00', ['error X690_SEGMENT @2 UTF8String[0]']); // restricted strings take OCTET STRING segments
  await findings('23 80 04 01 00 00 00', ['error X690_SEGMENT @2 BIT STRING[0]']);
  await findings('24 80 24 80 05 00 00 00 00 00', ['error X690_SEGMENT @4 OCTET STRING[0].OCTET STRING[0]']);
  // A time split into segments is checked as a whole.
  await findings('37 80 04 04 39 39 31 32 04 09 33 31 32 33 35 39 35 39 5a 00 00', []);
  await findings('37 80 04 04 39 39 31 33 04 09 33 31 32 33 35 39 35 39 5a 00 00', ['error X690_TIME @0']); // month 13
});

test('universal types in the wrong form', async () => {
  await findings('22 03 02 01 00', ['error X690_WRONG_FORM @0']); // constructed INTEGER
  await findings('30 80 10 00 11 00 00 00', ['error X690_WRONG_FORM @2 SEQUENCE[0]', 'error X690_WRONG_FORM @4 SEQUENCE[1]']);
});

test('times and character sets', async () => {
  const bad = [
    tlv(0x17, '991331235959Z'), // month 13
    tlv(0x17, '9912312359'), // no zone
    tlv(0x18, '20261126074500.Z'), // empty fraction
    tlv(0x18, '2026112625Z'), // hour 25
    tlv(0x13, 'a@b'),
    tlv(0x16, [0x41, 0x80]),
    tlv(0x12, '12a'),
    tlv(0x1a, [0x41, 0x07]),
    tlv(0x0c, [0xc0, 0x80]), // overlong
    tlv(0x0c, [0xed, 0xa0, 0x80]), // surrogate
    tlv(0x0c, [0x41, 0xe2, 0x82]), // ends inside a character
    tlv(0x1e, [0x00]),
    tlv(0x1c, [0, 0, 0x41]),
  ];
  const r = await check(`30 80 ${bad.join('')} 00 00`);
  assert.deepEqual(r.diagnostics.map((d) => d.code), [...Array(4).fill('X690_TIME'), ...Array(9).fill('X690_CHARACTERS')]);
  // The offending octet is named: '@' is the second content octet of the PrintableString.
  const printable = r.diagnostics[4]!;
  assert.equal(printable.actual, '0x40');
});

test('identifier forms are errors and the check resyncs after them; long lengths are warnings', async () => {
  await findings('30 80 1f 02 02 00 7f 05 00 00 00', ['error X690_TAG_FORM @2 SEQUENCE[0]', 'error X690_INTEGER @2 SEQUENCE[0]']);
  await findings('5f 80 1f 00', ['error X690_TAG_FORM @0']); // leading 0x80 in a high tag number
  const r = await findings('04 81 01 aa 04 83 00 00 01 bb', ['warning X690_LENGTH_FORM @1', 'warning X690_LENGTH_FORM @5']);
  assert.equal(r.warnings, 2);
});

test('framing errors stop the check with one error and complete = false', async () => {
  const cases: [string, string][] = [
    ['30 05 04 05 01 02 03', 'X690_FRAMING'],
    ['30 80 02 01 00', 'X690_TRUNCATED'],
    ['04 80 00 00', 'X690_FRAMING'],
    ['30 80'.repeat(2000), 'X690_LIMIT'],
    ['', 'X690_EMPTY'],
  ];
  for (const [hex, code] of cases) {
    const r = await check(hex);
    assert.equal(r.errors, 1, hex.slice(0, 30));
    assert.equal(r.diagnostics[0]!.code, code);
    if (code !== 'X690_EMPTY') assert.equal(r.complete, false);
  }
  const deep = await check('30 80'.repeat(20), { maxDepth: 5 });
  assert.equal(deep.diagnostics[0]!.offset, 10);
});

test('maxErrors stops the check; maxWarnings caps what is kept but all are counted', async () => {
  const many = `30 80 ${tlv(0x01, []).repeat(10)} 00 00`;
  const r = await check(many, { maxErrors: 3 });
  assert.equal(r.errors, 3);
  assert.equal(r.diagnostics.length, 3);
  assert.equal(r.complete, false);
  const w = await check('04 81 00'.repeat(10), { maxWarnings: 2 });
  assert.equal(w.warnings, 10);
  assert.equal(w.diagnostics.length, 2);
  assert.equal(w.valid, true);
});

test('1-, 2- and 7-byte pieces give the same findings; long values are checked in pieces', async () => {
  const sample = unhex(
    `30 80 ${tlv(0x02, [0, 1])} 1f 02 01 00 ${tlv(0x06, [0x2a, 0x80])} 2c 80 04 01 c3 04 01 28 00 00 ${tlv(0x17, '99')} 04 81 01 aa 00 00`,
  );
  const key = (r: X690Report): string[] => r.diagnostics.map((d) => `${d.code}@${d.offset} ${formatPath(d.path)}`);
  const whole = key(await check(sample));
  assert.equal(whole.length, 6);
  for (const piece of [1, 2, 7]) {
    assert.deepEqual(key(await checkX690(new ChannelReader(streamSource(sample, piece), { bufferSize: 16 }))), whole, `piece ${piece}`);
  }
  // A 100 KB UTF8String (longer than the reader's whole-value limit) with 3-octet characters,
  // fed in 7-byte pieces, and a bad octet near its end.
  const text = Buffer.from('\u20ac'.repeat(33_000) + 'x', 'utf8');
  text[text.length - 1] = 0xff;
  const big = unhex(`0c 83 ${text.length.toString(16).padStart(6, '0')} ${text.toString('hex')}`);
  const r = await checkX690(new ChannelReader(streamSource(big, 7), { bufferSize: 4096 }));
  assert.deepEqual(key(r), [`X690_CHARACTERS@${big.length - 1} `]);
});
