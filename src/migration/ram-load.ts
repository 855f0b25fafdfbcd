/**
 * The receiving side of the "ram" section: pages go into staging copies of the blocks (see
 * ram-staging.ts: fresh zeroed arrays, or buffers prepared before the stream arrived), with a
 * bitmap of the pages received. Nothing reaches guest RAM before `commit`, which swaps a fully
 * received block in whole and copies page by page otherwise. Record decoding is the stream
 * layer's RamDecoder; here we only check the block list against our RAM and stage pages.
 */
import type { ChannelReader } from '../channel/reader.js';
import { VmsError } from '../errors.js';
import { RAM_IDSTR, RAM_VERSION, RamFlag } from '../stream/constants.js';
import type { RamBlockList, RamPage, SectionHeader, StreamVisitor } from '../stream/events.js';
import { RamDecoder } from '../stream/ram.js';
import type { GuestMemory } from './guest-memory.js';
import type { LiveLoadHandler } from './handlers.js';
import { PageBitmap } from './page-bitmap.js';
import { RamStaging } from './ram-staging.js';

/** Most RAM blocks a block list may name. */
const MAX_BLOCKS = 4096;
const PAGE_CONTINUE = RamFlag.PAGE | RamFlag.CONTINUE;
const ZERO_CONTINUE = RamFlag.ZERO | RamFlag.CONTINUE;
const TWO32 = 2 ** 32;

interface Staged {
  readonly local: number;
  readonly bytes: Uint8Array;
  /** The buffer was all zeros when this migration took it: zero pages need no write. */
  readonly knownZero: boolean;
  /** Pages of the buffer that may hold non-zero bytes when this migration took it, if known. */
  readonly stale: PageBitmap | undefined;
  readonly received: PageBitmap;
  /** Pages whose last record was a page (or a non-zero fill): the block's written pages after commit. */
  readonly nonZero: PageBitmap;
}

export class RamLoadHandler implements LiveLoadHandler {
  readonly idstr = RAM_IDSTR;
  readonly instance = 0;
  readonly version = RAM_VERSION;
  private decoder: RamDecoder | undefined;
  private readonly staged = new Map<string, Staged>();
  private sawBlocks = false;
  private sawEnd = false;
  /** Cache of the last block looked up (pages come in runs of one block). */
  private lastName = '';
  private last: Staged | undefined;
  private readonly visitor: StreamVisitor;
  /** The reader of the section being loaded (for the run of CONTINUE records after a page). */
  private reader: ChannelReader | undefined;
  /** Pages received (records, not distinct pages). */
  pages = 0;

  /** `staging` is where pages wait for commit; by default fresh zeroed memory for this migration. */
  constructor(
    private readonly memory: GuestMemory,
    private readonly staging: RamStaging = new RamStaging(memory),
  ) {
    this.visitor = {
      ramBlocks: (list) => this.blocks(list),
      ramPage: (p) => this.page(p),
    };
  }

  get complete(): boolean {
    return this.sawEnd;
  }

  async loadSection(r: ChannelReader, kind: 'start' | 'part' | 'end', sectionId: number, version: number): Promise<void> {
    if (version !== RAM_VERSION) {
      throw new VmsError('E_VERSION', `ram section version ${version} is not supported`, {
        offset: r.offset,
        path: [RAM_IDSTR],
        expected: String(RAM_VERSION),
        actual: String(version),
      });
    }
    if (kind !== 'start' && !this.sawBlocks) {
      throw new VmsError('E_FORMAT', 'ram pages before the block list', { offset: r.offset, path: [RAM_IDSTR], expected: 'a START section first' });
    }
    this.decoder ??= new RamDecoder(r, {
      pageSize: this.memory.pageSize,
      pageData: true,
      decodeXbzrle: false,
      decodeCompressed: false,
      ignoreShared: false,
      postcopyPageSizes: false,
      maxBlocks: MAX_BLOCKS,
    });
    const h: SectionHeader = { kind, id: sectionId, idstr: RAM_IDSTR, instance: 0, version, offset: r.offset, depth: 0 };
    this.reader = r;
    await this.decoder.section(h, this.visitor);
    if (kind === 'end') this.sawEnd = true;
  }

  private blocks(list: RamBlockList): void {
    const mem = this.memory;
    for (const b of list.blocks) {
      const local = mem.indexOf(b.name);
      if (local < 0) {
        throw new VmsError('E_UNKNOWN', `unknown RAM block ${JSON.stringify(b.name)}`, {
          path: [RAM_IDSTR, b.name],
          expected: `one of ${mem.blocks.map((x) => x.name).join(', ')}`,
        });
      }
      const length = mem.bytesOf(local).length;
      if (BigInt(length) !== b.length) {
        throw new VmsError('E_MISMATCH', `RAM block ${b.name} has another size here`, {
          path: [RAM_IDSTR, b.name],
          expected: `0x${length.toString(16)} bytes`,
          actual: `0x${b.length.toString(16)} bytes`,
        });
      }
      if (!this.staged.has(b.name)) {
        const buf = this.staging.acquire(local);
        const pages = length >>> mem.pageShift;
        this.staged.set(b.name, { local, bytes: buf.bytes, knownZero: buf.knownZero, stale: buf.written, received: new PageBitmap(pages), nonZero: new PageBitmap(pages) });
      }
    }
    this.sawBlocks = true;
  }

  private page(p: RamPage): Promise<void> | undefined {
    let s = this.last;
    if (p.block !== this.lastName || s === undefined) {
      s = this.staged.get(p.block);
      if (s === undefined) {
        throw new VmsError('E_UNKNOWN', `page for RAM block ${JSON.stringify(p.block)} that was not in the block list`, {
          offset: p.recordOffset,
          path: [RAM_IDSTR, p.block],
        });
      }
      this.last = s;
      this.lastName = p.block;
    }
    const ps = this.memory.pageSize;
    const page = Math.floor(p.offset / ps);
    const off = p.offset;
    switch (p.kind) {
      case 'zero':
        if (p.fill !== 0 || !isZero(s, page)) s.bytes.fill(p.fill, off, off + ps);
        if (p.fill !== 0) s.nonZero.set(page);
        else s.nonZero.clear(page);
        break;
      case 'page':
        s.bytes.set(p.wire, off);
        s.nonZero.set(page);
        break;
      default:
        throw new VmsError('E_FORMAT', `${p.kind} RAM pages were not negotiated`, {
          offset: p.recordOffset,
          path: [RAM_IDSTR, p.block],
          expected: 'ZERO or PAGE records',
          actual: p.kind,
        });
    }
    s.received.set(page);
    this.pages++;
    return this.reader === undefined ? undefined : this.continueRun(this.reader, s);
  }

  /**
   * Stages the CONTINUE page and zero records that follow a page (same block) without a trip
   * through the stream decoder per record: a header word, a bounds check and one copy per
   * page. Stops at any other record or one past the block's end, and leaves it to the decoder
   * (which reports what is wrong with it). When the buffer runs dry it waits for the next
   * record's bytes itself (a promise the decoder awaits) rather than let the decoder throw
   * NEED_MORE and parse the record again: that showed once per socket chunk in profiles.
   * Waiting is safe: at least 9 bytes follow any page in a valid stream (a record, or EOS and
   * the section footer), and an ended source hands the cut record back to the decoder.
   */
  private continueRun(r: ChannelReader, s: Staged): Promise<void> | undefined {
    const need = this.stageBuffered(r, s);
    return need === 0 ? undefined : this.awaitRun(r, s, need);
  }

  private async awaitRun(r: ChannelReader, s: Staged, need: number): Promise<void> {
    while (need > 0 && (await r.fill(need))) need = this.stageBuffered(r, s);
  }

  /**
   * Stages the run's records that are wholly buffered. Returns 0 when the run ended (another
   * kind of record is next), else the bytes the next record needs buffered.
   */
  private stageBuffered(r: ChannelReader, s: Staged): number {
    const ps = this.memory.pageSize;
    const mask = ps - 1;
    const limit = s.bytes.length;
    const bytes = s.bytes;
    const received = s.received;
    const nonZero = s.nonZero;
    let n = 0;
    let need = 0;
    for (;;) {
      if (!r.has(9)) {
        need = 9;
        break;
      }
      const mark = r.mark();
      const hi = r.u64Split();
      const lo = r.lastLow;
      const flags = lo & mask;
      const off = hi * TWO32 + (lo - flags);
      if (off + ps > limit) {
        r.reset(mark);
        break;
      }
      const page = off / ps;
      if (flags === PAGE_CONTINUE) {
        if (!r.has(ps)) {
          r.reset(mark);
          need = 8 + ps;
          break;
        }
        bytes.set(r.bytesView(ps), off);
        nonZero.set(page);
      } else if (flags === ZERO_CONTINUE) {
        const fill = r.u8();
        if (fill !== 0 || !isZero(s, page)) bytes.fill(fill, off, off + ps);
        if (fill !== 0) nonZero.set(page);
        else nonZero.clear(page);
      } else {
        r.reset(mark);
        break;
      }
      received.set(page);
      n++;
    }
    this.pages += n;
    return need;
  }

  commit(): void {
    const mem = this.memory;
    const ps = mem.pageSize;
    for (const s of this.staged.values()) {
      if (s.received.full()) {
        this.staging.install(s.local, s.bytes, s.nonZero);
        continue;
      }
      const live = mem.bytesOf(s.local);
      for (let page = s.received.nextSet(0); page >= 0; page = s.received.nextSet(page + 1)) {
        live.set(s.bytes.subarray(page * ps, page * ps + ps), page * ps);
        // Reported like any write to guest RAM: a page never written counts as zero when this machine migrates on.
        mem.markDirty(s.local, page * ps, ps);
      }
    }
    this.staged.clear();
  }

  discard(): void {
    this.staged.clear();
    this.last = undefined;
    this.reader = undefined;
  }
}

/**
 * True when staging page `page` holds zeros: nothing of this migration landed there, and the
 * buffer was fresh, or a handed-back RAM buffer whose written bitmap had the page clear.
 */
function isZero(s: Staged, page: number): boolean {
  if (s.received.get(page)) return false;
  return s.knownZero || (s.stale !== undefined && !s.stale.get(page));
}
