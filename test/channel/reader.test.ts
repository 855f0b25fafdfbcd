import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChannelReader, NEED_MORE } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { ChunkedSource, pseudoRandomBytes, rejectsWith } from './helpers.js';

// One value of every primitive, with the bytes QEMU's qemu_put_* would write for it.
const golden = Uint8Array.of(
  0xfe, //                                            u8 254
  0x12, 0x34, //                                      u16 0x1234
  0xde, 0xad, 0xbe, 0xef, //                          u32 0xdeadbeef
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, //  u64 2^64-2
  0x80, //                                            i8 -128
  0xff, 0xfe, //                                      i16 -2
  0x80, 0x00, 0x00, 0x00, //                          i32 -2^31
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //  i64 -1 (QEMU's "no timer" sentinel)
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, //  u64 as halves: hi 1, lo 2
  0x03, 0x70, 0x63, 0x80, //                          counted string "pc\x80" (0x80 must stay U+0080)
  0xaa, 0xbb, 0xcc, //                                3 raw bytes
);

function readGolden(r: ChannelReader): unknown[] {
  const hi = r.u8() === 0xfe ? 0 : -1;
  const out: unknown[] = [hi, r.u16(), r.u32(), r.u64(), r.i8(), r.i16(), r.i32(), r.i64()];
  out.push(r.u64Split(), r.lastLow, r.countedString(), Array.from(r.bytesView(3)));
  return out;
}
const expected = [0, 0x1234, 0xdeadbeef, 2n ** 64n - 2n, -128, -2, -(2 ** 31), -1n, 1, 2, 'pc\x80', [0xaa, 0xbb, 0xcc]];

function writeGolden(w: ChannelWriter): void {
  w.u8(0xfe).u16(0x1234).u32(0xdeadbeef).u64(2n ** 64n - 2n).i8(-128).i16(-2).i32(-(2 ** 31)).i64(-1n);
  w.u64Split(1, 2).countedString('pc\x80').bytes(Uint8Array.of(0xaa, 0xbb, 0xcc));
}

test('the writer produces the golden bytes and the reader reads them back', async () => {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink);
  writeGolden(w);
  assert.equal(w.bytesPut, golden.length);
  await w.close();
  assert.deepEqual(sink.bytes(), golden);
  assert.equal(w.bytesWritten, golden.length);
  const r = new ChannelReader(golden);
  assert.deepEqual(readGolden(r), expected);
  assert.equal(r.offset, golden.length);
  assert.equal(await r.atEnd(), true);
});

for (const pieces of [[1], [2], [7], [3, 1, 5, 2]]) {
  test(`pieces of ${pieces.join(',')} bytes give the same values (retry per unit)`, async () => {
    const r = new ChannelReader(new ChunkedSource(golden, pieces), { bufferSize: 8 });
    assert.deepEqual(await r.retry(() => readGolden(r)), expected);
    assert.equal(await r.atEnd(), true);
  });
}

test('random chunkings and buffer sizes give the same values, value by value', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 64 }),
      async (pieces, bufferSize) => {
        const r = new ChannelReader(new ChunkedSource(golden, pieces), { bufferSize });
        const got: unknown[] = [];
        got.push((await r.retry(() => r.u8())) === 0xfe ? 0 : -1);
        got.push(await r.retry(() => r.u16()), await r.retry(() => r.u32()), await r.retry(() => r.u64()));
        got.push(await r.retry(() => r.i8()), await r.retry(() => r.i16()), await r.retry(() => r.i32()));
        got.push(await r.retry(() => r.i64()));
        got.push(await r.retry(() => r.u64Split()), r.lastLow);
        got.push(await r.retry(() => r.countedString()));
        got.push(Array.from(await r.retry(() => r.bytesCopy(3))));
        assert.deepEqual(got, expected);
      },
    ),
    { numRuns: 60 },
  );
});

test('random values round-trip through writer and reader in random pieces', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ t: fc.constant('u16' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
          fc.record({ t: fc.constant('i32' as const), v: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
          fc.record({ t: fc.constant('u64' as const), v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
          fc.record({ t: fc.constant('i64' as const), v: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
          fc.record({ t: fc.constant('str' as const), v: fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 255 }) }),
          fc.record({ t: fc.constant('raw' as const), v: fc.uint8Array({ maxLength: 300 }) }),
        ),
        { maxLength: 30 },
      ),
      fc.integer({ min: 1, max: 50 }),
      async (values, piece) => {
        const sink = new MemorySink();
        const w = new ChannelWriter(sink, { chunkSize: 64, zeroCopyThreshold: 100 });
        for (const x of values) {
          if (x.t === 'u16') w.u16(x.v);
          else if (x.t === 'i32') w.i32(x.v);
          else if (x.t === 'u64') w.u64(x.v);
          else if (x.t === 'i64') w.i64(x.v);
          else if (x.t === 'str') w.countedString(x.v);
          else w.u32(x.v.length).bytes(x.v);
        }
        await w.close();
        const r = new ChannelReader(new MemorySource(sink.bytes(), piece), { bufferSize: 16 });
        for (const x of values) {
          if (x.t === 'u16') assert.equal(await r.retry(() => r.u16()), x.v);
          else if (x.t === 'i32') assert.equal(await r.retry(() => r.i32()), x.v);
          else if (x.t === 'u64') assert.equal(await r.retry(() => r.u64()), x.v);
          else if (x.t === 'i64') assert.equal(await r.retry(() => r.i64()), x.v);
          else if (x.t === 'str') assert.equal(await r.retry(() => r.countedString()), x.v);
          else assert.deepEqual(await r.retry(() => r.bytesCopy(r.u32())), x.v);
        }
        assert.equal(await r.atEnd(), true);
      },
    ),
    { numRuns: 80 },
  );
});

test('every proper prefix fails with E_TRUNCATED at the start of the cut value', async () => {
  // Start offsets of each value in `golden`.
  const starts = [0, 1, 3, 7, 15, 16, 18, 22, 30, 38, 42];
  for (let len = 0; len < golden.length; len++) {
    for (const pieces of [[1], [2], [7], [len + 1]]) {
      const r = new ChannelReader(new ChunkedSource(golden.subarray(0, len), pieces), { bufferSize: 4 });
      const e = await rejectsWith(() => r.retry(() => readGolden(r)), 'E_TRUNCATED');
      const cut = starts.filter((s) => s <= len).pop()!;
      // A counted string cut inside its text is named by its length byte's offset (38).
      assert.equal(e.offset, cut, `prefix of ${len} in pieces ${pieces}`);
    }
  }
});

test('a truncated in-memory value names its offset and what was expected', () => {
  const r = ChannelReader.fromBytes(Uint8Array.of(1, 2, 3, 4, 5, 6));
  r.u16();
  assert.throws(
    () => r.u64(),
    (e: unknown) => {
      const v = e as { code: string; offset: number; expected: string; actual: string };
      return v.code === 'E_TRUNCATED' && v.offset === 2 && v.expected === '8 bytes' && v.actual === '4 bytes before the end';
    },
  );
  // Nothing was consumed by the failed read.
  assert.equal(r.u32(), 0x03040506);
});

test('primitives throw NEED_MORE (not an Error) while the source may still deliver', async () => {
  const r = new ChannelReader(new ChunkedSource(Uint8Array.of(0, 0, 0, 9), [2]));
  await r.fill(2);
  assert.throws(() => r.u32(), (e: unknown) => e === NEED_MORE);
  assert.equal(await r.fill(4), true);
  assert.equal(r.u32(), 9);
  assert.equal(await r.fill(1), false);
});

test('maxBuffer: a value larger than the limit fails with E_LIMIT before buffering towards it', async () => {
  let reads = 0;
  const src = new ChunkedSource(new Uint8Array(1 << 20), [4096]);
  const counting = { read: (b: Uint8Array) => (reads++, src.read(b)), close: () => src.close() };
  const r = new ChannelReader(counting, { bufferSize: 1024, maxBuffer: 64 << 10 });
  const e = await rejectsWith(() => r.retry(() => r.bytesView(100_000)), 'E_LIMIT');
  assert.equal(e.offset, 0);
  assert.equal(reads, 0);
  // Sticky: later pulls report the same error.
  assert.equal(await rejectsWith(() => r.fill(1), 'E_LIMIT'), e);
});

test('maxBuffer: a unit that grows past the limit through retries fails with E_LIMIT', async () => {
  const r = new ChannelReader(new ChunkedSource(new Uint8Array(1 << 20), [1000]), { bufferSize: 512, maxBuffer: 8192 });
  // A decoder that keeps asking for one more u32 (a runaway unit).
  const e = await rejectsWith(
    () =>
      r.retry(() => {
        for (;;) r.u32();
      }),
    'E_LIMIT',
  );
  assert.equal(e.offset, 0);
  assert.ok(r.buffered <= 8192);
});

test('fill larger than maxBuffer fails with E_LIMIT', async () => {
  const r = new ChannelReader(new MemorySource(new Uint8Array(100)), { maxBuffer: 50 });
  await rejectsWith(() => r.fill(51), 'E_LIMIT');
});

test('bad lengths are E_USAGE, never a TypeError or a NaN position', async () => {
  const r = ChannelReader.fromBytes(new Uint8Array(10));
  for (const n of [-1, 1.5, Number.NaN]) {
    assert.throws(() => r.bytesView(n), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
    await rejectsWith(() => r.skip(n), 'E_USAGE');
  }
  assert.equal(r.offset, 0);
});

test('a source error becomes a sticky E_IO with the offset where it happened', async () => {
  let calls = 0;
  const r = new ChannelReader(
    {
      read: async (b: Uint8Array) => {
        if (calls++ === 0) {
          b.set([1, 2, 3]);
          return 3;
        }
        throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      },
      close: async () => {},
    },
    { bufferSize: 16 },
  );
  assert.equal(await r.retry(() => r.u16()), 0x0102);
  const e = await rejectsWith(() => r.retry(() => r.u32()), 'E_IO');
  assert.equal(e.offset, 3);
  // Every later call reports the same error; the byte that did arrive is still readable.
  assert.equal(await rejectsWith(() => r.more(), 'E_IO'), e);
  assert.equal(await rejectsWith(() => r.fill(10), 'E_IO'), e);
  assert.throws(() => r.u16(), (x: unknown) => x === e);
  assert.equal(r.u8(), 3);
  assert.equal(calls, 2);
});

test('after close, pulls fail with E_CLOSED', async () => {
  const r = new ChannelReader(new MemorySource(new Uint8Array(10), 2));
  await r.fill(2);
  await r.close();
  assert.equal(r.u16(), 0);
  await rejectsWith(() => r.fill(1), 'E_CLOSED');
  await rejectsWith(() => r.retry(() => r.u32()), 'E_CLOSED');
  assert.equal(r.error, undefined, 'closing is not a stream error');
});

test('counters: bytesReceived counts pulled bytes, offset/bytesRead consumed ones', async () => {
  const r = new ChannelReader(new MemorySource(new Uint8Array(100), 30), { bufferSize: 64 });
  await r.fill(10);
  assert.equal(r.bytesReceived, 30);
  r.skipBuffered(10);
  assert.equal(r.bytesRead, 10);
  assert.equal(r.offset, 10);
  await r.skip(80);
  assert.equal(r.offset, 90);
  assert.equal(await r.atEnd(), false);
  await r.skip(10);
  assert.equal(await r.atEnd(), true);
});

test('skip seeks on a seekable source and reads through an unseekable one; both report truncation', async () => {
  const data = pseudoRandomBytes(10_000, 7);
  let reads = 0;
  const mem = new MemorySource(data, 100);
  const seekable = { size: mem.size, seek: (p: number) => mem.seek(p), read: (b: Uint8Array) => (reads++, mem.read(b)), close: () => mem.close() };
  const r1 = new ChannelReader(seekable, { bufferSize: 256 });
  await r1.fill(1);
  await r1.skip(9000);
  assert.equal(reads, 1);
  assert.equal(await r1.retry(() => r1.u8()), data[9000]);
  const e1 = await rejectsWith(() => r1.skip(5000), 'E_TRUNCATED');
  assert.equal(e1.offset, 9001);

  const r2 = new ChannelReader(new ChunkedSource(data, [100]), { bufferSize: 256 });
  await r2.skip(9000);
  assert.equal(await r2.retry(() => r2.u8()), data[9000]);
  const e2 = await rejectsWith(() => r2.skip(5000), 'E_TRUNCATED');
  assert.equal(e2.offset, 9001);
  assert.equal(e2.actual, '999 bytes before the end');
});

test('forEachChunk passes a long run in pieces no larger than the buffer', async () => {
  const data = pseudoRandomBytes(100_000, 3);
  const r = new ChannelReader(new ChunkedSource(data, [777, 5000]), { bufferSize: 4096 });
  r.mark();
  const parts: Uint8Array[] = [];
  await r.forEachChunk(99_999, (c) => {
    assert.ok(c.length <= 4096);
    parts.push(c.slice());
  });
  assert.deepEqual(Buffer.concat(parts), Buffer.from(data.subarray(0, 99_999)));
  const e = await rejectsWith(() => r.forEachChunk(2, () => {}), 'E_TRUNCATED');
  assert.equal(e.offset, 99_999);
});

test('forEachChunkToEnd passes everything and counts it', async () => {
  const data = pseudoRandomBytes(50_000, 4);
  const r = new ChannelReader(new ChunkedSource(data, [1, 4000, 333]), { bufferSize: 1000 });
  let total = 0;
  let sum = 0;
  const n = await r.forEachChunkToEnd((c) => {
    total += c.length;
    for (const b of c) sum += b;
  });
  assert.equal(n, 50_000);
  assert.equal(total, 50_000);
  assert.equal(sum, data.reduce((a, b) => a + b, 0));
});

test('peeks do not consume; marks rewind within the buffer', async () => {
  const r = ChannelReader.fromBytes(Uint8Array.of(5, 6, 7));
  assert.equal(r.peekU8(), 5);
  assert.equal(r.peekAt(2), 7);
  const m = r.mark();
  r.u16();
  r.reset(m);
  assert.equal(r.u8(), 5);
  assert.throws(() => r.reset(99), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
});

test('the buffer compacts instead of growing when units are small', async () => {
  const data = pseudoRandomBytes(1 << 16, 9);
  const r = new ChannelReader(new ChunkedSource(data, [1000, 3]), { bufferSize: 256 });
  let x = 0;
  for (let i = 0; i < data.length / 4; i++) x ^= await r.retry(() => r.u32());
  let want = 0;
  const dv = new DataView(data.buffer);
  for (let i = 0; i < data.length; i += 4) want ^= dv.getUint32(i, false);
  assert.equal(x, want);
  // A 256-byte buffer never needed to grow for 4-byte units.
  assert.ok(r.bytesReceived - r.bytesRead <= 256);
});
