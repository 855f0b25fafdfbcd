import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Socket, connect } from 'node:net';
import { ChannelReader } from '../../src/channel/reader.js';
import { listen } from '../../src/channel/open.js';
import { SlabSource, adoptAccepted } from '../../src/channel/transports/socket-reads.js';
import { pseudoRandomBytes } from './helpers.js';

const MiB = 1 << 20;

/** Writes `bytes` to a plain socket in pieces of the given sizes (cycled), then ends it. */
async function sendInPieces(port: number, bytes: Uint8Array, pieces: readonly number[]): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let i = 0;
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(pieces[i++ % pieces.length]!, bytes.length - at);
    if (!sock.write(bytes.subarray(at, at + n))) await new Promise((r) => sock.once('drain', r));
    at += n;
  }
  await new Promise<void>((r) => sock.end(r));
}

test('an accepted TCP connection is read into slabs: every byte arrives in order, units straddling reads included', async () => {
  const l = await listen('tcp:127.0.0.1:0');
  try {
    const bytes = pseudoRandomBytes(24 * MiB + 12345, 7);
    const sent = sendInPieces(l.port!, bytes, [1, 4103, 65536, 3 * MiB, 17, 4096 * 9 + 8]);
    const conn = await l.accept();
    assert.ok(conn.source instanceof SlabSource, 'the destination side reads into slabs on this Node');
    // Units of a page record's size never line up with the reads: many straddle two slabs' views.
    const r = new ChannelReader(conn.source);
    const hash = createHash('sha256');
    for (;;) {
      if (await r.atEnd()) break;
      const n = Math.min(4104, bytes.length - r.offset);
      hash.update(await r.retry(() => r.bytesView(n)));
    }
    await sent;
    assert.equal(hash.digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    await r.close();
    await conn.sink.close();
  } finally {
    await l.close();
  }
});

test('a lent view keeps its bytes until the chunk after the next is asked for, while the peer keeps sending', async () => {
  const l = await listen('tcp:127.0.0.1:0', { maxQueued: 256 << 10 });
  try {
    const bytes = pseudoRandomBytes(16 * MiB, 3);
    const sent = sendInPieces(l.port!, bytes, [64 << 10]);
    const conn = await l.accept();
    const src = conn.source as SlabSource;
    let at = 0;
    let older: { view: Uint8Array; at: number; copy: Uint8Array } | undefined;
    let previous: { view: Uint8Array; at: number; copy: Uint8Array } | undefined;
    for (;;) {
      const view = await src.readView();
      // The previous view must still hold its bytes now that the next one is out.
      if (previous !== undefined) assert.deepEqual(previous.view, previous.copy, `view at ${previous.at} changed while it was still valid`);
      if (view.length === 0) break;
      assert.deepEqual(view, bytes.subarray(at, at + view.length), `bytes at ${at}`);
      older = previous;
      previous = { view, at, copy: view.slice() };
      at += view.length;
      // Let more reads land (they reuse released slabs) before asking for the next view.
      if (at % (1 << 20) < view.length) await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(at, bytes.length);
    assert.ok(older !== undefined);
    assert.ok(src.peakQueuedBytes <= (256 << 10) + (64 << 10), `queue peaked at ${src.peakQueuedBytes}`);
    await sent;
    await src.close();
    await conn.sink.close();
  } finally {
    await l.close();
  }
});

test('slab-read connections still answer on the reverse direction and report a peer that resets mid-stream', async () => {
  const l = await listen('tcp:127.0.0.1:0');
  try {
    const client = connect(l.port!, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    const conn = await l.accept();
    client.write(new Uint8Array([1, 2, 3]));
    const got = new Uint8Array(3);
    assert.equal(await conn.source.read(got), 3);
    assert.deepEqual([...got], [1, 2, 3]);
    const pong = new Promise<string>((r) => client.once('data', (d: Buffer) => r(d.toString())));
    await conn.sink.write(new TextEncoder().encode('pong'));
    assert.equal(await pong, 'pong');
    // The client goes away with a reset, not an end: the reader sees an error, not a clean end.
    client.resetAndDestroy();
    await assert.rejects(conn.source.readView(), (e: Error & { code?: string }) => e.code === 'E_IO');
    await conn.source.close();
    conn.sink.destroy();
  } finally {
    await l.close();
  }
});

test('a socket without a connection handle is not adopted and stays as it was', () => {
  const loose = new Socket();
  assert.equal(adoptAccepted(loose, new SlabSource().onread), undefined);
  assert.equal(loose.destroyed, false);
  loose.destroy();
});
