import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { GuestMemory } from '../../src/migration/guest-memory.js';
import type { MigratableMachine } from '../../src/migration/handlers.js';
import { PageBitmap } from '../../src/migration/page-bitmap.js';
import { RamSaveHandler } from '../../src/migration/ram-save.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MigrationSource } from '../../src/migration/source.js';
import { bufferView, pageIsZero, wordView, wordsAreZero } from '../../src/migration/zero-page.js';

test('PageBitmap: ranges across word edges, counts, scans, sync', () => {
  const b = new PageBitmap(100);
  b.setRange(30, 40); // 30..69: a partial word, a whole word, a partial word
  assert.equal(b.count(), 40);
  assert.equal(b.nextSet(0), 30);
  assert.equal(b.nextSet(69), 69);
  assert.equal(b.nextSet(70), -1);
  b.setAll();
  assert.equal(b.count(), 100);
  assert.equal(b.words[3], 0xf, 'bits past the last page stay clear');
  const log = new PageBitmap(100);
  log.set(99);
  const into = new PageBitmap(100);
  into.takeFrom(log);
  assert.equal(into.count(), 1);
  assert.equal(log.count(), 0);
});

test('zero-page detection looks at whole words, including the last one', () => {
  const page = new Uint8Array(4096);
  const w = wordView(page);
  assert.equal(wordsAreZero(w, 0, 1024), true);
  page[4095] = 1;
  assert.equal(wordsAreZero(w, 0, 1024), false);
  page[4095] = 0;
  page[0] = 0x80;
  assert.equal(wordsAreZero(w, 0, 1024), false);
});

test('markDirty logs only while a migration logs, and marks every page a write touches', () => {
  const m = new GuestMemory();
  m.addBlock('ram', 4 * 4096);
  m.markDirty(0, 0, 4);
  assert.equal(m.dirtyPages(), 0);
  m.startDirtyLog();
  m.markDirty('ram', 4095, 2); // straddles pages 0 and 1
  m.markDirty(0, 3 * 4096, 1);
  assert.equal(m.dirtyPages(), 3);
  assert.throws(() => m.markDirty(0, 4 * 4096, 1), (e: { code?: string }) => e.code === 'E_USAGE');
});

test('golden bytes: an idle two-block machine gives QEMU RAM records (MEM_SIZE, ZERO, PAGE, CONTINUE, EOS) and footers', async () => {
  const memory = new GuestMemory();
  memory.addBlock('a', 2 * 4096);
  memory.addBlock('rom', 4096);
  memory.bytesOf(0).fill(0xab, 4096, 8192); // page 1 of "a" is non-zero
  memory.markDirty(0, 4096, 4096);
  const machine: MigratableMachine = { machineType: 'm', memory, devices: [], stop() {}, resume() {} };
  const sink = new MemorySink();
  await new MigrationSource(machine).migrate({ sink });
  const b = sink.bytes();
  const expected = Uint8Array.of(
    0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3, //                  "QEVM", version 3
    0x07, 0, 0, 0, 1, 0x6d, //                             CONFIGURATION, be32 1, "m"
    0x01, 0, 0, 0, 0, 3, 0x72, 0x61, 0x6d, 0, 0, 0, 0, 0, 0, 0, 4, // START id 0 "ram" instance 0 version 4
    0, 0, 0, 0, 0, 0, 0x30, 0x04, //                       total 0x3000 | MEM_SIZE
    1, 0x61, 0, 0, 0, 0, 0, 0, 0x20, 0, //                 "a", 0x2000
    3, 0x72, 0x6f, 0x6d, 0, 0, 0, 0, 0, 0, 0x10, 0, //     "rom", 0x1000
    0, 0, 0, 0, 0, 0, 0, 0x10, //                          EOS
    0x7e, 0, 0, 0, 0, //                                   footer, section 0
  );
  assert.deepEqual([...b.subarray(0, expected.length)], [...expected]);
  // The first PART: offset 0 | ZERO with the block name, fill 0; then offset 0x1000 | PAGE | CONTINUE.
  const part = b.subarray(expected.length);
  assert.deepEqual([...part.subarray(0, 5)], [0x02, 0, 0, 0, 0]);
  assert.deepEqual([...part.subarray(5, 5 + 8 + 2 + 1)], [0, 0, 0, 0, 0, 0, 0, 0x02, 1, 0x61, 0]);
  assert.deepEqual([...part.subarray(16, 24)], [0, 0, 0, 0, 0, 0, 0x10, 0x28]);
  assert.equal(part[24], 0xab);
  assert.equal(part[24 + 4095], 0xab);
  // Then the other block is named again (no CONTINUE): offset 0 | ZERO, "rom", fill 0, EOS, footer.
  const next = part.subarray(24 + 4096);
  assert.deepEqual([...next.subarray(0, 8 + 4 + 1 + 8 + 5)], [0, 0, 0, 0, 0, 0, 0, 0x02, 3, 0x72, 0x6f, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x7e, 0, 0, 0, 0]);
  // The stream ends with END (EOS only), EOF and the vmdesc trailer.
  const tail = next.subarray(26);
  assert.deepEqual([...tail.subarray(0, 5 + 8 + 5 + 1 + 1)], [0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x7e, 0, 0, 0, 0, 0x00, 0x06]);
});

test('pageIsZero: a page whose first words are zero is still checked to its last byte, at any page offset', () => {
  const block = new Uint8Array(3 * 4096);
  const words = wordView(block);
  const bytes = bufferView(block);
  for (let p = 0; p < 3; p++) assert.equal(pageIsZero(words, bytes, p * 4096, 4096), true);
  block[2 * 4096 - 1] = 1; // last byte of page 1
  assert.equal(pageIsZero(words, bytes, 4096, 4096), false);
  assert.equal(pageIsZero(words, bytes, 0, 4096), true);
  assert.equal(pageIsZero(words, bytes, 2 * 4096, 4096), true);
  block[2 * 4096 + 2] = 7; // within the first words of page 2
  assert.equal(pageIsZero(words, bytes, 2 * 4096, 4096), false);
  // Larger pages than any seen before grow the shared zero page.
  const big = new Uint8Array(1 << 16);
  assert.equal(pageIsZero(wordView(big), bufferView(big), 0, 1 << 16), true);
  big[(1 << 16) - 1] = 1;
  assert.equal(pageIsZero(wordView(big), bufferView(big), 0, 1 << 16), false);
});

test('the RAM handler keeps its pages-to-send count exact across partial sections and dirty-log syncs', async () => {
  const memory = new GuestMemory();
  memory.addBlock('a', 64 * 4096);
  memory.addBlock('b', 16 * 4096);
  memory.bytesOf(0).fill(0x11, 0, 8 * 4096);
  memory.markDirty(0, 0, 8 * 4096);
  const ram = new RamSaveHandler(memory);
  const w = new ChannelWriter(new MemorySink());
  ram.setup(w);
  assert.equal(ram.pagesToSend(), 80);
  assert.equal(ram.iterate(w, 5 * 4096), 'more'); // stops after ~5 full pages' worth of bytes
  const left = ram.pagesToSend();
  assert.ok(left > 0 && left < 80, `left ${left}`);
  memory.markDirty(0, 0, 4096); // already sent: comes back
  memory.markDirty(1, 15 * 4096, 1); // still pending: counted once
  assert.equal(ram.syncPending(), (left + 1) * 4096);
  while (ram.iterate(w, 1 << 20) === 'more');
  assert.equal(ram.pagesToSend(), 0);
  assert.equal(ram.pendingEstimate(), 0);
  ram.cleanup();
  await w.flushAll();
});
