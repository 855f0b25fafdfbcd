/** The XER writer: asn1c's layout, escapes, hex lines, absent DEFAULTs, and streaming of long values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelWriter } from '../../src/channel/writer.js';
import { ChannelReader } from '../../src/channel/reader.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { compileAsn1 } from '../../src/asn1/compile.js';
import { loadSchema, validateBer } from '../../src/asn1/validate/index.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import type { AsnType } from '../../src/asn1/types.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex'));
const migration = loadSchema([]).type;

async function xer(ber: Uint8Array | ChannelReader, type: AsnType): Promise<string> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new XerWriter(out);
  const r = await validateBer(ber, type, { observer: w });
  assert.deepEqual(r.diagnostics, []);
  await w.finish();
  await out.close();
  return Buffer.from(sink.bytes()).toString('utf8');
}

const tlv = (tag: number[], content: Uint8Array): Uint8Array => {
  const n = content.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : n < 65536 ? [0x82, n >> 8, n & 255] : [0x83, n >> 16, (n >> 8) & 255, n & 255];
  return Uint8Array.from([...tag, ...len, ...content]);
};
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const stream = (records: Uint8Array): Uint8Array =>
  tlv([0x7f, 0xd6, 0xcd, 0x53], cat(tlv([0xa0], hex('80 01 01 81 01 03')), tlv([0xa1], records)));

test('layout: 4-space indentation, components, alternatives, NULL as an empty pair', async () => {
  const doc = await xer(stream(cat(tlv([0xa0], tlv([0x80], Buffer.from('pc'))), hex('86 00'))), migration);
  assert.equal(doc, [
    '<MigrationStream>',
    '    <header>',
    '        <formatVersion>1</formatVersion>',
    '        <qemuFileVersion>3</qemuFileVersion>',
    '    </header>',
    '    <records>',
    '        <configuration>',
    '            <machineType>pc</machineType>',
    '        </configuration>',
    '        <eof></eof>',
    '    </records>',
    '</MigrationStream>',
    '',
  ].join('\n'));
});

test('text: & < > escaped, control characters as X.693 elements, TAB LF CR and UTF-8 kept', async () => {
  const name = Uint8Array.from([0x61, 0x01, 0x0a, 0x09, 0x0d, 0x26, 0x3c, 0x3e, 0x1b, 0xc3, 0xa9]);
  const doc = await xer(stream(tlv([0xa0], tlv([0x80], name))), migration);
  assert.match(doc, /<machineType>a<soh\/>\n\t\r&amp;&lt;&gt;<esc\/>é<\/machineType>/);
});

test('OCTET STRING: up to 16 bytes inline, longer ones 16 uppercase bytes a line; absent fill shown, footer not', async () => {
  // sectionPart [3] { sectionId [0] 2, body [1] EXPLICIT ram [1] { zeroPages, pages with 20 bytes } }
  const data = Uint8Array.from({ length: 20 }, (_, i) => i * 13);
  const zero = tlv([0xa1], hex('80 02 70 63  81 01 00  82 01 01')); // block "pc", offset 0, count 1 (fill absent)
  const pages = tlv([0xa2], cat(hex('81 01 00'), tlv([0x82], data)));
  const part = tlv([0xa3], cat(hex('80 01 02'), tlv([0xa1], tlv([0xa1], cat(zero, pages)))));
  const doc = await xer(stream(part), migration);
  assert.match(doc, /<count>1<\/count>\n {24}<fill>0<\/fill>\n/);
  assert.doesNotMatch(doc, /<footer>/);
  // asn1c's own layout, trailing spaces included
  assert.match(doc, /<data>\n {28}00 0D 1A 27 34 41 4E 5B 68 75 82 8F 9C A9 B6 C3 \n {28}D0 DD EA F7 \n {24}<\/data>/);
  const short = await xer(stream(tlv([0xa1], hex('80 01 07  81 03 aa bb cc'))), migration);
  assert.match(short, /<payload>AA BB CC<\/payload>/);
});

test('INTEGER, BOOLEAN, ENUMERATED, OBJECT IDENTIFIER and BIT STRING forms', async () => {
  const c = compileAsn1([{ text: `M DEFINITIONS IMPLICIT TAGS ::= BEGIN
    S ::= SEQUENCE { i INTEGER, big INTEGER, b BOOLEAN, e ENUMERATED { red(0), green(1) }, o OBJECT IDENTIFIER, bits BIT STRING, list SEQUENCE OF INTEGER }
  END` }]);
  const doc = await xer(hex('30 28 02 01 fb  02 09 00 ff ff ff ff ff ff ff ff  01 01 ff  0a 01 01  06 06 2a 86 48 86 f7 0d  03 02 06 c0  30 06 02 01 01 02 01 02'), c.type('S')!);
  assert.match(doc, /<i>-5<\/i>/);
  assert.match(doc, /<big>18446744073709551615<\/big>/);
  assert.match(doc, /<b><true\/><\/b>/);
  assert.match(doc, /<e><green\/><\/e>/);
  assert.match(doc, /<o>1\.2\.840\.113549<\/o>/);
  // asn1c's BIT STRING layout: binary digits on lines of their own (64 a line)
  assert.match(doc, /<bits>\n {8}11\n {4}<\/bits>/);
  assert.match(doc, /<list>\n {8}<INTEGER>1<\/INTEGER>\n {8}<INTEGER>2<\/INTEGER>\n {4}<\/list>/);
});

test('a long OCTET STRING arriving in pieces gives the same XER as in one piece', async () => {
  const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255);
  const ber = stream(tlv([0xa1], cat(hex('80 01 07'), tlv([0x81], data))));
  const whole = await xer(ber, migration);
  const pieces = await xer(new ChannelReader(new MemorySource(ber, 777), { bufferSize: 4096 }), migration);
  assert.equal(pieces, whole);
  // payload sits 3 levels deep, so its hex lines are indented by 4 levels: 18,750 full lines
  assert.equal(whole.split('\n').filter((l) => /^ {16}([0-9A-F]{2} ){16}$/.test(l)).length, 300_000 / 16);
});
