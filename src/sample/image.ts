/**
 * A simple machine image format for the demo and tests (not QEMU's stream; the stream layer
 * writes that). Device sections are QEMU-encoded VMState; RAM goes as page records.
 *
 *   be32 0x564d5349 "VMSI", be32 1
 *   per device: 04 | counted idstr | be32 instance | be32 version | VMState bytes | 7e | be32 index
 *   per RAM block: 10 | counted name | be64 length | records | be64 0x10 (end of block)
 *     record: be64 (offset | 0x02), u8 fill           a page of one byte value (zero pages)
 *             be64 (offset | 0x08), 4096 bytes        a raw page
 *   00 end
 */
import { VmsError } from '../errors.js';
import type { ChannelReader } from '../channel/reader.js';
import type { ChannelWriter } from '../channel/writer.js';
import { BinaryInputVisitor, BinaryOutputVisitor } from '../format/binary/index.js';
import { load, save } from '../vmstate/index.js';
import type { StateOf } from '../vmstate/index.js';
import { SAMPLE_DEVICES, SAMPLE_PAGE_SIZE } from './machine.js';
import type { SampleMachine } from './machine.js';

export const IMAGE_MAGIC = 0x564d5349;
export const IMAGE_VERSION = 1;
const SECTION_DEVICE = 0x04;
const SECTION_RAM = 0x10;
const SECTION_END = 0x00;
const FOOTER = 0x7e;
const PAGE_ZERO = 0x02;
const PAGE_RAW = 0x08;
const BLOCK_END = 0x10;
const TWO_32 = 0x100000000;

export interface ImageStats {
  /** Bytes of each device section (header, VMState, footer). */
  devices: { idstr: string; bytes: number }[];
  zeroPages: number;
  rawPages: number;
  /** All bytes put. */
  bytes: number;
}

/** True when the page at `word` (a Uint32Array index) is all zero. */
function isZeroPage(words: Uint32Array, word: number): boolean {
  const end = word + SAMPLE_PAGE_SIZE / 4;
  for (let i = word; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/**
 * Saves a machine. Raw pages are queued by reference when large enough, so RAM must not
 * change until the writer drains; the caller closes the writer.
 */
export async function saveMachine(m: SampleMachine, w: ChannelWriter): Promise<ImageStats> {
  const stats: ImageStats = { devices: [], zeroPages: 0, rawPages: 0, bytes: 0 };
  const start = w.bytesPut;
  w.u32(IMAGE_MAGIC).u32(IMAGE_VERSION);
  const out = new BinaryOutputVisitor(w);
  for (let i = 0; i < SAMPLE_DEVICES.length; i++) {
    const d = SAMPLE_DEVICES[i]!;
    const at = w.bytesPut;
    w.u8(SECTION_DEVICE).countedString(d.idstr).u32(d.instance).u32(d.desc.version);
    save(d.desc, m[d.key] as StateOf<typeof d.desc>, out);
    w.u8(FOOTER).u32(i);
    stats.devices.push({ idstr: d.idstr, bytes: w.bytesPut - at });
    if (w.needsDrain) await w.drain();
  }
  for (const block of m.ram) {
    const len = block.bytes.length;
    w.u8(SECTION_RAM).countedString(block.name).u64(BigInt(len));
    const words = new Uint32Array(block.bytes.buffer, block.bytes.byteOffset, len >>> 2);
    for (let off = 0; off < len; off += SAMPLE_PAGE_SIZE) {
      const hi = Math.floor(off / TWO_32);
      const lo = off % TWO_32;
      if (isZeroPage(words, off >>> 2)) {
        w.u64Split(hi, lo | PAGE_ZERO).u8(0);
        stats.zeroPages++;
      } else {
        w.u64Split(hi, lo | PAGE_RAW).bytes(block.bytes.subarray(off, off + SAMPLE_PAGE_SIZE));
        stats.rawPages++;
      }
      if (w.needsDrain) await w.drain();
    }
    w.u64Split(0, BLOCK_END);
  }
  w.u8(SECTION_END);
  await w.flushAll();
  stats.bytes = w.bytesPut - start;
  return stats;
}

/**
 * Loads an image into a copy of `fresh` (the receiver's machine: its constants and RAM
 * layout). Device states are new objects; RAM blocks are new arrays, filled page by page.
 */
export async function loadMachine(r: ChannelReader, fresh: SampleMachine): Promise<SampleMachine> {
  const m: SampleMachine = { ...fresh, ram: fresh.ram.map((b) => ({ name: b.name, bytes: new Uint8Array(b.bytes.length) })) };
  const inp = new BinaryInputVisitor(r);
  await r.retry(() => {
    const at = r.offset;
    const magic = r.u32();
    const version = r.u32();
    if (magic !== IMAGE_MAGIC || version !== IMAGE_VERSION) {
      throw new VmsError('E_FORMAT', 'not a sample machine image', {
        offset: at,
        expected: `magic 0x${IMAGE_MAGIC.toString(16)} version ${IMAGE_VERSION}`,
        actual: `0x${magic.toString(16)} version ${version}`,
      });
    }
  });
  for (;;) {
    const at = r.offset;
    const kind = await r.retry(() => r.u8());
    if (kind === SECTION_END) return m;
    if (kind === SECTION_DEVICE) {
      await r.retry(() => {
        const idstr = r.countedString();
        const instance = r.u32();
        const version = r.u32();
        const index = SAMPLE_DEVICES.findIndex((d) => d.idstr === idstr && d.instance === instance);
        const d = SAMPLE_DEVICES[index];
        if (d === undefined) throw new VmsError('E_UNKNOWN', `unknown device section ${idstr} ${instance}`, { offset: at });
        const state = load(d.desc, inp, m[d.key] as StateOf<typeof d.desc>, version);
        const footerAt = r.offset;
        if (r.u8() !== FOOTER || r.u32() !== index) {
          throw new VmsError('E_MISMATCH', `section footer of ${idstr} missing or wrong`, { offset: footerAt, path: [idstr], expected: `7e ${index}` });
        }
        // Only after the whole section decoded: a retried or failed section applies nothing.
        (m as unknown as Record<string, unknown>)[d.key] = state;
      });
    } else if (kind === SECTION_RAM) {
      await loadBlock(r, m);
    } else {
      throw new VmsError('E_FORMAT', 'bad section type', { offset: at, expected: '00, 04 or 10', actual: `0x${kind.toString(16)}` });
    }
  }
}

async function loadBlock(r: ChannelReader, m: SampleMachine): Promise<void> {
  const at = r.offset;
  const { name, length } = await r.retry(() => ({ name: r.countedString(), length: r.u64() }));
  const block = m.ram.find((b) => b.name === name);
  if (block === undefined) throw new VmsError('E_UNKNOWN', `unknown RAM block ${name}`, { offset: at, path: ['ram', name] });
  if (BigInt(block.bytes.length) !== length) {
    throw new VmsError('E_MISMATCH', `RAM block ${name} has another size`, {
      offset: at,
      path: ['ram', name],
      expected: String(block.bytes.length),
      actual: String(length),
    });
  }
  const bytes = block.bytes;
  for (;;) {
    const recordAt = r.offset;
    // fill() before the sync reads, so the page loop never throws NEED_MORE.
    if (!r.has(9)) await r.fill(9);
    const hi = r.u64Split();
    const lo = r.lastLow;
    const flags = lo & (SAMPLE_PAGE_SIZE - 1);
    if (flags === BLOCK_END && hi === 0 && lo === BLOCK_END) return;
    const off = hi * TWO_32 + (lo - flags);
    if (off + SAMPLE_PAGE_SIZE > bytes.length) {
      throw new VmsError('E_FORMAT', `page offset outside RAM block ${name}`, {
        offset: recordAt,
        path: ['ram', name],
        expected: `below ${bytes.length}`,
        actual: String(off),
      });
    }
    if (flags === PAGE_ZERO) {
      const fill = r.u8();
      if (fill !== 0) bytes.fill(fill, off, off + SAMPLE_PAGE_SIZE);
    } else if (flags === PAGE_RAW) {
      if (!r.has(SAMPLE_PAGE_SIZE)) await r.fill(SAMPLE_PAGE_SIZE);
      bytes.set(r.bytesView(SAMPLE_PAGE_SIZE), off);
    } else {
      throw new VmsError('E_FORMAT', 'bad page flags', { offset: recordAt, path: ['ram', name], expected: '0x02, 0x08 or 0x10', actual: `0x${flags.toString(16)}` });
    }
  }
}
