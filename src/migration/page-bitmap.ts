/**
 * A bitmap with one bit per guest page, in 32-bit words (QEMU's dirty bitmaps are unsigned
 * long arrays). Set/clear/scan work a word at a time, so a clean 1 GiB guest (8 Ki words)
 * is scanned in microseconds.
 */
import { VmsError } from '../errors.js';

export class PageBitmap {
  /** Bit i of word w is page w*32+i. Bits past `pages` in the last word stay 0. */
  readonly words: Uint32Array;

  constructor(readonly pages: number) {
    if (!Number.isSafeInteger(pages) || pages < 0) {
      throw new VmsError('E_USAGE', 'page count must be a non-negative integer', { actual: String(pages) });
    }
    this.words = new Uint32Array(Math.ceil(pages / 32));
  }

  get(page: number): boolean {
    return (this.words[page >>> 5]! & (1 << (page & 31))) !== 0;
  }

  set(page: number): void {
    this.words[page >>> 5]! |= 1 << (page & 31);
  }

  clear(page: number): void {
    this.words[page >>> 5]! &= ~(1 << (page & 31));
  }

  /** Sets pages [first, first+count): whole words at once in the middle. */
  setRange(first: number, count: number): void {
    if (count <= 0) return;
    const end = first + count;
    const w = this.words;
    let p = first;
    while (p < end && (p & 31) !== 0) {
      w[p >>> 5]! |= 1 << (p & 31);
      p++;
    }
    if (end - p >= 32) {
      const wEnd = end >>> 5;
      w.fill(0xffffffff, p >>> 5, wEnd);
      p = wEnd << 5;
    }
    while (p < end) {
      w[p >>> 5]! |= 1 << (p & 31);
      p++;
    }
  }

  setAll(): void {
    this.words.fill(0);
    this.setRange(0, this.pages);
  }

  clearAll(): void {
    this.words.fill(0);
  }

  /** Number of set bits. */
  count(): number {
    const w = this.words;
    let n = 0;
    for (let i = 0; i < w.length; i++) {
      let v = w[i]!;
      if (v === 0) continue;
      // SWAR popcount
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return n;
  }

  /** The first set page at or after `from`, or -1. Skips zero words whole. */
  nextSet(from: number): number {
    if (from >= this.pages) return -1;
    const w = this.words;
    let wi = from >>> 5;
    let v = w[wi]! & (0xffffffff << (from & 31));
    while (v === 0) {
      if (++wi >= w.length) return -1;
      v = w[wi]!;
    }
    return (wi << 5) + (31 - Math.clz32(v & -v));
  }

  /** ORs `other` into this bitmap and clears `other` (a dirty-log sync). */
  takeFrom(other: PageBitmap): void {
    if (other.pages !== this.pages) {
      throw new VmsError('E_USAGE', 'bitmaps differ in size', { expected: `${this.pages} pages`, actual: `${other.pages} pages` });
    }
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) {
      const v = b[i]!;
      if (v !== 0) {
        a[i]! |= v;
        b[i] = 0;
      }
    }
  }

  /** True when every page is set. */
  full(): boolean {
    return this.count() === this.pages;
  }
}
