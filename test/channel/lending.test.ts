/** The reader over sources that lend their chunks (sockets): read in place, copy only straddling units. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { ChannelReader, lendsChunks, type ChunkLendingSource } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { ReadableSource } from '../../src/channel/transports/node-stream.js';
import { peekAhead } from '../../src/channel/transports/prefixed.js';
import { StallGuardSource } from '../../src/migration/stall-guard.js';
import { pseudoRandomBytes, rejectsWith } from './helpers.js';

/** Lends `bytes` as views (no copies) in the given piece sizes, cycled; counts the reads. */
class LendingSource implements ChunkLendingSource {
  private at = 0;
  private i = 0;
  views = 0;
  copies = 0;
  failAt = Infinity;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly pieces: readonly number[],
  ) {}
  async readView(): Promise<Uint8Array> {
    if (this.at >= this.failAt) throw new Error('connection reset');
    const n = Math.min(this.pieces[this.i++ % this.pieces.length]!, this.bytes.length - this.at);
    this.views++;
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  async read(into: Uint8Array): Promise<number> {
    this.copies++;
    const n = Math.min(into.length, this.bytes.length - this.at);
    into.set(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return n;
  }
  async close(): Promise<void> {}
}

type Value =
  | { t: 'u8'; v: number }
  | { t: 'u32'; v: number }
  | { t: 'u64'; v: bigint }
  | { t: 'str'; v: string }
  | { t: 'raw'; v: Uint8Array };

const value = fc.oneof(
  fc.record({ t: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ t: fc.constant('u32' as const), v: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  fc.record({ t: fc.constant('u64' as const), v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ t: fc.constant('str' as const), v: fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 }) }),
  fc.record({ t: fc.constant('raw' as const), v: fc.uint8Array({ maxLength: 300 }) }),
);

async function encode(values: readonly Value[]): Promise<Uint8Array> {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink);
  for (const x of values) {
    if (x.t === 'u8') w.u8(x.v);
    else if (x.t === 'u32') w.u32(x.v);
    else if (x.t === 'u64') w.u64(x.v);
    else if (x.t === 'str') w.countedString(x.v);
    else w.u32(x.v.length).bytes(x.v);
  }
  await w.close();
  return sink.bytes();
}

function decodeOne(r: ChannelReader, t: Value['t']): unknown {
  if (t === 'u8') return r.u8();
  if (t === 'u32') return r.u32();
  if (t === 'u64') return r.u64();
  if (t === 'str') return r.countedString();
  return r.bytesCopy(r.u32());
}

test('lent chunks of random sizes give the same values, unit by unit and in groups, and are never written', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(value, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 5 }), async (values, pieces, group) => {
      const bytes = await encode(values);
      const pristine = bytes.slice();
      const src = new LendingSource(bytes, pieces);
      const r = new ChannelReader(src, { bufferSize: 16 });
      for (let i = 0; i < values.length; i += group) {
        const some = values.slice(i, i + group);
        // A group is one retry unit: several primitives that may straddle several chunks.
        const got = await r.retry(() => some.map((x) => decodeOne(r, x.t)));
        assert.deepEqual(got, some.map((x) => x.v));
      }
      assert.equal(await r.atEnd(), true);
      assert.equal(r.offset, bytes.length);
      assert.equal(r.bytesReceived, bytes.length);
      assert.equal(src.copies, 0, 'read() is never used on a lending source');
      assert.deepEqual(bytes, pristine, 'the reader never writes into lent chunks');
    }),
    { numRuns: 120 },
  );
});

test('a unit inside one chunk is read in place; a straddling one is copied with only the bytes it needs', async () => {
  // Records like RAM pages: an 8-byte header then 4096 bytes, in 64 KiB chunks (as a socket gives them).
  const recordSize = 8 + 4096;
  const records = 40;
  const bytes = pseudoRandomBytes(recordSize * records, 3);
  const chunk = 64 << 10;
  const src = new LendingSource(bytes, [chunk]);
  const r = new ChannelReader(src, { bufferSize: 1 << 20 });
  let inPlace = 0;
  let copied = 0;
  for (let i = 0; i < records; i++) {
    const page = await r.retry(() => {
      r.u64Split();
      return r.bytesView(4096);
    });
    const at = i * recordSize + 8;
    assert.deepEqual(page, bytes.subarray(at, at + 4096));
    const sameChunk = Math.floor(i * recordSize / chunk) === Math.floor(((i + 1) * recordSize - 1) / chunk);
    if (page.buffer === bytes.buffer) {
      inPlace++;
      assert.equal(page.byteOffset, at, 'a view of the lent bytes themselves');
    } else copied++;
    assert.equal(page.buffer === bytes.buffer, sameChunk, `record ${i}`);
  }
  assert.equal(copied, 2, 'two of the 40 records straddle a 64 KiB boundary');
  assert.equal(inPlace, 38);
  assert.equal(src.views, 3);
});

test('a unit of many small values over several chunks is retried about once per chunk, not once per value', async () => {
  const values: Value[] = Array.from({ length: 2000 }, (_, i) => ({ t: 'u32', v: i }));
  const bytes = await encode(values);
  const r = new ChannelReader(new LendingSource(bytes, [1000]), { bufferSize: 64 });
  let runs = 0;
  const got = await r.retry(() => {
    runs++;
    return values.map(() => r.u32());
  });
  assert.deepEqual(got, values.map((x) => x.v));
  // 8000 bytes in 1000-byte chunks: a stitch of just the value asked for would mean ~1990 runs;
  // the slack takes the rest of each chunk from the second stitch on.
  assert.ok(runs <= 12, `${runs} runs`);
});

test('lent chunks: every proper prefix fails with E_TRUNCATED at the start of the cut value', async () => {
  const values: Value[] = [
    { t: 'u8', v: 1 },
    { t: 'u64', v: 2n },
    { t: 'str', v: 'pc.ram' },
    { t: 'u32', v: 3 },
  ];
  const bytes = await encode(values);
  const starts = [0, 1, 9, 16];
  for (let len = 0; len < bytes.length; len++) {
    for (const pieces of [[1], [3], [len + 1]]) {
      const r = new ChannelReader(new LendingSource(bytes.subarray(0, len), pieces));
      const e = await rejectsWith(() => r.retry(() => values.map((x) => decodeOne(r, x.t))), 'E_TRUNCATED');
      assert.equal(e.offset, starts.filter((s) => s <= len).pop(), `prefix of ${len} in pieces ${pieces}`);
    }
  }
});

test('lent chunks: a unit past maxBuffer is E_LIMIT; a failing source is a sticky E_IO at its offset', async () => {
  const big = new ChannelReader(new LendingSource(new Uint8Array(1 << 16), [1000]), { maxBuffer: 4096 });
  const e = await rejectsWith(
    () =>
      big.retry(() => {
        for (;;) big.u32();
      }),
    'E_LIMIT',
  );
  assert.equal(e.offset, 0);
  assert.ok(big.buffered <= 4096 + 1000);

  const src = new LendingSource(pseudoRandomBytes(100), [30]);
  src.failAt = 60;
  const r = new ChannelReader(src);
  await r.retry(() => r.bytesView(50));
  const io = await rejectsWith(() => r.retry(() => r.bytesView(20)), 'E_IO');
  assert.equal(io.offset, 60);
  // The 10 bytes before the failure stay readable; asking for more reports the same error.
  assert.equal(await r.fill(10), true);
  assert.equal(await rejectsWith(() => r.fill(11), 'E_IO'), io);
});

test('borrowChunks: false reads a lending source through read() (copies)', async () => {
  const bytes = pseudoRandomBytes(5000, 9);
  const src = new LendingSource(bytes, [100]);
  const r = new ChannelReader(src, { borrowChunks: false, bufferSize: 1024 });
  const v = await r.retry(() => r.bytesView(512));
  assert.notEqual(v.buffer, bytes.buffer);
  assert.equal(src.views, 0);
  assert.ok(src.copies > 0);
});

test('ReadableSource lends the stream chunks as they came, pausing at maxQueued and resuming as they are taken', async () => {
  const stream = new PassThrough();
  const src = new ReadableSource(stream, { maxQueued: 10 });
  assert.equal(lendsChunks(src), true);
  const a = Buffer.from([1, 2, 3, 4, 5, 6]);
  const b = Buffer.from([7, 8, 9, 10, 11, 12]);
  stream.write(a);
  stream.write(b);
  await new Promise((r) => setImmediate(r));
  assert.equal(src.queuedBytes, 12);
  assert.equal(stream.isPaused(), true);
  const first = await src.readView();
  assert.equal(first.buffer, a.buffer, 'no copy');
  assert.deepEqual(Array.from(first), [1, 2, 3, 4, 5, 6]);
  assert.equal(stream.isPaused(), false);
  // read() and readView() share the queue: a partial read leaves the rest of a chunk to lend.
  const two = new Uint8Array(2);
  assert.equal(await src.read(two), 2);
  assert.deepEqual(Array.from(two), [7, 8]);
  assert.deepEqual(Array.from(await src.readView()), [9, 10, 11, 12]);
  stream.end();
  assert.equal((await src.readView()).length, 0);
  await src.close();
});

test('peekAhead returns the first bytes and replays them, keeping a lending source lending', async () => {
  const bytes = pseudoRandomBytes(3000, 4);
  for (const lend of [true, false]) {
    const inner = lend ? new LendingSource(bytes, [3, 500]) : new MemorySource(bytes, 3);
    const { first, source } = await peekAhead(inner, 4);
    assert.deepEqual(first, bytes.subarray(0, 4));
    assert.equal(lendsChunks(source), lend);
    const r = new ChannelReader(source, { bufferSize: 64 });
    assert.deepEqual(await r.retry(() => r.bytesCopy(3000)), bytes);
    assert.equal(await r.atEnd(), true);
  }
  const empty = await peekAhead(new MemorySource(new Uint8Array(0)), 4);
  assert.equal(empty.first.length, 0);
});

test('the stall guard lends when its source does, and times out a lent read that gets nothing', async () => {
  assert.equal(lendsChunks(new StallGuardSource(new MemorySource(new Uint8Array(4)), 100)), false);
  const stream = new PassThrough();
  const guard = new StallGuardSource(new ReadableSource(stream), 80);
  assert.equal(lendsChunks(guard), true);
  stream.write(Buffer.from([1, 2, 3]));
  assert.deepEqual(Array.from(await guard.readView!()), [1, 2, 3]);
  const t0 = performance.now();
  await assert.rejects(guard.readView!(), (e: { code?: string; offset?: number }) => e.code === 'E_TIMEOUT' && e.offset === 3);
  assert.ok(performance.now() - t0 >= 75);
  await guard.close();
});
