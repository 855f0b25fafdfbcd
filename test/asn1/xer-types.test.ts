/**
 * The XER of ANY, BIT STRING, REAL, BMPString and UniversalString where asn1c cannot be the judge
 * (it refuses constructed character strings) or where we deliberately leave its output (surrogates,
 * characters beyond U+10FFFF), and streaming: values read in pieces give the same document.
 * The asn1c comparisons themselves are in xer-types-asn1c.test.ts. BER here is hand-built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { compileAsn1 } from '../../src/asn1/compile.js';
import { validateBer } from '../../src/asn1/validate/index.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import { realText } from '../../src/asn1/xer/scalar-text.js';
import type { AsnType } from '../../src/asn1/types.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex'));
const module = compileAsn1([{ text: `M DEFINITIONS IMPLICIT TAGS ::= BEGIN
  V ::= CHOICE { bits BIT STRING, bmp BMPString, univ UniversalString, real REAL, any [0] ANY, os OCTET STRING }
  L ::= SEQUENCE OF V
END` }]);
const L = module.type('L')!;

async function xer(ber: Uint8Array | ChannelReader, type: AsnType = L): Promise<string> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new XerWriter(out);
  const r = await validateBer(ber, type, { observer: w });
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  await w.finish();
  await out.close();
  return Buffer.from(sink.bytes()).toString('utf8');
}

const pieces = (ber: Uint8Array): ChannelReader => new ChannelReader(new MemorySource(ber, 777), { bufferSize: 4096 });
const tlv = (tag: number[], content: Uint8Array): Uint8Array => {
  const n = content.length;
  const len = n < 128 ? [n] : n < 65536 ? [0x82, n >> 8, n & 255] : [0x83, n >> 16, (n >> 8) & 255, n & 255];
  return Uint8Array.from([...tag, ...len, ...content]);
};
const list = (...values: Uint8Array[]): Uint8Array => tlv([0x30], Uint8Array.from(values.flatMap((v) => [...v])));

test('REAL text: glibc %.15f with trailing zeros cut, ties to even, exact digits for large values', () => {
  assert.equal(realText(0), '0');
  assert.equal(realText(-0), '-0');
  assert.equal(realText(1), '1.0');
  assert.equal(realText(-2.5), '-2.5');
  assert.equal(realText(0.1), '0.1');
  assert.equal(realText(2 / 3), '0.666666666666667');
  assert.equal(realText(1 / 65536), '0.000015258789062'); // 0.0000152587890625: a tie, rounded to even (toFixed says ...063)
  assert.equal(realText(3 / 65536), '0.000045776367188'); // 0.0000457763671875: a tie, up to even
  assert.equal(realText(-1e-20), '-0.0');
  assert.equal(realText(2 ** 70), '1180591620717411303424.0'); // past toFixed's 1e21 limit
  assert.equal(realText(NaN), '<NOT-A-NUMBER/>');
  assert.equal(realText(-Infinity), '<MINUS-INFINITY/>');
});

test('REAL contents that do not decode are shown in hex (the validator reports them)', async () => {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new XerWriter(out);
  const r = await validateBer(list(hex('09 01 30')), L, { observer: w }); // decimal form 0 is reserved
  await w.finish();
  await out.close();
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['X690_REAL']);
  assert.match(Buffer.from(sink.bytes()).toString('utf8'), /<real>30<\/real>/);
});

test('BIT STRING: 64 digits a line, the last octet less its unused bits ends the last line', async () => {
  const doc = await xer(list(hex('03 01 00'), hex('03 02 07 80'), hex('03 0a 03  ff 00 ff 00 ff 00 ff 00  a8')));
  assert.equal(doc, [
    '<L>',
    '    <bits>',
    '        ',
    '    </bits>',
    '    <bits>',
    '        1',
    '    </bits>',
    '    <bits>',
    '        1111111100000000111111110000000011111111000000001111111100000000' + '10101', // A8 less 3 bits
    '    </bits>',
    '</L>',
    '',
  ].join('\n'));
});

test('BIT STRING: constructed, and long ones read in pieces, give what one primitive gives', async () => {
  const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 29 + 3) & 255); // over 64 KiB: delivered in pieces
  const primitive = list(tlv([0x03], Uint8Array.from([5, ...data])));
  const whole = await xer(primitive);
  assert.equal(await xer(pieces(primitive)), whole);
  // Hand-built constructed form: three segments, unused bits only in the last
  const seg = (unused: number, part: Uint8Array): number[] => [...tlv([0x03], Uint8Array.from([unused, ...part]))];
  const parts = [data.subarray(0, 33_333), data.subarray(33_333, 70_001), data.subarray(70_001)];
  const constructed = list(Uint8Array.from([0x23, 0x80, ...seg(0, parts[0]!), ...seg(0, parts[1]!), ...seg(5, parts[2]!), 0, 0]));
  assert.equal(await xer(pieces(constructed)), whole);
  assert.equal(whole.split('\n').filter((l) => /^ {8}[01]{64}$/.test(l)).length, Math.floor((data.length - 1) / 8));
});

test('BMPString and UniversalString: UTF-8, surrogate pairs joined, what is no character becomes U+FFFD', async () => {
  const doc = await xer(list(
    tlv([0x1e], hex('00 41 00 e9 20 ac d8 3d de 00 00 3c')), // A é € U+1F600 (as a pair) <
    tlv([0x1e], hex('d8 3d 00 41 de 00')), // a high surrogate without its low one, then a lone low one
    tlv([0x1c], hex('00 01 f6 00  00 11 00 00  00 00 d8 00  00 00 00 09')), // U+1F600, beyond U+10FFFF, a surrogate, TAB
  ));
  assert.match(doc, /<bmp>Aé€😀&lt;<\/bmp>/);
  assert.match(doc, /<bmp>\uFFFDA\uFFFD<\/bmp>/);
  assert.match(doc, /<univ>😀\uFFFD\uFFFD\t<\/univ>/);
});

test('BMPString: constructed, with a character split between segments, and long ones in pieces', async () => {
  // Hand-built constructed BMPString: segments 00 41 00 | e9 00 42 ("AéB")
  const doc = await xer(list(hex('3e 0a 04 03 00 41 00 04 03 e9 00 42')));
  assert.match(doc, /<bmp>AéB<\/bmp>/);
  const text = 'Ωμέγα & 😀 '.repeat(4000);
  const units = Buffer.from(text, 'utf16le').swap16();
  const ber = list(tlv([0x1e], Uint8Array.from(units)));
  const whole = await xer(ber);
  assert.equal(await xer(pieces(ber)), whole);
  assert.ok(whole.includes(`<bmp>${text.replace(/&/g, '&amp;')}</bmp>`));
});

test('ANY: the whole TLV as read (long tag and length forms kept), in pieces as whole', async () => {
  // A needlessly long length (a warning) and an indefinite SEQUENCE are kept byte for byte.
  const inner = hex('7f 81 48 83 00 00 03  02 01 07'); // [APPLICATION 200] constructed, length 3 in 4 octets, INTEGER 7
  const doc = await xer(list(tlv([0xa0], inner), tlv([0xa0], hex('30 80 05 00 00 00'))));
  assert.match(doc, /<any>7F 81 48 83 00 00 03 02 01 07<\/any>/);
  assert.match(doc, /<any>\n {8}30 80 05 00 00 00 \n {4}<\/any>/);
  const big = Uint8Array.from({ length: 80_000 }, (_, i) => (i * 13) & 255);
  const ber = list(tlv([0xa0], tlv([0x04], big)));
  const whole = await xer(ber);
  assert.equal(await xer(pieces(ber)), whole);
  assert.match(whole, /<any>\n {8}04 83 01 38 80 00 0D 1A 27 34 41 4E 5B 68 75 82 \n/);
});
