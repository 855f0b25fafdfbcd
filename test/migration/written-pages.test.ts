import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChannelReader } from '../../src/channel/reader.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { GuestMemory } from '../../src/migration/guest-memory.js';
import type { MigratableMachine } from '../../src/migration/handlers.js';
import { LiveSampleMachine } from '../../src/migration/live-machine.js';
import { PageBitmap } from '../../src/migration/page-bitmap.js';
import { RamLoadHandler } from '../../src/migration/ram-load.js';
import { createPipe } from '../../src/migration/pipe.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import { MigrationSource } from '../../src/migration/source.js';

const PS = 4096;

/** The set pages of a bitmap, in order. */
function pagesOf(bm: PageBitmap): number[] {
  const out: number[] = [];
  for (let p = bm.nextSet(0); p >= 0; p = bm.nextSet(p + 1)) out.push(p);
  return out;
}

test('GuestMemory remembers written pages at all times; dirty marks only while a migration logs', () => {
  const m = new GuestMemory();
  m.addBlock('ram', 4 * PS);
  assert.deepEqual(pagesOf(m.blocks[0]!.written), [], 'a block allocated zeroed has no written page');
  m.markDirty(0, PS - 1, 2); // straddles pages 0 and 1, no migration logging
  assert.deepEqual(pagesOf(m.blocks[0]!.written), [0, 1]);
  assert.equal(m.dirtyPages(), 0);
  m.startDirtyLog();
  m.markDirty('ram', 3 * PS, 1);
  assert.deepEqual(pagesOf(m.blocks[0]!.written), [0, 1, 3]);
  assert.equal(m.dirtyPages(), 1);
  m.stopDirtyLog();
  for (const [offset, length] of [[4 * PS, 1], [-1, 2], [Number.NaN, 1]] as const) {
    assert.throws(() => m.markDirty(0, offset, length), (e: { code?: string }) => e.code === 'E_USAGE', `${offset}+${length}`);
  }
  // Contents from outside are unknown: every page counts as written.
  m.addBlock('rom', new Uint8Array(2 * PS));
  assert.deepEqual(pagesOf(m.blocks[1]!.written), [0, 1]);
  // A committed replacement is all written, unless the caller says which pages may be non-zero.
  m.replaceBlock(0, new Uint8Array(4 * PS));
  assert.deepEqual(pagesOf(m.blocks[0]!.written), [0, 1, 2, 3]);
  const only2 = new PageBitmap(4);
  only2.set(2);
  m.replaceBlock(0, new Uint8Array(4 * PS), only2);
  assert.deepEqual(pagesOf(m.blocks[0]!.written), [2]);
  only2.set(0); // copied, not kept
  assert.deepEqual(pagesOf(m.blocks[0]!.written), [2]);
  assert.throws(() => m.replaceBlock(0, new Uint8Array(4 * PS), new PageBitmap(3)), (e: { code?: string }) => e.code === 'E_USAGE');
});

test('the RAM handler sends never-written pages as ZERO records without reading them, written ones by content', async () => {
  const memory = new GuestMemory();
  memory.addBlock('a', 4 * PS);
  const ram = memory.bytesOf(0);
  // Page 0 holds bytes nobody reported: the handler trusts the written bitmap and does not read it.
  ram.fill(0x22, 0, PS);
  ram.fill(0x33, PS, 2 * PS); // page 1: written and reported
  memory.markDirty(0, PS, PS);
  memory.markDirty(0, 2 * PS, 8); // page 2: reported but still zero, so found zero by reading
  const machine: MigratableMachine = { machineType: 'm', memory, devices: [], stop() {}, resume() {} };
  const sink = new MemorySink();
  const result = await new MigrationSource(machine).migrate({ sink });
  assert.equal(result.stats.ram.zeroPages, 3);
  assert.equal(result.stats.ram.normalPages, 1);
  const bytes = Buffer.from(sink.bytes());
  assert.equal(bytes.indexOf(Buffer.alloc(16, 0x22)), -1, 'the unreported page is not on the wire');
  const page1 = bytes.indexOf(Buffer.alloc(PS, 0x33));
  assert.ok(page1 > 0);
  // Its record header: be64 offset 0x1000 | PAGE (0x08) | CONTINUE (0x20), the block named on page 0's record.
  assert.deepEqual([...bytes.subarray(page1 - 8, page1)], [0, 0, 0, 0, 0, 0, 0x10, 0x28]);
});

test('the sample machine reports its own writes: load() and fillRandom() mark exactly the pages they write', () => {
  const m = new LiveSampleMachine({ ramMiB: 1 });
  const written = (i: number): number[] => pagesOf(m.memory.blocks[i]!.written);
  assert.deepEqual(written(0), []);
  m.load(0, PS + 10, new Uint8Array(PS)); // pages 1 and 2
  assert.deepEqual(written(0), [1, 2]);
  assert.throws(() => m.load(0, (1 << 20) - 4, new Uint8Array(8)), (e: { code?: string }) => e.code === 'E_USAGE');
  m.fillRandom(0, 3); // device state and the small blocks; no pc.ram
  assert.deepEqual(written(0), [1, 2]);
  for (let i = 1; i < m.memory.blocks.length; i++) assert.equal(m.memory.blocks[i]!.written.full(), true, m.memory.blocks[i]!.name);
});

test('a migrated machine can migrate on: its committed RAM counts as written, so it goes out whole', async () => {
  const a = new LiveSampleMachine({ ramMiB: 4 });
  a.fillRandom(2, 8);
  const b = new LiveSampleMachine({ ramMiB: 4 });
  const c = new LiveSampleMachine({ ramMiB: 4 });
  for (const [from, to] of [[a, b], [b, c]] as const) {
    const forward = createPipe();
    const back = createPipe();
    const [out] = await Promise.all([
      new MigrationSource(from).migrate({ sink: forward.sink, reverse: back.source }),
      new MigrationDestination(to, { afterCommit: () => to.hash() }).receive({ source: forward.source, reply: back.sink }),
    ]);
    assert.equal(out.report, await from.hash());
  }
  assert.equal(await c.hash(), await a.hash());
});

test('once completed, the bandwidth is the average over the transfer time (QEMU migration_calculate_complete)', async () => {
  const src = new LiveSampleMachine({ ramMiB: 16 });
  src.fillRandom(4, 2);
  const dst = new LiveSampleMachine({ ramMiB: 16 });
  const forward = createPipe();
  const back = createPipe();
  const [out] = await Promise.all([
    new MigrationSource(src).migrate({ sink: forward.sink, reverse: back.source }),
    new MigrationDestination(dst).receive({ source: forward.source, reply: back.sink }),
  ]);
  const s = out.stats;
  const average = (s.transferredBytes * 1000) / (s.totalTimeMs - s.setupTimeMs);
  assert.ok(Math.abs(s.bandwidth - average) <= average * 1e-9, `bandwidth ${s.bandwidth} vs average ${average}`);
  assert.ok(Math.abs(s.ram.mbps - (s.bandwidth * 8) / 1e6) < 1e-6);
});

test('a destination committing a partial RAM stream page by page reports those writes, so they migrate on', async () => {
  const memory = new GuestMemory();
  memory.addBlock('a', 4 * PS);
  // START: MEM_SIZE 0x4000 with block "a"; END: one PAGE record for page 2 (0x2000 | PAGE), EOS.
  const sink = new MemorySink();
  const w = new ChannelWriter(sink);
  w.u64Split(0, 0x4000 | 0x04).countedString('a').u64Split(0, 0x4000).u64Split(0, 0x10);
  w.u64Split(0, 0x2000 | 0x08).countedString('a').bytes(new Uint8Array(PS).fill(0x5c)).u64Split(0, 0x10);
  await w.close();
  const r = new ChannelReader(new MemorySource(sink.bytes()));
  const load = new RamLoadHandler(memory);
  await load.loadSection(r, 'start', 0, 4);
  await load.loadSection(r, 'end', 0, 4);
  load.commit();
  assert.equal(memory.bytesOf(0)[2 * PS], 0x5c);
  assert.deepEqual(pagesOf(memory.blocks[0]!.written), [2]);
  // Migrating on sends page 2 whole and the others, never written, as ZERO records.
  const machine: MigratableMachine = { machineType: 'm', memory, devices: [], stop() {}, resume() {} };
  const out = await new MigrationSource(machine).migrate({ sink: new MemorySink() });
  assert.equal(out.stats.ram.normalPages, 1);
  assert.equal(out.stats.ram.zeroPages, 3);
});
