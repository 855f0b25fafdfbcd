import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { listen, openSink } from '../../src/channel/open.js';
import type { ReadableSource } from '../../src/channel/transports/node-stream.js';
import { sleep } from './helpers.js';

const MiB = 1 << 20;

test('tcp: a stalled reader stops the writer; nothing queues without bound; all bytes arrive', async () => {
  const maxQueued = 256 << 10;
  const l = await listen('tcp:127.0.0.1:0', { maxQueued });
  try {
    const sinkP = openSink(l.uri);
    const conn = await l.accept();
    const w = new ChannelWriter(await sinkP, { chunkSize: 64 << 10, highWaterMark: 1 * MiB });
    const total = 24 * MiB;
    const unit = new Uint8Array(64 << 10);
    let maxPending = 0;
    const producer = (async () => {
      for (let put = 0; put < total; put += unit.length) {
        unit[0] = (put / unit.length) & 0xff; // a sequence number per unit, checked on arrival
        w.bytesCopy(unit);
        maxPending = Math.max(maxPending, w.pending);
        if (w.needsDrain) await w.drain();
      }
      await w.close();
    })();

    // The reader does not read for a while: the producer must stall well short of the total.
    await sleep(400);
    const stalledAt = w.bytesPut;
    await sleep(200);
    const source = conn.source as ReadableSource;
    assert.ok(w.bytesPut - stalledAt <= unit.length, `producer kept going: ${stalledAt} -> ${w.bytesPut}`);
    // What is in flight: the writer's queue, the kernel's socket buffers, the source's queue.
    assert.ok(stalledAt < 16 * MiB, `producer got ${stalledAt} bytes ahead of a stalled reader`);
    assert.ok(source.queuedBytes <= maxQueued + 64 * 1024, `source queued ${source.queuedBytes}`);

    // Now read everything, slowly at first, and check the sequence numbers.
    const r = new ChannelReader(source, { bufferSize: 64 << 10 });
    let seq = 0;
    for (let got = 0; got < total; got += unit.length) {
      const u = await r.retry(() => r.bytesView(unit.length));
      assert.equal(u[0], seq++ & 0xff);
      if (got < 4 * MiB) await sleep(1);
    }
    assert.equal(await r.atEnd(), true);
    await producer;
    await r.close();
    await conn.sink.close();
    assert.ok(maxPending <= 1 * MiB + 2 * unit.length, `writer pending peaked at ${maxPending}`);
    assert.ok(source.peakQueuedBytes <= maxQueued + 64 * 1024, `source queue peaked at ${source.peakQueuedBytes}`);
  } finally {
    await l.close();
  }
});
