/**
 * Guest RAM as named blocks (QEMU RAMBlocks), each a Uint8Array, with a dirty log the
 * machine marks as it writes (QEMU's KVM/TCG dirty tracking). Migration reads the log with
 * `syncDirty`, which moves the marks into the migrator's own bitmap and clears the log.
 *
 * Every write to guest RAM must be reported with `markDirty`, at all times (not only while a
 * migration logs): each block also remembers which pages were ever written. A page never
 * written since its block was allocated zeroed is known to be zero, so migration sends it as a
 * ZERO record without reading it (reading never-touched memory costs a page fault per page).
 */
import { VmsError } from '../errors.js';
import { PageBitmap } from './page-bitmap.js';

/** x86's target page size. */
export const GUEST_PAGE_SIZE = 4096;

export interface RamBlock {
  /** The idstr on the wire ("pc.ram", "/rom@etc/acpi/tables"...). At most 255 latin1 bytes. */
  readonly name: string;
  /** The contents; replaced (not copied into) when a migration commits. */
  readonly bytes: Uint8Array;
  /** Pages written since the last sync, while logging is on. */
  readonly dirty: PageBitmap;
  /**
   * Pages that may hold non-zero bytes: written (per `markDirty`) since the block was
   * allocated zeroed, or every page when its contents came from outside. A clear bit means
   * the page is zero.
   */
  readonly written: PageBitmap;
}

export class GuestMemory {
  private readonly list: { name: string; bytes: Uint8Array; dirty: PageBitmap; written: PageBitmap }[] = [];
  private readonly byName = new Map<string, number>();
  private logging = 0;
  readonly pageShift: number;

  constructor(readonly pageSize: number = GUEST_PAGE_SIZE) {
    if (!Number.isInteger(Math.log2(pageSize)) || pageSize < 512 || pageSize > 1 << 24) {
      throw new VmsError('E_USAGE', 'page size must be a power of two from 512 bytes to 16 MiB', { actual: String(pageSize) });
    }
    this.pageShift = Math.log2(pageSize);
  }

  /**
   * Adds a block of `length` zero bytes (known zero until written), or takes `bytes` as its
   * contents (every page counts as written). Returns its index.
   */
  addBlock(name: string, contents: number | Uint8Array): number {
    const bytes = typeof contents === 'number' ? new Uint8Array(contents) : contents;
    if (name.length === 0 || name.length > 255) {
      throw new VmsError('E_USAGE', 'RAM block name must have 1..255 characters', { actual: name });
    }
    if (this.byName.has(name)) throw new VmsError('E_USAGE', `RAM block ${name} already exists`);
    if (bytes.length === 0 || bytes.length % this.pageSize !== 0 || bytes.byteOffset % 8 !== 0) {
      throw new VmsError('E_USAGE', `RAM block ${name} must be a whole number of pages, 8-byte aligned`, {
        actual: `${bytes.length} bytes`,
      });
    }
    this.byName.set(name, this.list.length);
    const pages = bytes.length >>> this.pageShift;
    const written = new PageBitmap(pages);
    if (typeof contents !== 'number') written.setAll();
    this.list.push({ name, bytes, dirty: new PageBitmap(pages), written });
    return this.list.length - 1;
  }

  get blocks(): readonly RamBlock[] {
    return this.list;
  }

  /** Sum of the block lengths (the MEM_SIZE total). */
  get totalBytes(): number {
    let n = 0;
    for (const b of this.list) n += b.bytes.length;
    return n;
  }

  /** Index of a block by name, or -1. */
  indexOf(name: string): number {
    return this.byName.get(name) ?? -1;
  }

  /** Block `i`'s current contents. */
  bytesOf(i: number): Uint8Array {
    return this.list[i]!.bytes;
  }

  /** True while some migration is logging dirty pages. */
  get dirtyLogging(): boolean {
    return this.logging > 0;
  }

  /** Starts logging (nests: each start needs one stop). */
  startDirtyLog(): void {
    if (this.logging++ === 0) for (const b of this.list) b.dirty.clearAll();
  }

  stopDirtyLog(): void {
    if (this.logging > 0) this.logging--;
  }

  /**
   * Records that the machine wrote `length` bytes at `offset` of block `block` (index or
   * name). Call it after (or as) the write happens, for every write to guest RAM: the pages
   * count as written from then on, and as dirty while a migration logs.
   */
  markDirty(block: number | string, offset: number, length: number): void {
    if (length <= 0) return;
    const i = typeof block === 'number' ? block : this.indexOf(block);
    const b = this.list[i];
    if (b === undefined || !(offset >= 0) || !(offset + length <= b.bytes.length)) {
      throw new VmsError('E_USAGE', 'markDirty outside guest RAM', { path: [String(block)], actual: `${offset}+${length}` });
    }
    const first = Math.floor(offset / this.pageSize);
    const last = Math.floor((offset + length - 1) / this.pageSize);
    if (first === last) {
      b.written.set(first);
      if (this.logging > 0) b.dirty.set(first);
    } else {
      b.written.setRange(first, last - first + 1);
      if (this.logging > 0) b.dirty.setRange(first, last - first + 1);
    }
  }

  /** Moves block `i`'s dirty marks into `into` and clears them (QEMU migration_bitmap_sync). */
  syncDirty(i: number, into: PageBitmap): void {
    into.takeFrom(this.list[i]!.dirty);
  }

  /** Pages marked dirty and not yet synced, over all blocks. */
  dirtyPages(): number {
    let n = 0;
    for (const b of this.list) n += b.dirty.count();
    return n;
  }

  /**
   * Replaces block `i`'s contents with `bytes` (same length): how a destination commits staged
   * RAM. `written` names the pages of `bytes` that may be non-zero (it is copied); without it
   * every page counts as written.
   */
  replaceBlock(i: number, bytes: Uint8Array, written?: PageBitmap): void {
    const b = this.list[i]!;
    if (bytes.length !== b.bytes.length) {
      throw new VmsError('E_USAGE', `replacement for RAM block ${b.name} has the wrong size`, {
        expected: `${b.bytes.length} bytes`,
        actual: `${bytes.length} bytes`,
      });
    }
    if (written !== undefined && written.pages !== b.written.pages) {
      throw new VmsError('E_USAGE', `written-page bitmap for RAM block ${b.name} has the wrong size`, {
        expected: `${b.written.pages} pages`,
        actual: `${written.pages} pages`,
      });
    }
    b.bytes = bytes;
    if (written === undefined) b.written.setAll();
    else b.written.words.set(written.words);
  }
}
