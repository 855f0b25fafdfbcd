/**
 * Where a destination puts incoming RAM pages before commit: one staging buffer per RAM
 * block, the same length as the block.
 *
 * Two ways to get them:
 * - on demand (the default): a fresh zeroed array per migration, dropped after it. The OS
 *   maps its pages lazily, so the first write to each page faults while the stream arrives
 *   (on a VM about 2 µs per 4 KiB page: ~0.5 s per GiB on the migration clock).
 * - prepared (`prepare()`, QEMU's -mem-prealloc in spirit): every buffer is allocated and
 *   written once before the stream arrives, and kept across migrations. On a full commit the
 *   staging buffer becomes the block's RAM and the block's previous RAM buffer becomes the
 *   next staging area (double buffering), so there is no copy at commit either.
 * Memory is twice the guest RAM during a migration either way; prepared staging keeps it
 * after the migration too.
 *
 * A buffer is "known zero" only while nothing was written to it since it was allocated:
 * then zero pages need no write. A reused buffer (old RAM, or staging from a failed
 * migration) holds stale bytes, so every zero page must be written into it.
 */
import type { GuestMemory } from './guest-memory.js';
import { PageBitmap } from './page-bitmap.js';

export interface StagingBuffer {
  readonly bytes: Uint8Array;
  /** Every byte is zero (nothing was written since allocation). */
  readonly knownZero: boolean;
  /**
   * For a RAM buffer a commit handed back: the pages that may hold non-zero bytes (its
   * block's written-page bitmap then). A clear bit means the page is zero, so a zero page
   * landing there needs no write (nor, if the OS never mapped it, a fault).
   */
  readonly written?: PageBitmap;
  /** Every page was written at least once (the OS has mapped it). */
  readonly touched: boolean;
}

/** OS page granularity for touching memory: one write per 4 KiB faults every page in. */
const TOUCH_STRIDE = 4096;

export class RamStaging {
  /** Kept buffers by block index (prepared staging only). */
  private readonly kept: (StagingBuffer | undefined)[] = [];
  private prepared = false;

  constructor(private readonly memory: GuestMemory) {}

  /** True once `prepare()` ran: buffers are kept and reused. */
  get isPrepared(): boolean {
    return this.prepared;
  }

  /** Bytes held in kept staging buffers. */
  get keptBytes(): number {
    let n = 0;
    for (const b of this.kept) n += b?.bytes.length ?? 0;
    return n;
  }

  /**
   * Allocates a staging buffer for every block that has none (or whose length changed) and
   * touches each page of every buffer not known to be mapped (a new one, or the RAM buffer a
   * commit handed back), so incoming pages land in memory that is already mapped. Costs
   * about as much as the page faults it saves: call it before the stream arrives.
   */
  prepare(): void {
    this.prepared = true;
    const blocks = this.memory.blocks;
    for (let i = 0; i < blocks.length; i++) {
      const length = blocks[i]!.bytes.length;
      const have = this.kept[i];
      if (have !== undefined && have.bytes.length === length) {
        if (!have.touched) {
          touch(have.bytes);
          this.kept[i] = { ...have, touched: true };
        }
        continue;
      }
      const bytes = new Uint8Array(length);
      touch(bytes);
      this.kept[i] = { bytes, knownZero: true, touched: true };
    }
  }

  /**
   * The staging buffer for block `i`, for one migration. Prepared: the kept buffer (from then
   * on not known zero, since the migration writes it). Otherwise: fresh zeroed memory.
   */
  acquire(i: number): StagingBuffer {
    const length = this.memory.bytesOf(i).length;
    const have = this.kept[i];
    if (!this.prepared || have === undefined || have.bytes.length !== length) {
      const fresh = { bytes: new Uint8Array(length), knownZero: true, touched: false };
      // The migration touches the pages it receives; the others may stay unmapped.
      if (this.prepared) this.kept[i] = { ...fresh, knownZero: false };
      return fresh;
    }
    // This migration writes into it: from now on nothing is known of its pages.
    this.kept[i] = { bytes: have.bytes, knownZero: false, touched: have.touched };
    return have;
  }

  /**
   * Makes the fully received staging buffer `bytes` block `i`'s RAM, with `written` the
   * pages that may hold non-zero bytes (every page if absent). Prepared: the block's previous
   * buffer becomes the next staging area. Its bytes are stale, except the pages its written
   * bitmap says are zero; pages the machine never wrote may be unmapped: `prepare()` again
   * before the next stream.
   */
  install(i: number, bytes: Uint8Array, written?: PageBitmap): void {
    const old = this.memory.bytesOf(i);
    const oldWritten = this.prepared ? copyOf(this.memory.blocks[i]!.written) : undefined;
    this.memory.replaceBlock(i, bytes, written);
    if (oldWritten !== undefined) this.kept[i] = { bytes: old, knownZero: false, touched: false, written: oldWritten };
  }
}

/** Writes one zero byte per OS page: the kernel maps every page now rather than on first use. */
function touch(bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += TOUCH_STRIDE) bytes[at] = 0;
}

function copyOf(b: PageBitmap): PageBitmap {
  const c = new PageBitmap(b.pages);
  c.words.set(b.words);
  return c;
}
