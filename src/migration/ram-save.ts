/**
 * The sending side of the "ram" section (QEMU ram.c, spec §3): START carries the block list
 * (MEM_SIZE), PART sections carry page records until the budget is spent, END carries
 * everything still dirty once the machine is stopped. Every section ends with EOS.
 *
 * Pages to send live in one bitmap per block (`toSend`), which starts all set (the first
 * pass sends every page) and is refilled from the machine's dirty log by `syncPending`.
 * A page is copied into the channel when its record is written, so later guest writes
 * only matter through the dirty log. Zero pages go out as ZERO records (9 bytes with
 * CONTINUE): pages never written (GuestMemory's `written` bitmap) without reading them,
 * written ones after a word test and a memcmp with a zero page.
 */
import type { ChannelWriter } from '../channel/writer.js';
import { RAM_IDSTR, RAM_VERSION, RamFlag } from '../stream/constants.js';
import type { GuestMemory } from './guest-memory.js';
import type { IterateResult, LiveSaveHandler } from './handlers.js';
import { PageBitmap } from './page-bitmap.js';
import { bufferView, pageIsZero, wordView } from './zero-page.js';

const TWO32 = 2 ** 32;

/** Counters for query-migrate-style statistics. */
export interface RamSaveCounters {
  /** Pages sent as ZERO records ("duplicate" in QEMU). */
  zeroPages: number;
  /** Pages sent whole ("normal"). */
  normalPages: number;
  /** Dirty-log syncs so far (QEMU dirty-sync-count; the first pass is sync 1). */
  syncs: number;
  /** Pages the last sync found dirty. */
  lastSyncDirtyPages: number;
  /** performance.now() of the last sync. */
  lastSyncAt: number;
  /** Dirty pages per second measured between the last two syncs. */
  dirtyPagesRate: number;
}

export class RamSaveHandler implements LiveSaveHandler {
  readonly idstr = RAM_IDSTR;
  readonly instance = 0;
  readonly version = RAM_VERSION;
  readonly counters: RamSaveCounters = { zeroPages: 0, normalPages: 0, syncs: 0, lastSyncDirtyPages: 0, lastSyncAt: 0, dirtyPagesRate: 0 };
  private toSend: PageBitmap[] = [];
  private written: PageBitmap[] = [];
  private words: Int32Array[] = [];
  private buffers: Buffer[] = [];
  /** Pages set in the send bitmaps: kept as pages go out, recounted at each sync (no per-check popcount). */
  private left = 0;
  private names: string[] = [];
  /** Scan position: block index and page within it. */
  private cursorBlock = 0;
  private cursorPage = 0;
  /** Block of the last page record, for CONTINUE (persists across sections, as in QEMU). */
  private lastBlock = -1;
  private logging = false;
  private completing = false;

  constructor(private readonly memory: GuestMemory) {}

  get pageSize(): number {
    return this.memory.pageSize;
  }

  setup(w: ChannelWriter): void {
    const mem = this.memory;
    mem.startDirtyLog();
    this.logging = true;
    this.toSend = [];
    this.written = [];
    this.words = [];
    this.buffers = [];
    this.names = [];
    for (const b of mem.blocks) {
      const bm = new PageBitmap(b.bytes.length >>> mem.pageShift);
      bm.setAll();
      this.toSend.push(bm);
      this.written.push(b.written);
      this.words.push(wordView(b.bytes));
      this.buffers.push(bufferView(b.bytes));
      this.names.push(b.name);
    }
    this.left = this.countPages();
    this.counters.syncs = 1;
    this.counters.lastSyncAt = performance.now();
    this.counters.lastSyncDirtyPages = this.pagesToSend();
    // RAM_SAVE_FLAG_MEM_SIZE: total | 0x04, then each block's counted name and be64 used_length.
    writeBe64(w, mem.totalBytes, RamFlag.MEM_SIZE);
    for (const b of mem.blocks) {
      w.countedString(b.name);
      writeBe64(w, b.bytes.length, 0);
    }
    writeBe64(w, 0, RamFlag.EOS);
  }

  /** Pages in the send bitmaps (not counting marks still in the dirty log). */
  pagesToSend(): number {
    return this.left;
  }

  private countPages(): number {
    let n = 0;
    for (const b of this.toSend) n += b.count();
    return n;
  }

  pendingEstimate(): number {
    return this.pagesToSend() * this.memory.pageSize;
  }

  syncPending(): number {
    return this.sync(true);
  }

  /** Moves the dirty log into the send bitmaps; `measure` updates the dirty rate (not at stop). */
  private sync(measure: boolean): number {
    const mem = this.memory;
    const before = this.pagesToSend();
    for (let i = 0; i < this.toSend.length; i++) mem.syncDirty(i, this.toSend[i]!);
    this.left = this.countPages();
    const after = this.left;
    const now = performance.now();
    const c = this.counters;
    const dt = (now - c.lastSyncAt) / 1000;
    if (measure) {
      c.lastSyncDirtyPages = after - before;
      if (dt > 0) c.dirtyPagesRate = (after - before) / dt;
      c.lastSyncAt = now;
      c.syncs++;
    }
    // A new pass starts from the beginning, as QEMU's does after a sync.
    this.cursorBlock = 0;
    this.cursorPage = 0;
    return after * mem.pageSize;
  }

  iterate(w: ChannelWriter, budgetBytes: number): IterateResult {
    const start = w.bytesPut;
    // Stop at the budget, or as soon as the channel asks for a drain (its queue is full).
    const done = this.sendPages(w, start + budgetBytes);
    writeBe64(w, 0, RamFlag.EOS);
    return done ? 'done' : 'more';
  }

  /**
   * Sends what is left with the machine stopped. Called repeatedly (the driver drains the
   * channel in between) until it returns 'done', which is when it writes EOS.
   */
  complete(w: ChannelWriter, budgetBytes: number): IterateResult {
    if (!this.completing) {
      this.sync(false);
      this.lastBlock = -1;
      this.completing = true;
    }
    const start = w.bytesPut;
    const done = this.sendPages(w, start + budgetBytes);
    if (!done) return 'more';
    writeBe64(w, 0, RamFlag.EOS);
    this.completing = false;
    return 'done';
  }

  cleanup(): void {
    if (this.logging) this.memory.stopDirtyLog();
    this.logging = false;
  }

  /**
   * Sends set pages from the cursor on, until the bitmaps are empty (true) or the channel has
   * put `putLimit` bytes or asks for a drain (false).
   */
  private sendPages(w: ChannelWriter, putLimit: number): boolean {
    const ps = this.memory.pageSize;
    const c = this.counters;
    for (let scanned = 0; scanned <= this.toSend.length; scanned++) {
      const bi = this.cursorBlock;
      const bm = this.toSend[bi]!;
      const written = this.written[bi]!.words;
      const words = this.words[bi]!;
      const buffer = this.buffers[bi]!;
      let page = bm.nextSet(this.cursorPage);
      while (page >= 0) {
        bm.clear(page);
        this.left--;
        const off = page * ps;
        const hi = Math.floor(off / TWO32);
        const lo = off - hi * TWO32;
        const cont = bi === this.lastBlock ? RamFlag.CONTINUE : 0;
        // A page never written is zero: no need to read it (and fault it in).
        if ((written[page >>> 5]! & (1 << (page & 31))) === 0 || pageIsZero(words, buffer, off, ps)) {
          w.u64Split(hi, (lo | RamFlag.ZERO | cont) >>> 0);
          if (cont === 0) w.countedString(this.names[bi]!);
          w.u8(0);
          c.zeroPages++;
        } else {
          w.u64Split(hi, (lo | RamFlag.PAGE | cont) >>> 0);
          if (cont === 0) w.countedString(this.names[bi]!);
          // Copied now: the guest may write the page again before the chunk is sent.
          w.bytesCopyRange(buffer, off, off + ps);
          c.normalPages++;
        }
        this.lastBlock = bi;
        if (w.needsDrain || w.bytesPut >= putLimit) {
          this.cursorPage = page + 1;
          return false;
        }
        page = bm.nextSet(page + 1);
      }
      // This block is clean: move on, wrapping to the first block.
      this.cursorBlock = (bi + 1) % this.toSend.length;
      this.cursorPage = 0;
      if (this.left === 0) return true;
    }
    return this.left === 0;
  }
}

/** A be64 of `value` (< 2^53, page-aligned) with `flags` in the low bits. */
function writeBe64(w: ChannelWriter, value: number, flags: number): void {
  const hi = Math.floor(value / TWO32);
  w.u64Split(hi, ((value - hi * TWO32) | flags) >>> 0);
}
