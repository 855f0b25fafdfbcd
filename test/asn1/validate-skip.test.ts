/**
 * Skipping contents nothing looks into: on a source that knows its size the validator seeks past
 * long OCTET STRINGs (RAM pages) and finds the same problems at the same offsets as when it reads
 * every byte (a pipe); sparseReads keeps the reads after each seek small.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import type { ByteSource } from '../../src/channel/transport.js';
import { formatPath } from '../../src/errors.js';
import { loadSchema, validateBer, type ValidationReport } from '../../src/asn1/validate/index.js';
import { SPARSE_FIRST_READ, sparseReads } from '../../src/asn1/validate/sparse-reads.js';
import type { AsnType } from '../../src/asn1/types.js';
import { compileText, mustType } from './helpers.js';

const migration = loadSchema([]).type;

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const tlv = (tag: number[], content: Uint8Array): Uint8Array => {
  const n = content.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : n < 65536 ? [0x82, n >> 8, n & 255] : [0x83, n >> 16, (n >> 8) & 255, n & 255];
  const out = new Uint8Array(tag.length + len.length + n);
  out.set([...tag, ...len]);
  out.set(content, tag.length + len.length);
  return out;
};
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const payload = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
/** A constructed value of indefinite length, as vmstream writes the stream, its records and section bodies. */
const open = (tag: number[], content: Uint8Array): Uint8Array => cat(Uint8Array.from([...tag, 0x80]), content, hex('00 00'));
/** A MigrationStream whose records are commands with `sizes.length` payloads ([1] command { id [0] 7, payload [1] }). */
const commands = (sizes: number[], wrap = tlv): Uint8Array => {
  const records = cat(...sizes.map((n, k) => wrap([0xa1], cat(hex('80 01 07'), tlv([0x81], payload(n, k))))), hex('86 00'));
  return wrap([0x7f, 0xd6, 0xcd, 0x53], cat(tlv([0xa0], hex('80 01 01 81 01 03')), wrap([0xa1], records)));
};

/** Counts the bytes a source hands out. */
class Counting implements ByteSource {
  bytesRead = 0;
  readonly reads: number[] = [];
  constructor(private readonly inner: ByteSource) {}
  get size(): number | undefined {
    return this.inner.size;
  }
  async read(into: Uint8Array): Promise<number> {
    const n = await this.inner.read(into);
    this.bytesRead += n;
    this.reads.push(n);
    return n;
  }
  seek(position: number): void {
    this.inner.seek!(position);
  }
  async close(): Promise<void> {}
}

/** The same bytes as a pipe: no size, no seek. */
const pipe = (b: Uint8Array, piece = 65536): ByteSource => {
  const m = new MemorySource(b, piece);
  return { read: (into) => m.read(into), close: async () => {} };
};

const summary = (r: ValidationReport) => ({
  valid: r.valid,
  values: r.values,
  bytes: r.bytes,
  complete: r.complete,
  diagnostics: r.diagnostics.map((d) => `${d.code} @${d.offset} ${formatPath(d.path)}: ${d.message} | ${d.expected} | ${d.actual}`),
});

async function both(b: Uint8Array, type: AsnType): Promise<{ file: ValidationReport; piped: ValidationReport; read: number }> {
  const counting = new Counting(new MemorySource(b));
  const file = await validateBer(new ChannelReader(sparseReads(counting), { bufferSize: 1 << 20 }), type);
  const piped = await validateBer(new ChannelReader(pipe(b), { bufferSize: 1 << 20 }), type);
  return { file, piped, read: counting.bytesRead };
}

test('on a file, long OCTET STRINGs are skipped unread: same report as from a pipe, a few percent of the bytes read', async () => {
  const b = commands([300_000, 70_000, 5, 1_000_000, 200_000]);
  const { file, piped, read } = await both(b, migration);
  assert.deepEqual(summary(file), summary(piped));
  assert.equal(file.valid, true);
  assert.equal(file.bytes, b.length);
  assert.ok(read < b.length / 20, `read ${read} of ${b.length}`);
});

test('validateBer on a seekable ByteSource reads sparsely by itself; with an observer (XER) it reads everything', async () => {
  const b = commands([300_000, 400_000]);
  const bare = new Counting(new MemorySource(b));
  const r = await validateBer(bare, migration);
  assert.equal(r.valid, true);
  assert.ok(bare.bytesRead < b.length / 20, `read ${bare.bytesRead} of ${b.length}`);
  assert.ok(Math.max(...bare.reads) < 64 << 10, `reads ${bare.reads.join(' ')}`);
  const watched = new Counting(new MemorySource(b));
  const out = new ChannelWriter(new MemorySink());
  const x = await validateBer(watched, migration, { observer: new XerWriter(out) });
  assert.equal(x.valid, true);
  assert.equal(watched.bytesRead, b.length);
});

test('a SIZE constraint on a skipped OCTET STRING is still checked, and the values after it too', async () => {
  const s = compileText(`M DEFINITIONS IMPLICIT TAGS ::= BEGIN
    S ::= SEQUENCE { a OCTET STRING (SIZE (0..100000)), b OCTET STRING (SIZE (200000)), c BOOLEAN }
  END`);
  const type = mustType(s, 'S');
  const good = tlv([0x30], cat(tlv([0x04], payload(100_000, 1)), tlv([0x04], payload(200_000, 2)), hex('01 01 ff')));
  const ok = await both(good, type);
  assert.deepEqual(summary(ok.file), summary(ok.piped));
  assert.equal(ok.file.valid, true);
  assert.ok(ok.read < good.length / 10, `read ${ok.read}`);

  // a one byte too long, b one byte short, c with a bad BOOLEAN length: three errors after skips
  const bad = tlv([0x30], cat(tlv([0x04], payload(100_001, 1)), tlv([0x04], payload(199_999, 2)), hex('01 02 ff ff')));
  const { file, piped } = await both(bad, type);
  assert.deepEqual(summary(file), summary(piped));
  assert.deepEqual(file.diagnostics.map((d) => [d.code, formatPath(d.path), d.actual]), [
    ['SCHEMA_SIZE', 'S.a', '100001'],
    ['SCHEMA_SIZE', 'S.b', '199999'],
    ['X690_BOOLEAN', 'S.c', '2 contents octets'],
  ]);
  assert.equal(file.diagnostics[1]!.offset, 5 + 5 + 100_001); // after the SEQUENCE header and all of a
});

test('cut inside a skipped OCTET STRING: E_TRUNCATED at its header on a file (its length passes the end), where the bytes end on a pipe', async () => {
  // Indefinite lengths down to the commands, so the payload's is the first length that passes the end.
  const b = commands([300_000, 300_000], open);
  // Second payload's header: stream header 5 bytes, header record 8, records header 2, first command 2 + 3 + 5 + 300,000 + 2, second command 2, id 3
  const second = 5 + 8 + 2 + (2 + 3 + 5 + 300_000 + 2) + 2 + 3;
  assert.deepEqual([...b.subarray(second, second + 2)], [0x81, 0x83]);
  const cut = b.subarray(0, second + 150_000);
  const { file, piped } = await both(cut, migration);
  const d = file.diagnostics[0]!;
  assert.equal(file.errors, 1);
  assert.equal(d.code, 'X690_TRUNCATED');
  assert.equal(d.offset, second);
  assert.match(d.message, /runs past the end of the stream/);
  assert.equal(formatPath(d.path).startsWith('MigrationStream.records[1]'), true, formatPath(d.path));
  const p = piped.diagnostics[0]!;
  assert.equal(piped.errors, 1);
  assert.equal(p.code, 'X690_TRUNCATED');
  assert.equal(p.offset, cut.length);
});

test('a skipped OCTET STRING longer than its definite-length parent: the same E_BER error on a file and a pipe', async () => {
  const b = commands([300_000, 100]);
  // Make the first command's length 10 bytes short of its contents.
  const at = 8 + 8 + 5;
  assert.deepEqual([...b.subarray(at, at + 2)], [0xa1, 0x83]);
  const len = (b[at + 2]! << 16) | (b[at + 3]! << 8) | b[at + 4]!;
  const bad = b.slice();
  bad[at + 3] = ((len - 10) >> 8) & 255;
  bad[at + 4] = (len - 10) & 255;
  const { file, piped } = await both(bad, migration);
  assert.deepEqual(summary(file), summary(piped));
  assert.equal(file.diagnostics[0]!.code, 'X690_FRAMING');
  assert.match(file.diagnostics[0]!.message, /runs past the end of its constructed parent/);
});

test('sparseReads: reads start at 4 KiB (and again after each seek) and double; unseekable sources are left alone', async () => {
  const b = new Uint8Array(1 << 20);
  const counting = new Counting(new MemorySource(b));
  const s = sparseReads(counting);
  const into = new Uint8Array(256 << 10);
  assert.equal(await s.read(into), SPARSE_FIRST_READ);
  s.seek!(1000);
  const sizes: number[] = [];
  for (let k = 0; k < 8; k++) sizes.push(await s.read(into));
  assert.deepEqual(sizes, [SPARSE_FIRST_READ, 2 * SPARSE_FIRST_READ, 4 * SPARSE_FIRST_READ, 8 * SPARSE_FIRST_READ, 16 * SPARSE_FIRST_READ, 32 * SPARSE_FIRST_READ, 64 * SPARSE_FIRST_READ, 256 << 10]);
  s.seek!(0);
  assert.equal(await s.read(into), SPARSE_FIRST_READ);
  assert.equal(s.size, b.length);
  const unseekable = pipe(b);
  assert.equal(sparseReads(unseekable), unseekable);
});
