import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import { GuestMemory } from '../../src/migration/guest-memory.js';
import { LiveSampleMachine } from '../../src/migration/live-machine.js';
import { RamStaging } from '../../src/migration/ram-staging.js';
import { MigrationSource } from '../../src/migration/source.js';
import { RamFlag } from '../../src/stream/constants.js';
import { readStream } from '../../src/stream/reader.js';

/** A whole migration stream of `m` (no return path), as bytes. */
async function streamOf(m: LiveSampleMachine): Promise<Uint8Array> {
  const sink = new MemorySink();
  await new MigrationSource(m).migrate({ sink });
  return sink.bytes();
}

/** `randomMiB` of pc.ram random, the rest zero; devices, vram and ROM from `seed` (a device left at its reset state may skip subsections, and a skipped subsection keeps the destination's values, as in QEMU). */
function machine(ramMiB: number, randomMiB: number, seed: number): LiveSampleMachine {
  const m = new LiveSampleMachine({ ramMiB });
  m.fillRandom(randomMiB, seed);
  return m;
}

test('prepared staging: buffers are made and touched up front, reused, and swapped with RAM on install', () => {
  const mem = new GuestMemory(4096);
  mem.addBlock('a', 8 * 4096);
  mem.addBlock('b', 4 * 4096);
  const staging = new RamStaging(mem);
  assert.equal(staging.keptBytes, 0);
  staging.prepare();
  assert.equal(staging.isPrepared, true);
  assert.equal(staging.keptBytes, 12 * 4096);

  const first = staging.acquire(0);
  assert.equal(first.knownZero, true, 'a prepared buffer is zero until a migration writes it');
  assert.equal(first.touched, true);
  assert.ok(first.bytes.every((b) => b === 0));
  const again = staging.acquire(0);
  assert.equal(again.bytes, first.bytes, 'the same buffer is reused');
  assert.equal(again.knownZero, false, 'once handed out it may hold stale pages');

  const ramBefore = mem.bytesOf(0);
  first.bytes.fill(7);
  staging.install(0, first.bytes);
  assert.equal(mem.bytesOf(0), first.bytes, 'the staging buffer became the RAM');
  const next = staging.acquire(0);
  assert.equal(next.bytes, ramBefore, 'the old RAM buffer is the next staging area');
  assert.equal(next.knownZero, false);
  assert.equal(next.touched, false, 'the machine may never have written some of its pages');
  staging.prepare();
  const touched = staging.acquire(0);
  assert.equal(touched.bytes, ramBefore, 'preparing again keeps the buffer');
  assert.equal(touched.touched, true);
  assert.equal(staging.acquire(1).touched, true);
  assert.equal(staging.keptBytes, 12 * 4096, 'still one staging buffer per block');
});

test('staging on demand: a fresh zeroed buffer per migration, nothing kept', () => {
  const mem = new GuestMemory(4096);
  mem.addBlock('a', 4 * 4096);
  const staging = new RamStaging(mem);
  const one = staging.acquire(0);
  const two = staging.acquire(0);
  assert.notEqual(one.bytes, two.bytes);
  assert.equal(one.knownZero, true);
  assert.equal(two.knownZero, true);
  const old = mem.bytesOf(0);
  staging.install(0, one.bytes);
  assert.equal(mem.bytesOf(0), one.bytes);
  assert.notEqual(staging.acquire(0).bytes, old);
  assert.equal(staging.keptBytes, 0);
});

test('prealloc: three migrations into one destination reuse both buffers and each commit equals its source', async () => {
  const dst = new LiveSampleMachine({ ramMiB: 4 });
  const dest = new MigrationDestination(dst, { prealloc: true });
  assert.ok(dest.stagingBytes >= 4 << 20, `staging ${dest.stagingBytes} bytes`);
  // The third source's RAM is zero where the first two wrote random bytes: its zero pages
  // land in the first migration's buffer (RAM -> staging -> RAM -> staging) and must be written.
  for (const [randomMiB, seed] of [
    [3, 11],
    [2, 12],
    [0, 13],
  ] as const) {
    const src = machine(4, randomMiB, seed);
    const r = await dest.receive({ source: new MemorySource(await streamOf(src), 100_003) });
    assert.ok(r.ramPages > 0);
    dest.prepare();
    assert.equal(await dst.hash(), await src.hash(), `after the migration of ${randomMiB} MiB random (seed ${seed})`);
  }
});

test('prealloc: a failed migration leaves the machine as it was, and a retry with zero pages over the stale staging commits exactly', async () => {
  const dst = new LiveSampleMachine({ ramMiB: 4 });
  const pristine = await dst.hash();
  const dest = new MigrationDestination(dst, { prealloc: true });
  const noisy = await streamOf(machine(4, 4, 5));
  // Cut near the end: almost every page of the noisy stream reached staging.
  await assert.rejects(dest.receive({ source: new MemorySource(noisy.subarray(0, noisy.length - 100)) }), (e: { code?: string }) => e.code === 'E_TRUNCATED');
  assert.equal(dest.status, 'failed');
  assert.equal(await dst.hash(), pristine, 'nothing was applied');
  const quiet = machine(4, 1, 6); // 3 of 4 MiB are zero pages now
  await dest.receive({ source: new MemorySource(await streamOf(quiet)) });
  assert.equal(dest.status, 'completed');
  assert.equal(await dst.hash(), await quiet.hash());
});

test('prealloc: a committed block knows its zero pages, and a handed-back RAM buffer is not written where its bitmap says zero', async () => {
  const dst = new LiveSampleMachine({ ramMiB: 4 });
  const dest = new MigrationDestination(dst, { prealloc: true });
  const original = dst.memory.bytesOf(0); // never written: its written bitmap is all clear
  const first = machine(4, 1, 21); // pc.ram: 1 MiB random, 3 MiB zero
  await dest.receive({ source: new MemorySource(await streamOf(first)) });
  assert.equal(await dst.hash(), await first.hash());
  // After commit the written bitmap is what arrived: the random pages, not the zero ones.
  const written = dst.memory.blocks[0]!.written;
  const pages = (1 << 20) / dst.memory.pageSize;
  assert.equal(written.count(), pages, 'exactly the random pages count as written');
  assert.ok(written.get(0) && !written.get(pages));
  // The original buffer is the staging area now. Mark a page its bitmap calls zero, behind the
  // bitmap's back: a zero page arriving there is not written, so the mark survives the commit.
  assert.notEqual(dst.memory.bytesOf(0), original);
  const page = 3 * pages; // 3 MiB in: zero in the next source too
  original[page * dst.memory.pageSize] = 0xa5;
  const second = machine(4, 2, 22);
  await dest.receive({ source: new MemorySource(await streamOf(second)) });
  assert.equal(dst.memory.bytesOf(0), original, 'the original buffer is RAM again');
  assert.equal(original[page * dst.memory.pageSize], 0xa5, 'a page known to be zero was written anyway');
  // Every page the bitmap did not vouch for holds the source's bytes.
  original[page * dst.memory.pageSize] = 0;
  assert.equal(await dst.hash(), await second.hash());
});

test('without prealloc nothing is kept between migrations and commits are still exact', async () => {
  const dst = new LiveSampleMachine({ ramMiB: 4 });
  const dest = new MigrationDestination(dst);
  assert.equal(dest.stagingBytes, 0);
  for (const [randomMiB, seed] of [
    [4, 1],
    [0, 2],
  ] as const) {
    const src = machine(4, randomMiB, seed);
    await dest.receive({ source: new MemorySource(await streamOf(src)) });
    assert.equal(await dst.hash(), await src.hash());
  }
  assert.equal(dest.stagingBytes, 0);
});

/** Offsets of the PAGE+CONTINUE records in `stream` (their header words). */
async function continuedPageRecords(stream: Uint8Array): Promise<number[]> {
  const at: number[] = [];
  await readStream(stream, { ramPage: (p) => void (p.kind === 'page' && (p.flags & RamFlag.CONTINUE) !== 0 && at.push(p.recordOffset)) });
  return at;
}

test('a bad record inside a run of CONTINUE pages is reported as the stream decoder reports it, and nothing is applied', async () => {
  const stream = await streamOf(machine(4, 2, 8));
  const records = await continuedPageRecords(stream);
  assert.ok(records.length > 100);
  const victim = records[Math.floor(records.length / 2)]!;
  const dst = new LiveSampleMachine({ ramMiB: 4 });
  const pristine = await dst.hash();
  const dest = new MigrationDestination(dst, { prealloc: true });
  const cases: [string, (b: Uint8Array) => void, string][] = [
    ['past the block end', (b) => new DataView(b.buffer, b.byteOffset).setUint32(victim, 1, false), 'E_FORMAT'],
    ['unknown flags', (b) => (b[victim + 6]! |= 0x02), 'E_FORMAT'], // flag 0x200 beside CONTINUE|PAGE
  ];
  for (const [what, corrupt, code] of cases) {
    const bad = stream.slice();
    corrupt(bad);
    for (const piece of [1 << 20, 4105]) {
      await assert.rejects(
        dest.receive({ source: new MemorySource(bad, piece) }),
        (e: { code?: string; offset?: number }) => e.code === code && e.offset === victim,
        `${what}, pieces of ${piece}`,
      );
      assert.equal(await dst.hash(), pristine);
    }
  }
  const good = machine(4, 2, 8);
  await dest.receive({ source: new MemorySource(stream) });
  assert.equal(await dst.hash(), await good.hash());
});
