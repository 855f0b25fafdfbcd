import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { listen, openDuplex } from '../../src/channel/open.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import { LiveSampleMachine } from '../../src/migration/live-machine.js';
import { MigrationSource } from '../../src/migration/source.js';
import { StallGuardSource } from '../../src/migration/stall-guard.js';
import { cuttingProxy, receiveOnce, spawnReceiver } from './helpers.js';

function sourceMachine(ramMiB: number, randomMiB: number): LiveSampleMachine {
  const m = new LiveSampleMachine({ ramMiB });
  m.fillRandom(randomMiB, 21);
  m.serial = { ...m.serial, mcr: 0x1a };
  return m;
}

test('connections cut at random points: both sides fail cleanly, the source keeps its state, a retry succeeds', async () => {
  const listener = await listen('tcp:127.0.0.1:0');
  const port = listener.port!;
  const src = sourceMachine(8, 4); // a stream of about 4.3 MB
  const srcHash = await src.hash();
  const dst = new LiveSampleMachine({ ramMiB: 8 });
  const pristine = await dst.hash();
  // Fixed "random" points: at once, inside the header, inside RAM setup, mid-pages, near the end.
  let seed = 12345;
  const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const points = [0, 3, 40, 4096 + rnd(4096), 100_000 + rnd(1_000_000), 2_000_000 + rnd(2_000_000), 4_200_000];
  try {
    for (const cutAfter of points) {
      const proxy = await cuttingProxy(port, cutAfter);
      const incoming = receiveOnce(listener, dst, 3000).then(
        () => 'committed',
        (e: { code?: string }) => e.code ?? 'error',
      );
      const conn = await openDuplex(`tcp:127.0.0.1:${proxy.port}`);
      const outcome = await new MigrationSource(src, { stallTimeoutMs: 3000 }).migrate({ sink: conn.sink, reverse: conn.source }).then(
        () => 'completed',
        (e: { code?: string }) => e.code ?? 'error',
      );
      proxy.close();
      assert.notEqual(outcome, 'completed', `cut after ${cutAfter}`);
      assert.notEqual(await incoming, 'committed', `cut after ${cutAfter}`);
      assert.equal(src.isRunning, true, 'the source runs on');
      assert.equal(await src.hash(), srcHash, 'the source state is intact');
      assert.equal(await dst.hash(), pristine, `the destination discarded what it got (cut after ${cutAfter})`);
    }
    // A retry over a good connection succeeds.
    const incoming = receiveOnce(listener, dst);
    const conn = await openDuplex(listener.uri);
    const r = await new MigrationSource(src).migrate({ sink: conn.sink, reverse: conn.source });
    await incoming;
    assert.deepEqual(r.report, { hash: srcHash });
    assert.equal(dst.serial.mcr, 0x1a);
  } finally {
    await listener.close();
  }
});

test('a destination process killed mid-stream: the source fails, keeps running intact, and a retry succeeds', async () => {
  const src = sourceMachine(48, 32);
  const srcHash = await src.hash();
  const first = await spawnReceiver(48);
  const source = new MigrationSource(src, { maxBandwidth: 40e6, stallTimeoutMs: 3000 });
  let killedAt = 0;
  source.on('progress', (s: { transferredBytes: number }) => {
    if (killedAt === 0 && s.transferredBytes > 8 << 20) {
      killedAt = s.transferredBytes;
      first.child.kill('SIGKILL');
    }
  });
  const conn = await openDuplex(first.uri);
  await assert.rejects(source.migrate({ sink: conn.sink, reverse: conn.source }), (e: { code?: string }) => ['E_IO', 'E_CLOSED', 'E_TIMEOUT'].includes(e.code ?? ''));
  assert.ok(killedAt > 0);
  assert.equal(source.stats().status, 'failed');
  assert.equal(src.isRunning, true);
  assert.equal(await src.hash(), srcHash);

  const second = await spawnReceiver(48);
  const conn2 = await openDuplex(second.uri);
  source.setMaxBandwidth(0);
  const r = await source.migrate({ sink: conn2.sink, reverse: conn2.source });
  assert.deepEqual(r.report, { hash: srcHash });
  const out = JSON.parse((await second.output).trim().split('\n').pop()!) as { status: string; hash: string };
  assert.equal(out.status, 'completed');
  assert.equal(out.hash, srcHash);
});

test('a destination that stops reading: the source times out, keeps running, and its state is intact', async () => {
  const server = net.createServer((s) => s.pause()); // accepts, never reads
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const src = sourceMachine(64, 48);
  const srcHash = await src.hash();
  try {
    const conn = await openDuplex(`tcp:127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const started = performance.now();
    const source = new MigrationSource(src, { stallTimeoutMs: 500 });
    await assert.rejects(source.migrate({ sink: conn.sink, reverse: conn.source }), (e: { code?: string }) => e.code === 'E_TIMEOUT');
    assert.ok(performance.now() - started < 10_000);
    assert.equal(source.stats().status, 'failed');
    assert.equal(source.stats().error?.code, 'E_TIMEOUT');
    assert.equal(src.isRunning, true);
    assert.equal(await src.hash(), srcHash);
  } finally {
    server.close();
  }
});

test('a source that stalls mid-stream: the destination times out and discards what it got', async () => {
  const listener = await listen('tcp:127.0.0.1:0');
  const dst = new LiveSampleMachine({ ramMiB: 4 });
  const pristine = await dst.hash();
  try {
    const incoming = (async () => {
      const conn = await listener.accept();
      return new MigrationDestination(dst, { stallTimeoutMs: 300 }).receive({ source: conn.source, reply: conn.sink });
    })();
    const client = net.connect(listener.port!, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    client.write(Uint8Array.of(0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3)); // header, then silence
    await assert.rejects(incoming, (e: { code?: string; offset?: number }) => e.code === 'E_TIMEOUT');
    client.destroy();
    assert.equal(await dst.hash(), pristine);
  } finally {
    await listener.close();
  }
});

test('the stall guard fails a read that gets no bytes in time and passes reads that do', async () => {
  let answer: ((n: number) => void) | undefined;
  const inner = {
    read: (into: Uint8Array) =>
      new Promise<number>((resolve) => {
        into[0] = 9;
        answer = resolve;
      }),
    close: async () => undefined,
  };
  const guard = new StallGuardSource(inner, 80);
  const buf = new Uint8Array(4);
  const first = guard.read(buf);
  answer!(1);
  assert.equal(await first, 1);
  const t0 = performance.now();
  await assert.rejects(guard.read(buf), (e: { code?: string; offset?: number }) => e.code === 'E_TIMEOUT' && e.offset === 1);
  const waited = performance.now() - t0;
  assert.ok(waited >= 75 && waited < 1000, `waited ${waited} ms`);
  await guard.close();
});
