/**
 * The RAM section's payload ("ram", version 4; spec §3): the block list in START, page
 * records in PART/END, each section ended by EOS. The current block that CONTINUE refers
 * to is kept here, across sections, as QEMU's receiver does.
 *
 * Hot path: one record object is reused and page contents are views into the channel
 * buffer; a record is decoded synchronously and only retried (rewind + pull) when the
 * buffer runs short.
 */
import { inflateSync } from 'node:zlib';
import { NEED_MORE, type ChannelReader } from '../channel/reader.js';
import { VmsError } from '../errors.js';
import { RamFlag } from './constants.js';
import type { RamBlockInfo, RamBlockList, RamPage, SectionHeader, StreamVisitor } from './events.js';
import { xbzrleDecode } from './xbzrle.js';

export interface RamDecodeOptions {
  /** Target page size (x86: 4096). */
  readonly pageSize: number;
  /** Hand page contents to the visitor. Defaults to true; false lets the reader skip them. */
  readonly pageData: boolean;
  /** Decode XBZRLE pages against our own copy of RAM (which we then keep). Defaults to false. */
  readonly decodeXbzrle: boolean;
  /** Inflate COMPRESS_PAGE records. Defaults to false. */
  readonly decodeCompressed: boolean;
  /** Blocks carry a be64 GPA (x-ignore-shared, announced in the configuration). */
  readonly ignoreShared: boolean;
  /**
   * Blocks may carry a be64 page size (postcopy-ram with huge pages). 'auto': only after a
   * POSTCOPY_ADVISE command, and then only where the next be64 looks like a page size.
   */
  readonly postcopyPageSizes: boolean | 'auto';
  /** Most blocks a list may have. */
  readonly maxBlocks: number;
}

const KNOWN_FLAGS =
  RamFlag.ZERO | RamFlag.MEM_SIZE | RamFlag.PAGE | RamFlag.EOS | RamFlag.CONTINUE | RamFlag.XBZRLE | RamFlag.HOOK | RamFlag.COMPRESS_PAGE;
const EMPTY = new Uint8Array(0);
const TWO32 = 2 ** 32;
/** Largest COMPRESS_PAGE body we accept: zlib never needs more than a few bytes over the page. */
const compressedLimit = (pageSize: number): number => pageSize + 1024;

type Parsed = 'page' | 'blocks' | 'eos';

export class RamDecoder {
  /** Blocks by name, with their used_length as a number (block lengths fit easily). */
  private readonly blocks = new Map<string, number>();
  private current: string | undefined;
  /** Set by POSTCOPY_ADVISE. */
  postcopyAdvised = false;
  private readonly rec: RamPage = {
    kind: 'zero',
    flags: 0,
    block: '',
    offset: 0,
    fill: 0,
    wire: EMPTY,
    encoding: 0,
    page: undefined,
    recordOffset: 0,
  };
  private lastList: RamBlockList | undefined;
  private eosWord = 0n;
  private pendingSkip = 0;
  /** Our copy of pages, for XBZRLE (only when asked). */
  private readonly copies = new Map<string, Map<number, Uint8Array>>();
  /** Counts per kind, for summaries. */
  readonly counts = { zero: 0, page: 0, xbzrle: 0, compressed: 0, hook: 0 };

  constructor(
    private readonly r: ChannelReader,
    private readonly opts: RamDecodeOptions,
  ) {}

  get blockList(): RamBlockList | undefined {
    return this.lastList;
  }

  /** Reads one RAM section's payload, up to and including its EOS. */
  async section(h: SectionHeader, v: StreamVisitor): Promise<void> {
    const r = this.r;
    const onPage = v.ramPage?.bind(v);
    for (;;) {
      const mark = r.mark();
      let what: Parsed;
      try {
        what = this.parse(h);
      } catch (e) {
        if (e !== NEED_MORE) throw e;
        r.reset(mark);
        await r.more();
        continue;
      }
      if (what === 'page') {
        if (this.pendingSkip > 0) {
          const n = this.pendingSkip;
          this.pendingSkip = 0;
          await r.skip(n);
        }
        if (onPage !== undefined) {
          const p = onPage(this.rec);
          if (p !== undefined) await p;
        }
      } else if (what === 'blocks') {
        await v.ramBlocks?.(this.lastList!);
      } else {
        await v.ramEos?.(this.eosWord);
        return;
      }
    }
  }

  /** Decodes one record synchronously (may throw NEED_MORE before any state changes). */
  private parse(h: SectionHeader): Parsed {
    const r = this.r;
    const ps = this.opts.pageSize;
    const at = r.offset;
    const hi = r.u64Split();
    const lo = r.lastLow;
    const flags = lo & (ps - 1);
    const addr = hi * TWO32 + (lo - flags);
    const base = flags & ~RamFlag.CONTINUE;
    if ((flags & ~KNOWN_FLAGS) !== 0 || !isSingleFlag(base)) {
      throw new VmsError('E_FORMAT', 'unknown combination of RAM flags', {
        offset: at,
        path: [h.idstr],
        expected: 'one of ZERO, MEM_SIZE, PAGE, EOS, XBZRLE, HOOK, COMPRESS_PAGE (+CONTINUE)',
        actual: `0x${flags.toString(16)}`,
      });
    }
    if (base === RamFlag.EOS) {
      this.eosWord = (BigInt(hi) << 32n) | BigInt(lo);
      return 'eos';
    }
    if (base === RamFlag.MEM_SIZE) {
      this.parseBlockList(h, BigInt(addr));
      return 'blocks';
    }
    const rec = this.rec;
    rec.recordOffset = at;
    rec.flags = flags;
    rec.offset = addr;
    rec.page = undefined;
    rec.wire = EMPTY;
    if (base === RamFlag.HOOK) {
      rec.kind = 'hook';
      rec.block = this.current ?? '';
      this.counts.hook++;
      return 'page';
    }
    let block: string;
    if ((flags & RamFlag.CONTINUE) !== 0) {
      if (this.current === undefined) {
        throw new VmsError('E_FORMAT', 'RAM page continues a block but no block was named before', {
          offset: at,
          path: [h.idstr],
          expected: 'a page record with a block name first',
        });
      }
      block = this.current;
    } else {
      block = r.countedString();
    }
    const length = this.blocks.get(block);
    if (length === undefined) {
      throw new VmsError('E_UNKNOWN', `unknown RAM block ${JSON.stringify(block)}`, {
        offset: at + 8,
        path: [h.idstr],
        expected: `one of the blocks in the list (${[...this.blocks.keys()].join(', ')})`,
        actual: JSON.stringify(block),
      });
    }
    if (addr + ps > length) {
      throw new VmsError('E_FORMAT', 'RAM page offset is past the end of its block', {
        offset: at,
        path: [h.idstr, block],
        expected: `an offset below 0x${length.toString(16)}`,
        actual: `0x${addr.toString(16)}`,
      });
    }
    rec.block = block;
    switch (base) {
      case RamFlag.ZERO:
        rec.kind = 'zero';
        rec.fill = r.u8();
        this.counts.zero++;
        if (this.opts.decodeXbzrle) this.forget(block, addr);
        break;
      case RamFlag.PAGE:
        rec.kind = 'page';
        if (!this.opts.pageData && !r.has(ps)) {
          this.pendingSkip = ps;
        } else if (!this.opts.pageData) {
          r.skipBuffered(ps);
        } else {
          rec.wire = r.bytesView(ps);
          rec.page = rec.wire;
          if (this.opts.decodeXbzrle) this.keep(block, addr, rec.wire);
        }
        this.counts.page++;
        break;
      case RamFlag.XBZRLE: {
        rec.kind = 'xbzrle';
        rec.encoding = r.u8();
        const n = r.u16();
        if (rec.encoding !== 0x01 || n > ps) {
          throw new VmsError('E_FORMAT', rec.encoding !== 0x01 ? 'unknown XBZRLE encoding flag' : 'XBZRLE page longer than a page', {
            offset: at,
            path: [h.idstr, block],
            expected: rec.encoding !== 0x01 ? '0x01 (ENCODING_FLAG_XBZRLE)' : `at most ${ps} bytes`,
            actual: rec.encoding !== 0x01 ? `0x${rec.encoding.toString(16)}` : `${n} bytes`,
          });
        }
        const wireAt = r.offset;
        rec.wire = r.bytesView(n);
        if (this.opts.decodeXbzrle) {
          const page = this.copyOf(block, addr);
          xbzrleDecode(rec.wire, page, { offset: wireAt, path: [h.idstr, block, addr] });
          rec.page = page;
        }
        this.counts.xbzrle++;
        break;
      }
      case RamFlag.COMPRESS_PAGE: {
        rec.kind = 'compressed';
        const n = r.u32();
        if (n > compressedLimit(ps)) {
          throw new VmsError('E_LIMIT', 'compressed RAM page is implausibly long', {
            offset: at,
            path: [h.idstr, block],
            expected: `at most ${compressedLimit(ps)} bytes`,
            actual: `${n} bytes`,
          });
        }
        const wireAt = r.offset;
        rec.wire = r.bytesView(n);
        if (this.opts.decodeCompressed || this.opts.decodeXbzrle) {
          rec.page = inflatePage(rec.wire, ps, wireAt, [h.idstr, block]);
          if (this.opts.decodeXbzrle) this.keep(block, addr, rec.page);
        }
        this.counts.compressed++;
        break;
      }
    }
    this.current = block;
    return 'page';
  }

  private parseBlockList(h: SectionHeader, total: bigint): void {
    const r = this.r;
    const blocks: RamBlockInfo[] = [];
    let sum = 0n;
    const postcopy = this.opts.postcopyPageSizes === true || (this.opts.postcopyPageSizes === 'auto' && this.postcopyAdvised);
    while (sum < total) {
      if (blocks.length >= this.opts.maxBlocks) {
        throw new VmsError('E_LIMIT', 'RAM block list is too long', { offset: r.offset, path: [h.idstr], expected: `at most ${this.opts.maxBlocks} blocks` });
      }
      const nameAt = r.offset;
      const name = r.countedString();
      const length = r.u64();
      let pageSize: bigint | undefined;
      if (postcopy && (this.opts.postcopyPageSizes === true || looksLikePageSize(r))) pageSize = r.u64();
      const addr = this.opts.ignoreShared ? r.u64() : undefined;
      if (name.length === 0) {
        throw new VmsError('E_FORMAT', 'RAM block name is empty', { offset: nameAt, path: [h.idstr], expected: 'a counted block name' });
      }
      blocks.push({ name, length, ...(pageSize !== undefined ? { pageSize } : {}), ...(addr !== undefined ? { addr } : {}) });
      sum += length;
      if (sum > total) {
        throw new VmsError('E_FORMAT', 'RAM block lengths exceed the announced total', {
          offset: nameAt,
          path: [h.idstr, name],
          expected: `a sum of 0x${total.toString(16)}`,
          actual: `0x${sum.toString(16)}`,
        });
      }
    }
    // Parsing succeeded: now it is safe to change state.
    for (const b of blocks) this.blocks.set(b.name, Number(b.length));
    this.lastList = { total, blocks };
  }

  private keep(block: string, addr: number, page: Uint8Array): void {
    let m = this.copies.get(block);
    if (m === undefined) this.copies.set(block, (m = new Map()));
    const c = m.get(addr);
    if (c === undefined) m.set(addr, page.slice());
    else c.set(page);
  }

  private forget(block: string, addr: number): void {
    this.copies.get(block)?.delete(addr);
  }

  private copyOf(block: string, addr: number): Uint8Array {
    let m = this.copies.get(block);
    if (m === undefined) this.copies.set(block, (m = new Map()));
    let c = m.get(addr);
    if (c === undefined) m.set(addr, (c = new Uint8Array(this.opts.pageSize)));
    return c;
  }
}

function isSingleFlag(base: number): boolean {
  return (
    base === RamFlag.ZERO ||
    base === RamFlag.MEM_SIZE ||
    base === RamFlag.PAGE ||
    base === RamFlag.EOS ||
    base === RamFlag.XBZRLE ||
    base === RamFlag.HOOK ||
    base === RamFlag.COMPRESS_PAGE
  );
}

/** A be64 power of two of at least 4 KiB next: a block page size, not a counted name (which never starts with 0). */
function looksLikePageSize(r: ChannelReader): boolean {
  if (r.peekU8() !== 0) return false;
  for (let i = 0; i < 8; i++) r.peekAt(i);
  const mark = r.mark();
  const v = r.u64();
  r.reset(mark);
  return v >= 4096n && (v & (v - 1n)) === 0n;
}

function inflatePage(z: Uint8Array, pageSize: number, offset: number, path: readonly (string | number)[]): Uint8Array {
  let out: Buffer;
  try {
    out = inflateSync(z, { maxOutputLength: pageSize });
  } catch (e) {
    throw new VmsError('E_FORMAT', 'compressed RAM page does not inflate', {
      offset,
      path,
      expected: `a zlib stream of one ${pageSize}-byte page`,
      actual: e instanceof Error ? e.message : String(e),
    });
  }
  if (out.length !== pageSize) {
    throw new VmsError('E_FORMAT', 'compressed RAM page inflates to the wrong size', {
      offset,
      path,
      expected: `${pageSize} bytes`,
      actual: `${out.length} bytes`,
    });
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
