import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import type { ByteSink } from '../../src/channel/transport.js';
import { SlowSink, pseudoRandomBytes, rejectsWith } from './helpers.js';

test('chunks are full-sized and the byte order is kept across chunk boundaries', async () => {
  const sizes: number[] = [];
  const inner = new MemorySink();
  const sink: ByteSink = { write: (c) => (sizes.push(c.length), inner.write(c)), close: () => inner.close(), destroy: () => {} };
  const w = new ChannelWriter(sink, { chunkSize: 16, zeroCopyThreshold: 1000 });
  const data = pseudoRandomBytes(100, 2);
  w.u8(1).bytes(data).u32(0x01020304);
  await w.close();
  assert.deepEqual(sizes, [16, 16, 16, 16, 16, 16, 9]);
  const out = inner.bytes();
  assert.equal(out[0], 1);
  assert.deepEqual(out.subarray(1, 101), data);
  assert.deepEqual(Array.from(out.subarray(101)), [1, 2, 3, 4]);
  assert.equal(inner.closed, true);
});

test('large runs go out by reference; bytesCopy copies at once', async () => {
  const seen: Uint8Array[] = [];
  const sink: ByteSink = { write: async (c) => void seen.push(c), close: async () => {}, destroy: () => {} };
  const w = new ChannelWriter(sink, { zeroCopyThreshold: 64 });
  const big = new Uint8Array(100).fill(7);
  w.u8(1).bytes(big);
  const shared = new Uint8Array(100).fill(8);
  w.bytesCopy(shared);
  shared.fill(0); // the caller reuses its buffer right away
  await w.flushAll();
  assert.equal(seen.length, 3);
  assert.equal(seen[1], big, 'the big run itself, not a copy');
  assert.ok(seen[2]!.every((b) => b === 8), 'the copied run kept its bytes');
});

test('zeros and counted strings; counted strings reject what does not fit', async () => {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink, { chunkSize: 8 });
  w.zeros(20).countedString('ram');
  assert.throws(() => w.countedString('x'.repeat(256)), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
  assert.throws(() => w.countedString('\u20ac'), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
  assert.throws(() => w.zeros(-1), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
  await w.close();
  assert.deepEqual(Array.from(sink.bytes()), [...new Array(20).fill(0), 3, 0x72, 0x61, 0x6d]);
});

test('a slow sink slows the producer: queued bytes stay under the high-water mark plus a chunk', async () => {
  const sink = new SlowSink(2);
  const chunkSize = 16 << 10;
  const highWaterMark = 128 << 10;
  const w = new ChannelWriter(sink, { chunkSize, highWaterMark });
  const unit = new Uint8Array(4000);
  let maxPending = 0;
  let waits = 0;
  for (let i = 0; i < 400; i++) {
    w.bytes(unit);
    maxPending = Math.max(maxPending, w.pending);
    if (w.needsDrain) {
      waits++;
      await w.drain();
      assert.ok(w.pending < highWaterMark + chunkSize);
    }
  }
  await w.close();
  assert.ok(waits > 10, `the producer had to wait (${waits} times)`);
  // Before a put the queue is under the mark; a put adds at most the unit, the open chunk at most a chunk.
  assert.ok(maxPending <= highWaterMark + chunkSize + unit.length, `max pending ${maxPending}`);
  assert.equal(sink.total, 400 * 4000);
  assert.equal(w.bytesWritten, 400 * 4000);
});

test('drain resolves once under the mark, while the sink keeps writing the rest', async () => {
  const sink = new SlowSink(5);
  const w = new ChannelWriter(sink, { chunkSize: 1000, highWaterMark: 5000 });
  w.bytes(new Uint8Array(10_000));
  assert.equal(w.needsDrain, true);
  await w.drain();
  assert.equal(w.needsDrain, false);
  assert.ok(w.pending > 0, 'drain did not wait for the whole queue');
  await w.flushAll();
  assert.equal(w.pending, 0);
});

test('a bandwidth limit of N B/s takes at least about bytes/N seconds', async () => {
  const sink = new MemorySink();
  const limit = 200_000;
  const w = new ChannelWriter(sink, { bandwidth: limit, chunkSize: 8192 });
  const total = 60_000;
  const t0 = performance.now();
  w.bytes(pseudoRandomBytes(total));
  await w.close();
  const elapsed = performance.now() - t0;
  // 60 kB at 200 kB/s = 300 ms; allow timer slack below, no upper bound (noisy machines).
  assert.ok(elapsed >= 0.9 * ((total / limit) * 1000), `took ${elapsed.toFixed(0)} ms`);
  assert.equal(sink.bytes().length, total);
});

test('setBandwidth applies to a write already waiting on the old limit', async () => {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink, { bandwidth: 1000 }); // 50-byte slices, 50 ms each
  w.bytes(new Uint8Array(20_000)); // 20 s at the old limit
  await new Promise((r) => setTimeout(r, 60));
  w.setBandwidth(0);
  assert.equal(w.bandwidth, 0);
  const t0 = performance.now();
  await w.flushAll();
  assert.ok(performance.now() - t0 < 5000, 'unthrottled after setBandwidth(0)');
  assert.equal(sink.bytes().length, 20_000);
  assert.throws(() => w.setBandwidth(-5), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
});

test('an error in the sink is sticky: every later call reports it, puts are dropped', async () => {
  const sink = new SlowSink(0);
  sink.failAfter = 3000;
  const w = new ChannelWriter(sink, { chunkSize: 1024 });
  for (let i = 0; i < 10; i++) w.bytes(new Uint8Array(1000));
  const e = await rejectsWith(() => w.flushAll(), 'E_IO');
  assert.match(e.message, /disk full/);
  assert.equal(e.offset, 2048, 'names the stream offset of the failed write (the third 1 KiB chunk)');
  assert.equal(sink.destroyed, true, 'the broken sink is released');
  assert.equal(w.error, e);
  w.u32(1).bytes(new Uint8Array(100_000));
  assert.equal(await rejectsWith(() => w.drain(), 'E_IO'), e);
  assert.equal(await rejectsWith(() => w.flushAll(), 'E_IO'), e);
  assert.equal(await rejectsWith(() => w.close(), 'E_IO'), e);
  assert.equal(await rejectsWith(() => w.close(), 'E_IO'), e);
  assert.equal(sink.total, 2048);
});

test('a drain waiting when the sink fails is released with the error', async () => {
  let fail: (e: Error) => void = () => {};
  const sink: ByteSink = {
    write: () => new Promise<void>((_, reject) => (fail = reject)),
    close: async () => {},
    destroy: () => {},
  };
  const w = new ChannelWriter(sink, { highWaterMark: 10 });
  w.bytes(new Uint8Array(100));
  const pending = w.drain();
  setTimeout(() => fail(new Error('EPIPE')), 10);
  await rejectsWith(() => pending, 'E_IO');
});

test('writes after close fail with E_CLOSED instead of vanishing', async () => {
  const w = new ChannelWriter(new MemorySink());
  w.u32(1);
  await w.close();
  w.u32(2);
  await rejectsWith(() => w.flushAll(), 'E_CLOSED');
});

test('destroy drops the queue, destroys the sink and makes E_CLOSED sticky', async () => {
  const sink = new SlowSink(50);
  const w = new ChannelWriter(sink, { chunkSize: 100 });
  w.bytes(new Uint8Array(1000));
  w.flush();
  w.destroy();
  assert.equal(sink.destroyed, true);
  assert.equal(w.pending, 0);
  await rejectsWith(() => w.flushAll(), 'E_CLOSED');
});

test('counters: bytesPut at the producer, bytesWritten at the sink, pending between', async () => {
  const sink = new SlowSink(1);
  const w = new ChannelWriter(sink, { chunkSize: 100 });
  w.u64(1n).zeros(192);
  assert.equal(w.bytesPut, 200);
  assert.equal(w.bytesWritten + w.pending, 200);
  await w.flushAll();
  assert.equal(w.bytesWritten, 200);
  assert.equal(w.pending, 0);
});

test('bad options are E_USAGE', () => {
  for (const o of [{ chunkSize: 0 }, { highWaterMark: -1 }, { bandwidth: Number.NaN }]) {
    assert.throws(() => new ChannelWriter(new MemorySink(), o), (e: unknown) => (e as { code?: string }).code === 'E_USAGE');
  }
});

test('flushAll and close return after destroy even if the sink never settles its write', async () => {
  const sink: ByteSink = { write: () => new Promise<void>(() => {}), close: async () => {}, destroy: () => {} };
  const w = new ChannelWriter(sink);
  w.u32(1);
  w.flush();
  const waiting = rejectsWith(() => w.flushAll(), 'E_CLOSED');
  setTimeout(() => w.destroy(), 10);
  await waiting;
  await rejectsWith(() => w.close(), 'E_CLOSED');
});

test('bytesCopyRange copies a range of a buffer, across chunk edges too, and refuses a range outside it', async () => {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink, { chunkSize: 16 });
  const src = Buffer.from(pseudoRandomBytes(64, 5));
  w.u8(0xee).bytesCopyRange(src, 3, 13).bytesCopyRange(src, 20, 60).bytesCopyRange(src, 7, 7);
  src.fill(0); // copied at once: the caller may change its buffer
  for (const [start, end] of [[-1, 4], [5, 4], [0, 65], [Number.NaN, 2]] as const) {
    assert.throws(() => w.bytesCopyRange(src, start, end), (e: { code?: string }) => e.code === 'E_USAGE', `${start}..${end}`);
  }
  await w.close();
  const expected = Buffer.from(pseudoRandomBytes(64, 5));
  assert.deepEqual(Buffer.from(sink.bytes()), Buffer.concat([Buffer.of(0xee), expected.subarray(3, 13), expected.subarray(20, 60)]));
});
