/**
 * The schema validator on vmstream's own schema: every fixture stream's BER is valid, and each
 * kind of violation gives its code, the byte offset, the schema path, and expected / found.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { ChannelReader } from '../../src/channel/reader.js';
import { formatPath } from '../../src/errors.js';
import { qemuToBer } from '../../src/stream/ber/convert.js';
import { loadSchema, validateBer, type ValidationReport } from '../../src/asn1/validate/index.js';

const QEMU = new URL('../../../test/fixtures/qemu/', import.meta.url);
const migration = loadSchema([]).type;

/** Hex with spaces and `#` comments to the end of a line. */
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex'));

const one = (r: ValidationReport) => {
  assert.equal(r.errors, 1, r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  const d = r.diagnostics[0]!;
  return { code: d.code, offset: d.offset, path: formatPath(d.path), expected: d.expected, actual: d.actual };
};

// A minimal MigrationStream: header, then records configuration and eof.
const HEADER = '80 01 01  81 01 03'; // formatVersion 1, qemuFileVersion 3
const minimal = (header = HEADER, records = 'a0 04 80 02 70 63  86 00') => {
  const h = hex(header);
  const r = hex(records);
  const hdr = [0xa0, h.length, ...h];
  const rec = [0xa1, r.length, ...r];
  return Uint8Array.from([0x7f, 0xd6, 0xcd, 0x53, hdr.length + rec.length, ...hdr, ...rec]);
};

for (const name of readdirSync(QEMU).filter((f) => f.endsWith('.mig')).sort()) {
  test(`the BER of ${name} is a valid MigrationStream, whole and in 4093-byte reads`, async () => {
    const sink = new MemorySink();
    await qemuToBer(new Uint8Array(readFileSync(new URL(name, QEMU))), sink);
    const ber = sink.bytes();
    const r = await validateBer(ber, migration);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.valid, true);
    assert.equal(r.complete, true);
    assert.equal(r.bytes, ber.length);
    const chunked = await validateBer(new ChannelReader(new MemorySource(ber, 4093), { bufferSize: 8192 }), migration);
    assert.equal(chunked.valid, true);
    assert.equal(chunked.values, r.values);
  });
}

test('a minimal stream is valid in every chunking', async () => {
  const b = minimal();
  for (const piece of [1, 2, 7, b.length]) {
    const r = await validateBer(new ChannelReader(new MemorySource(b, piece), { bufferSize: 16 }), migration);
    assert.equal(r.valid, true, `piece ${piece}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    assert.equal(r.values, 8);
  }
});

test('a wrong tag names the offset, the path and both tags', async () => {
  // formatVersion carries [5] instead of [0]
  const r = await validateBer(minimal('85 01 01  81 01 03'), migration);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.offset, formatPath(d.path), d.expected, d.actual]), [
    ['SCHEMA_TAG', 7, 'MigrationStream.header.formatVersion', '[0] (formatVersion)', '[5]'],
  ]);
  // A tag that is no component at all, after the last one:
  const u = one(await validateBer(minimal('80 01 01  81 01 03  9e 00'), migration));
  assert.deepEqual([u.code, u.offset, u.path, u.actual], ['SCHEMA_UNEXPECTED', 13, 'MigrationStream.header', '[30]']);
});

test('no CHOICE alternative for a tag: expected lists the alternatives', async () => {
  const d = one(await validateBer(minimal(HEADER, '88 00'), migration));
  assert.equal(d.code, 'SCHEMA_TAG');
  assert.equal(d.path, 'MigrationStream.records[0]');
  assert.match(d.expected!, /\[0\] \(configuration\).*\[6\] \(eof\)/);
  assert.equal(d.actual, '[8]');
});

test('missing, duplicate and out-of-order components', async () => {
  const missing = one(await validateBer(minimal('80 01 01'), migration));
  assert.deepEqual([missing.code, missing.path, missing.offset], ['SCHEMA_MISSING', 'MigrationStream.header', 10]);
  assert.match(missing.expected!, /qemuFileVersion \(\[1\]\)/);
  const dup = one(await validateBer(minimal('80 01 01  81 01 03  81 01 03'), migration));
  assert.deepEqual([dup.code, dup.offset], ['SCHEMA_DUPLICATE', 13]);
  const order = one(await validateBer(minimal('80 01 01  81 01 03  82 01 10  81 01 03'), migration));
  assert.deepEqual([order.code, order.offset], ['SCHEMA_ORDER', 16]);
});

test('value constraints: INTEGER (1..255), 64-bit bounds with bigint', async () => {
  const low = one(await validateBer(minimal('80 01 00  81 01 03'), migration));
  assert.deepEqual([low.code, low.path, low.expected, low.actual], ['SCHEMA_VALUE', 'MigrationStream.header.formatVersion', '1..255', '0']);
  // qemuFileVersion (0..4294967295) = 2^32 in 5 octets
  const big = one(await validateBer(minimal('80 01 01  81 05 01 00 00 00 00'), migration));
  assert.deepEqual([big.code, big.actual], ['SCHEMA_VALUE', '4294967296']);
  // Record eof [6] NULL under an implicit tag with contents: the X.690 NULL rule applies
  const nul = one(await validateBer(minimal(HEADER, '86 01 00'), migration));
  assert.equal(nul.code, 'X690_NULL');
  assert.equal(nul.path, 'MigrationStream.records[0].eof');
});

test('form: a SEQUENCE sent primitive, a primitive INTEGER sent constructed', async () => {
  const seq = one(await validateBer(minimal(HEADER, '80 00'), migration));
  assert.deepEqual([seq.code, seq.path], ['SCHEMA_FORM', 'MigrationStream.records[0].configuration']);
  const int = one(await validateBer(minimal('a0 03 02 01 01  81 01 03'), migration));
  assert.equal(int.code, 'SCHEMA_FORM');
});

test('explicit wrappers: [7] EXPLICIT Trailer holds exactly one value', async () => {
  assert.equal((await validateBer(minimal(HEADER, 'a7 04 80 02 7b 7d'), migration)).valid, true);
  const empty = one(await validateBer(minimal(HEADER, 'a7 00'), migration));
  assert.deepEqual([empty.code, empty.path], ['SCHEMA_WRAPPER', 'MigrationStream.records[0].vmdesc']);
  const two = one(await validateBer(minimal(HEADER, 'a7 06 80 00 81 02 00 01'), migration));
  assert.deepEqual([two.code, two.offset], ['SCHEMA_WRAPPER', 19]);
  // Invalid UTF-8 in the trailer's json: the X.690 UTF8String rule under an implicit tag
  const utf = one(await validateBer(minimal(HEADER, 'a7 03 80 01 ff'), migration));
  assert.deepEqual([utf.code, utf.path], ['X690_CHARACTERS', 'MigrationStream.records[0].vmdesc.json']);
});

test('an empty stream, and bytes after the value', async () => {
  assert.equal(one(await validateBer(new Uint8Array(0), migration)).code, 'SCHEMA_EMPTY');
  const b = minimal();
  const t = one(await validateBer(Uint8Array.from([...b, 0x05, 0x00]), migration));
  assert.deepEqual([t.code, t.offset], ['SCHEMA_TRAILING', b.length]);
});

test('--max-errors: the walk resynchronises after a bad value and finds the next', async () => {
  const b = minimal('80 01 00  81 01 03', '88 00  a0 04 80 02 70 63  86 01 00  86 00');
  const all = await validateBer(b, migration);
  assert.deepEqual(all.diagnostics.map((d) => d.code), ['SCHEMA_VALUE', 'SCHEMA_TAG', 'X690_NULL']);
  assert.deepEqual(all.diagnostics.map((d) => formatPath(d.path)), ['MigrationStream.header.formatVersion', 'MigrationStream.records[0]', 'MigrationStream.records[2].eof']);
  assert.equal(all.complete, true);
  const first = await validateBer(b, migration, { maxErrors: 1 });
  assert.equal(first.errors, 1);
  assert.equal(first.complete, false);
});

test('truncation: every proper prefix is invalid with an offset', async () => {
  const b = minimal();
  for (let n = 1; n < b.length; n++) {
    const r = await validateBer(b.subarray(0, n), migration);
    assert.equal(r.valid, false, `prefix ${n}`);
    assert.equal(r.diagnostics[0]!.code, 'X690_TRUNCATED', `prefix ${n}`);
    assert.ok(r.diagnostics[0]!.offset <= n);
  }
});

test('the path reaches deep into a device section', async () => {
  const sink = new MemorySink();
  await qemuToBer(new Uint8Array(readFileSync(new URL('pc-basic.mig', QEMU))), sink);
  const ber = sink.bytes();
  // The first Field value that is a uint32 ([7] primitive inside the value's [1] EXPLICIT wrapper)
  let at = -1;
  for (let i = 20000; i < ber.length - 4; i++) if (ber[i] === 0xa1 && ber[i + 1] === 0x03 && ber[i + 2] === 0x87 && ber[i + 3] === 0x01) { at = i + 2; break; }
  assert.ok(at > 0);
  const bad = ber.slice();
  bad[at] = 0x94; // [20]: no Value alternative
  const d = one(await validateBer(bad, migration));
  assert.equal(d.code, 'SCHEMA_TAG');
  assert.equal(d.offset, at);
  assert.match(d.path, /^MigrationStream\.records\[\d+\]\.sectionFull\.body\.device\.fields\[\d+\]\.value$/);
});

test('a needlessly long tag form is an X.690 error, and the value is still checked', async () => {
  // formatVersion's [0] written in the high-tag-number form: 9f 00
  const r = await validateBer(minimal('9f 00 01 01  81 01 03'), migration);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.offset]), [['X690_TAG_FORM', 7]]);
});
