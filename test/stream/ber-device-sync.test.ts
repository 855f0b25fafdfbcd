/**
 * BER device bodies are decoded by a step machine that waits for bytes only when it runs out
 * (src/stream/ber/cursor.ts): the bytes must come out the same however the input is cut into
 * reads, and a body that is cut short or badly framed must still fail with the offset and path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { isVmsError } from '../../src/errors.js';
import { berToQemu, qemuToBer } from '../../src/stream/ber/convert.js';
import { readBerStream } from '../../src/stream/ber/reader.js';
import type { SectionHeader } from '../../src/stream/events.js';
import { StreamWriter } from '../../src/stream/writer.js';

const qemu = new Uint8Array(readFileSync('test/fixtures/qemu/pc-devices.mig'));

async function toBer(q: Uint8Array): Promise<Uint8Array> {
  const sink = new MemorySink();
  await qemuToBer(q, sink);
  return sink.bytes();
}

async function backToQemu(source: MemorySource, bufferSize: number): Promise<Uint8Array> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  await readBerStream(source, new StreamWriter(out), { reader: { bufferSize } });
  await out.close();
  return sink.bytes();
}

/** Offsets (in the BER stream) of the device sections' headers, with their names. */
async function deviceSections(ber: Uint8Array): Promise<{ offset: number; idstr: string }[]> {
  const found: { offset: number; idstr: string }[] = [];
  await readBerStream(ber, {
    sectionStart: (h: SectionHeader) => {
      if (h.idstr !== 'ram') found.push({ offset: h.offset, idstr: h.idstr });
    },
  });
  return found;
}

test('device bodies decode to the same bytes whatever the read pieces and buffer size', async () => {
  const ber = await toBer(qemu);
  // Reads of 3 bytes into a 64-byte buffer make every device body span many fills.
  for (const [piece, bufferSize] of [
    [3, 64],
    [997, 256],
    [1 << 16, 1 << 20],
  ] as const) {
    const back = await backToQemu(new MemorySource(ber, piece), bufferSize);
    assert.equal(back.length, qemu.length, `pieces of ${piece}, buffer ${bufferSize}`);
    assert.ok(Buffer.from(back).equals(Buffer.from(qemu)), `pieces of ${piece}, buffer ${bufferSize}: bytes differ`);
  }
});

test('a stream cut inside a device body fails with E_TRUNCATED inside that section', async () => {
  const ber = await toBer(qemu);
  const sections = await deviceSections(ber);
  assert.ok(sections.length > 20, `device sections: ${sections.length}`);
  const cpu = sections.find((s) => s.idstr === 'cpu');
  assert.ok(cpu !== undefined);
  const cut = cpu.offset + 200;
  for (const piece of [5, 1 << 20]) {
    const sink = new MemorySink();
    await assert.rejects(
      () => berToQemu(new MemorySource(ber.subarray(0, cut), piece), sink),
      (e: unknown) => {
        assert.ok(isVmsError(e), String(e));
        assert.equal(e.code, 'E_TRUNCATED', e.message);
        assert.ok(e.offset !== undefined && e.offset <= cut && e.offset >= cpu.offset, `offset ${e.offset} vs section at ${cpu.offset}, cut at ${cut}`);
        assert.ok(e.path.includes('cpu'), `path ${JSON.stringify(e.path)}`);
        return true;
      },
    );
  }
});

test('a reserved length octet inside a device body is an E_BER at its offset', async () => {
  const ber = await toBer(qemu);
  const sections = await deviceSections(ber);
  const timer = sections.find((s) => s.idstr === 'timer');
  assert.ok(timer !== undefined);
  // Find the first indefinite SEQUENCE (30 80) from the timer on, and break its length octet.
  let at = timer.offset;
  while (!(ber[at] === 0x30 && ber[at + 1] === 0x80)) at++;
  const owner = sections.filter((s) => s.offset <= at).pop()!;
  const bad = ber.slice();
  bad[at + 1] = 0xff; // X.690 8.1.3.5 c: reserved
  await assert.rejects(
    () => berToQemu(bad, new MemorySink()),
    (e: unknown) => {
      assert.ok(isVmsError(e), String(e));
      assert.equal(e.code, 'E_BER', e.message);
      assert.equal(e.offset, at, e.message);
      assert.ok(e.path.includes(owner.idstr), `path ${JSON.stringify(e.path)}, byte in ${owner.idstr}`);
      return true;
    },
  );
});

test('a small reader maxBuffer is never exceeded (no E_LIMIT) and gives the same bytes', async () => {
  const ber = await toBer(qemu);
  // The RAM page runs here need up to 64 pages (262208 bytes) buffered whole.
  for (const maxBuffer of [1 << 19, 300000]) {
    const sink = new MemorySink();
    const out = new ChannelWriter(sink);
    await readBerStream(new MemorySource(ber, 1000), new StreamWriter(out), { reader: { bufferSize: 1024, maxBuffer } });
    await out.close();
    assert.ok(Buffer.from(sink.bytes()).equals(Buffer.from(qemu)), `maxBuffer ${maxBuffer}: bytes differ`);
  }
});
