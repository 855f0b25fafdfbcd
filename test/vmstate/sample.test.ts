/** The sample machine: deterministic generation, image save/load, equality and corruption. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { isVmsError } from '../../src/errors.js';
import {
  SAMPLE_PAGE_SIZE,
  freshMachine,
  generateMachine,
  loadMachine,
  machineDifferences,
  machinesEqual,
  saveMachine,
} from '../../src/sample/index.js';
import type { SampleMachine } from '../../src/sample/index.js';

async function image(m: SampleMachine): Promise<{ bytes: Uint8Array; zero: number; raw: number }> {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink);
  const stats = await saveMachine(m, w);
  await w.close();
  const bytes = sink.bytes();
  assert.equal(stats.bytes, bytes.length);
  return { bytes, zero: stats.zeroPages, raw: stats.rawPages };
}

test('the generator is deterministic per seed and has both zero and non-zero pages', () => {
  const a = generateMachine(42, { ramMiB: 1 });
  const b = generateMachine(42, { ramMiB: 1 });
  const c = generateMachine(43, { ramMiB: 1 });
  assert.ok(machinesEqual(a, b));
  assert.ok(!machinesEqual(a, c));
  assert.ok(machineDifferences(a, c).length > 0);
  const ram = a.ram[0]!.bytes;
  let nonZeroPages = 0;
  for (let off = 0; off < ram.length; off += SAMPLE_PAGE_SIZE) if (ram.subarray(off, off + SAMPLE_PAGE_SIZE).some((x) => x !== 0)) nonZeroPages++;
  assert.ok(nonZeroPages > 0 && nonZeroPages < ram.length / SAMPLE_PAGE_SIZE);
});

test('a machine saved as an image loads back equal, in any chunking', async () => {
  for (const seed of [1, 2, 3]) {
    const m = generateMachine(seed, { ramMiB: 1 });
    const { bytes, zero, raw } = await image(m);
    assert.ok(zero > 0 && raw > 0);
    for (const piece of [bytes.length, 4099, 7]) {
      if (piece === 7 && seed !== 1) continue; // the slow path once is enough
      const r = new ChannelReader(new MemorySource(bytes, piece), { bufferSize: 8192 });
      const loaded = await loadMachine(r, freshMachine({ ramMiB: 1 }));
      assert.deepEqual(machineDifferences(m, loaded), [], `seed ${seed}, piece ${piece}`);
    }
  }
});

test('equality notices a changed register, FIFO byte or RAM byte', () => {
  const m = generateMachine(5, { ramMiB: 1 });
  const regs = structuredClone(m);
  regs.cpu.regs[3] = regs.cpu.regs[3]! ^ 1n;
  assert.match(machineDifferences(m, regs)[0]!, /cpu\.regs\[3\]/);
  const ram = { ...m, ram: m.ram.map((b) => ({ name: b.name, bytes: b.bytes.slice() })) };
  ram.ram[1]!.bytes[12345] ^= 0xff;
  assert.match(machineDifferences(m, ram)[0]!, /vga\.vram/);
});

test('a receiver with another serial FIFO size refuses the image (equal field)', async () => {
  const m = generateMachine(9, { ramMiB: 1 });
  const { bytes } = await image(m);
  const fresh = freshMachine({ ramMiB: 1 });
  fresh.serial = { ...fresh.serial, fifoSize: 64 };
  await assert.rejects(
    () => loadMachine(ChannelReader.fromBytes(bytes), fresh),
    (e) => isVmsError(e) && e.code === 'E_MISMATCH' && e.path.join('.') === 'serial.fifoSize',
  );
});

test('a truncated or corrupted image fails with a typed error', async () => {
  const m = generateMachine(11, { ramMiB: 1 });
  const { bytes } = await image(m);
  for (const cut of [0, 5, 100, bytes.length >> 1, bytes.length - 1]) {
    await assert.rejects(
      () => loadMachine(ChannelReader.fromBytes(bytes.subarray(0, cut)), freshMachine({ ramMiB: 1 })),
      (e) => isVmsError(e) && e.code === 'E_TRUNCATED',
      `cut at ${cut}`,
    );
  }
  const bad = bytes.slice();
  bad[0] = 0;
  await assert.rejects(() => loadMachine(ChannelReader.fromBytes(bad), freshMachine({ ramMiB: 1 })), { code: 'E_FORMAT' });
  // A receiver with a smaller RAM block.
  await assert.rejects(() => loadMachine(ChannelReader.fromBytes(bytes), freshMachine({ ramMiB: 2 })), { code: 'E_MISMATCH' });
});
