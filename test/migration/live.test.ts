import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationDestination } from '../../src/migration/destination.js';
import { createPipe } from '../../src/migration/pipe.js';
import { SampleMachine } from '../../src/migration/sample-machine.js';
import { MigrationSource } from '../../src/migration/source.js';

/** Source and destination in one process over two in-memory pipes (stream + reverse). */
async function migrateInProcess(src: SampleMachine, dst: SampleMachine, opts: ConstructorParameters<typeof MigrationSource>[1] = {}) {
  const forward = createPipe();
  const back = createPipe();
  const source = new MigrationSource(src, opts);
  const destination = new MigrationDestination(dst, { afterCommit: () => dst.hash() });
  const [out, inc] = await Promise.allSettled([
    source.migrate({ sink: forward.sink, reverse: back.source }),
    destination.receive({ source: forward.source, reply: back.sink }),
  ]);
  return { source, out, inc };
}

test('an idle machine migrates in one pass and the destination equals the source', async () => {
  const src = new SampleMachine({ ramMiB: 8 });
  src.fillRandom(3, 7);
  src.serial = { ...src.serial, scr: 0x42 };
  const dst = new SampleMachine({ ramMiB: 8 });
  const { out, inc } = await migrateInProcess(src, dst);
  assert.equal(out.status, 'fulfilled', out.status === 'rejected' ? String(out.reason) : '');
  assert.equal(inc.status, 'fulfilled');
  if (out.status !== 'fulfilled') return;
  const s = out.value.stats;
  assert.equal(s.status, 'completed');
  assert.equal(s.ram.normalPages, (3 << 20) / 4096 + 64); // 3 MiB random + the 256 KiB BIOS
  assert.equal(s.ram.zeroPages, (5 << 20) / 4096);
  assert.equal(out.value.report, await src.hash());
  assert.equal(dst.serial.scr, 0x42);
  assert.deepEqual(dst.cpu, src.cpu);
  assert.ok(s.downtimeMs !== undefined && s.downtimeMs >= 0);
});

test('a machine dirtying pages converges and the destination equals the source at switch-over', async () => {
  const src = new SampleMachine({ ramMiB: 32 });
  src.fillRandom(16, 3);
  src.startWorkload(20);
  const dst = new SampleMachine({ ramMiB: 32 });
  // A bandwidth limit makes the first pass take ~0.6 s, so the workload dirties pages during it.
  const { out } = await migrateInProcess(src, dst, { maxBandwidth: 30e6 });
  src.stopWorkload();
  assert.equal(out.status, 'fulfilled', out.status === 'rejected' ? String(out.reason) : '');
  if (out.status !== 'fulfilled') return;
  const s = out.value.stats;
  if (process.env['VERBOSE']) console.log(s);
  assert.ok(s.iterations >= 2, `iterations ${s.iterations}`);
  assert.ok(s.ram.dirtyPagesRate > 0);
  assert.equal(out.value.report, await src.hash());
  assert.ok(s.throughputMBps > 5 && s.throughputMBps < 40, `throughput ${s.throughputMBps}`);
});

test('a wrong machine type fails on both sides and leaves both machines as they were', async () => {
  const src = new SampleMachine({ ramMiB: 4 });
  src.fillRandom(1, 5);
  const dst = new SampleMachine({ ramMiB: 4, machineType: 'other' });
  const before = await dst.hash();
  const srcBefore = await src.hash();
  const { out, inc } = await migrateInProcess(src, dst);
  assert.equal(inc.status, 'rejected');
  assert.equal(inc.status === 'rejected' && inc.reason.code, 'E_MISMATCH');
  assert.equal(out.status, 'rejected');
  assert.equal(await dst.hash(), before);
  assert.equal(await src.hash(), srcBefore);
  assert.equal(src.isRunning, true);
});

test('a RAM size mismatch is refused before anything is applied', async () => {
  const src = new SampleMachine({ ramMiB: 4 });
  const dst = new SampleMachine({ ramMiB: 8 });
  const before = await dst.hash();
  const { inc } = await migrateInProcess(src, dst);
  assert.equal(inc.status === 'rejected' && inc.reason.code, 'E_MISMATCH');
  assert.equal(await dst.hash(), before);
});

test('the BER wire format: the source sends BER, the destination detects it and loads the same machine', async () => {
  const src = new SampleMachine({ ramMiB: 8 });
  src.fillRandom(3, 9);
  src.startWorkload(5);
  const dst = new SampleMachine({ ramMiB: 8 });
  const forward = createPipe();
  const back = createPipe();
  let firstBytes: Uint8Array | undefined;
  const tap = {
    write: (c: Uint8Array) => {
      firstBytes ??= c.slice(0, 4);
      return forward.sink.write(c);
    },
    close: () => forward.sink.close(),
    destroy: (e?: Error) => forward.sink.destroy(e),
  };
  const [out] = await Promise.all([
    new MigrationSource(src, { format: 'ber', maxBandwidth: 20e6 }).migrate({ sink: tap, reverse: back.source }),
    new MigrationDestination(dst, { afterCommit: () => dst.hash() }).receive({ source: forward.source, reply: back.sink }),
  ]);
  src.stopWorkload();
  assert.deepEqual([...firstBytes!], [0x7f, 0xd6, 0xcd, 0x53]);
  assert.equal(out.report, await src.hash());
});

test('live statistics, a live bandwidth change, and cancel: the machine runs on and the destination is unchanged', async () => {
  const src = new SampleMachine({ ramMiB: 64 });
  src.fillRandom(48, 4);
  const dst = new SampleMachine({ ramMiB: 64 });
  const pristine = await dst.hash();
  const forward = createPipe(1 << 20);
  const back = createPipe();
  const source = new MigrationSource(src, { maxBandwidth: 40e6 });
  const outgoing = source.migrate({ sink: forward.sink, reverse: back.source });
  const incoming = new MigrationDestination(dst).receive({ source: forward.source, reply: back.sink });
  await new Promise((r) => setTimeout(r, 300));
  const early = source.stats();
  assert.equal(early.status, 'active');
  assert.ok(early.transferredBytes > 0 && early.transferredBytes < 48 << 20);
  source.setMaxBandwidth(5e6);
  await new Promise((r) => setTimeout(r, 200)); // let the queue at the old rate drain
  const a = source.stats().transferredBytes;
  await new Promise((r) => setTimeout(r, 1000));
  const rate = source.stats().transferredBytes - a;
  assert.ok(rate > 2e6 && rate < 9e6, `about 5 MB in a second at 5 MB/s, got ${rate}`);
  assert.equal(source.stats().maxBandwidth, 5e6);
  source.cancel();
  await assert.rejects(outgoing, (e: { code?: string }) => e.code === 'E_CLOSED');
  await assert.rejects(incoming);
  assert.equal(source.stats().status, 'cancelled');
  assert.equal(src.isRunning, true);
  assert.equal(await dst.hash(), pristine);
});
