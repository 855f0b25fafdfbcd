import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import { createPipe } from '../../src/migration/pipe.js';
import { LiveSampleMachine } from '../../src/migration/live-machine.js';
import { MigrationSource } from '../../src/migration/source.js';
import { machineDifferences } from '../../src/sample/machine.js';
import { parseVmdesc } from '../../src/stream/vmdesc.js';

/** Source and destination in one process over two in-memory pipes (stream + reverse). */
async function migrateInProcess(src: LiveSampleMachine, dst: LiveSampleMachine, opts: ConstructorParameters<typeof MigrationSource>[1] = {}) {
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
  const src = new LiveSampleMachine({ ramMiB: 8 });
  src.fillRandom(3, 7);
  src.serial = { ...src.serial, mcr: 0x12 };
  const dst = new LiveSampleMachine({ ramMiB: 8 });
  const { out, inc } = await migrateInProcess(src, dst);
  assert.equal(out.status, 'fulfilled', out.status === 'rejected' ? String(out.reason) : '');
  assert.equal(inc.status, 'fulfilled');
  if (out.status !== 'fulfilled') return;
  const s = out.value.stats;
  assert.equal(s.status, 'completed');
  assert.equal(s.ram.normalPages, (3 << 20) / 4096 + (1 << 20) / 4096 + 16); // 3 MiB random + the sample's 1 MiB vga.vram and 64 KiB pc.rom
  assert.equal(s.ram.zeroPages, (5 << 20) / 4096);
  assert.equal(out.value.report, await src.hash());
  assert.equal(dst.serial.mcr, 0x12);
  assert.deepEqual(dst.cpu, src.cpu);
  assert.deepEqual(machineDifferences(dst.snapshot(), src.snapshot()), []);
  assert.ok(s.downtimeMs !== undefined && s.downtimeMs >= 0);
});

test('a machine dirtying pages converges and the destination equals the source at switch-over', async () => {
  const src = new LiveSampleMachine({ ramMiB: 32 });
  src.fillRandom(16, 3);
  src.startWorkload(20);
  const dst = new LiveSampleMachine({ ramMiB: 32 });
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
  const src = new LiveSampleMachine({ ramMiB: 4 });
  src.fillRandom(1, 5);
  const dst = new LiveSampleMachine({ ramMiB: 4, machineType: 'other' });
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
  const src = new LiveSampleMachine({ ramMiB: 4 });
  const dst = new LiveSampleMachine({ ramMiB: 8 });
  const before = await dst.hash();
  const { inc } = await migrateInProcess(src, dst);
  assert.equal(inc.status === 'rejected' && inc.reason.code, 'E_MISMATCH');
  assert.equal(await dst.hash(), before);
});

test('the BER wire format: the source sends BER, the destination detects it and loads the same machine', async () => {
  const src = new LiveSampleMachine({ ramMiB: 8 });
  src.fillRandom(3, 9);
  src.startWorkload(5);
  const dst = new LiveSampleMachine({ ramMiB: 8 });
  const forward = createPipe();
  const back = createPipe();
  let firstBytes: Uint8Array | undefined;
  let wireBytes = 0;
  const tap = {
    write: (c: Uint8Array) => {
      firstBytes ??= c.slice(0, 4);
      wireBytes += c.length;
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
  // The statistics count the BER bytes that went out, not the binary stream they encode.
  assert.equal(out.stats.transferredBytes, wireBytes);
  assert.notEqual(out.stats.transferredBytes, out.stats.ram.transferred);
  // Passes wait for the bytes in flight: without that wait BER migrations ran 40,000+ empty passes.
  assert.ok(out.stats.iterations < 1000, `${out.stats.iterations} passes`);
});

test('live statistics, a live bandwidth change, and cancel: the machine runs on and the destination is unchanged', async () => {
  const src = new LiveSampleMachine({ ramMiB: 64 });
  src.fillRandom(48, 4);
  const dst = new LiveSampleMachine({ ramMiB: 64 });
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

test('the switch-over cost is measured and carried to the next migration from the same source', async () => {
  const src = new LiveSampleMachine({ ramMiB: 8 });
  src.fillRandom(2, 12);
  const source = new MigrationSource(src, { downtimeLimitMs: 400 });
  const before = source.stats().switchoverMs;
  for (let i = 0; i < 2; i++) {
    const dst = new LiveSampleMachine({ ramMiB: 8 });
    const forward = createPipe();
    const back = createPipe();
    const [out] = await Promise.all([
      source.migrate({ sink: forward.sink, reverse: back.source }),
      new MigrationDestination(dst).receive({ source: forward.source, reply: back.sink }),
    ]);
    const s = out.stats;
    assert.ok(Number.isFinite(s.switchoverMs) && s.switchoverMs >= 0 && s.switchoverMs <= 200, `switchover ${s.switchoverMs}`);
    // The expected downtime counts the fixed cost on top of the bytes still to send.
    assert.ok(s.expectedDowntimeMs >= before / 2 || s.expectedDowntimeMs >= s.switchoverMs, `expected ${s.expectedDowntimeMs}`);
  }
  // Two in-process switch-overs cost far less than the first guess: the estimate moved towards them.
  assert.notEqual(source.stats().switchoverMs, before);
});

test('the vmdesc trailer describes each device field by field (QEMU JSON), so dump shows fields', async () => {
  const src = new LiveSampleMachine({ ramMiB: 4 });
  src.fillRandom(1, 3);
  const sink = new MemorySink();
  await new MigrationSource(src).migrate({ sink });
  const bytes = sink.bytes();
  // The trailer is the last thing: 0x06, be32 length, JSON.
  const text = Buffer.from(bytes).toString('latin1');
  const at = text.lastIndexOf('{"page_size"');
  assert.ok(at > 0);
  const desc = parseVmdesc(bytes.subarray(at), at);
  const cpu = desc.devices.find((d) => d.name === 'cpu');
  assert.equal(cpu?.vmsd_name, 'cpu');
  assert.deepEqual(
    cpu?.fields?.map((f) => f.name),
    ['regs', 'rip', 'rflags', 'cr', 'halted', 'tsc'],
  );
  assert.equal(cpu?.fields?.[0]?.size, 8);
  const nic = desc.devices.find((d) => d.name === 'nic');
  assert.ok(nic?.fields?.some((f) => f.name === 'mac' && f.size === 6));
});
