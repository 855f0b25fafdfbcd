/**
 * Writes QEMU's bytes from StreamVisitor events: reading a stream and feeding its events
 * here reproduces it byte for byte, footers and trailer included. Device fields go through
 * the format layer's BinaryOutputVisitor.
 *
 * Backpressure: the writer waits for the channel to drain at section ends and every few
 * hundred pages, never per field.
 */
import type { ChannelWriter } from '../channel/writer.js';
import { VmsError } from '../errors.js';
import { BinaryOutputVisitor } from '../format/binary/output.js';
import type { OutputVisitor } from '../format/visitor.js';
import { encodeCommand, encodeConfiguration } from './config.js';
import { QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, RamFlag, SECTION_BYTE_BY_KIND, SectionType } from './constants.js';
import type {
  Configuration,
  RamBlockList,
  RamPage,
  SectionEnd,
  SectionHeader,
  StreamCommand,
  StreamHeader,
  StreamVisitor,
  Trailer,
} from './events.js';
import { encodeVmdesc } from './vmdesc.js';

export interface StreamWriterOptions {
  /**
   * Write the trailer re-serialised from its parsed vmdesc (QEMU's separators) instead of
   * the bytes read. Defaults to false (bytes as read).
   */
  readonly regenerateVmdesc?: boolean;
}

const TWO32 = 2 ** 32;
/** Pages between drain checks. */
const DRAIN_EVERY = 256;

export class StreamWriter implements StreamVisitor {
  private readonly fields: BinaryOutputVisitor;
  private pagesSinceDrain = 0;

  constructor(
    readonly w: ChannelWriter,
    private readonly options: StreamWriterOptions = {},
  ) {
    this.fields = new CopyingBinaryVisitor(w);
  }

  header(h: StreamHeader): void {
    this.w.u32(h.magic ?? QEMU_VM_FILE_MAGIC).u32(h.version ?? QEMU_VM_FILE_VERSION);
  }

  configuration(c: Configuration): void {
    encodeConfiguration(this.w, c);
  }

  command(c: StreamCommand): void {
    encodeCommand(this.w, c);
  }

  sectionStart(h: SectionHeader): void {
    const w = this.w;
    w.u8(SECTION_BYTE_BY_KIND[h.kind]).u32(h.id);
    if (h.kind === 'start' || h.kind === 'full') w.countedString(h.idstr).u32(h.instance).u32(h.version);
  }

  deviceFields(_h?: SectionHeader): OutputVisitor {
    return this.fields;
  }

  ramBlocks(list: RamBlockList): void {
    const w = this.w;
    w.u64(list.total | BigInt(RamFlag.MEM_SIZE));
    for (const b of list.blocks) {
      w.countedString(b.name).u64(b.length);
      if (b.pageSize !== undefined) w.u64(b.pageSize);
      if (b.addr !== undefined) w.u64(b.addr);
    }
  }

  ramPage(p: RamPage): void | Promise<void> {
    const w = this.w;
    const hi = Math.floor(p.offset / TWO32);
    w.u64Split(hi, (p.offset - hi * TWO32 + p.flags) >>> 0);
    if (p.kind !== 'hook' && (p.flags & RamFlag.CONTINUE) === 0) w.countedString(p.block);
    switch (p.kind) {
      case 'zero':
        w.u8(p.fill);
        break;
      case 'page':
        if (p.wire.length === 0) {
          throw new VmsError('E_USAGE', 'page contents were skipped by the reader; read with pageData on to write them', {
            path: ['ram', p.block, p.offset],
          });
        }
        w.bytes(p.wire);
        break;
      case 'xbzrle':
        w.u8(p.encoding).u16(p.wire.length).bytes(p.wire);
        break;
      case 'compressed':
        w.u32(p.wire.length).bytes(p.wire);
        break;
      case 'hook':
        break;
    }
    if (++this.pagesSinceDrain >= DRAIN_EVERY) {
      this.pagesSinceDrain = 0;
      if (w.needsDrain) return w.drain();
    }
  }

  ramEos(word: bigint): void {
    this.w.u64(word);
  }

  async sectionEnd(h: SectionHeader, end: SectionEnd): Promise<void> {
    if (end.footer) this.w.u8(SectionType.FOOTER).u32(h.id);
    if (this.w.needsDrain) await this.w.drain();
  }

  eof(): void {
    this.w.u8(SectionType.EOF);
  }

  trailer(t: Trailer): void {
    const json = this.options.regenerateVmdesc ? encodeVmdesc(t.vmdesc) : t.json;
    this.w.u8(SectionType.VMDESCRIPTION).u32(json.length).bytes(owned(json));
  }

  async end(): Promise<void> {
    await this.w.flushAll();
  }
}

/**
 * The channel writer sends large runs by reference, but the reader's views are only valid
 * during the event: copy those (small runs are copied into the chunk anyway).
 */
const BY_REFERENCE = 1 << 15;
const owned = (b: Uint8Array): Uint8Array => (b.length >= BY_REFERENCE ? b.slice() : b);

class CopyingBinaryVisitor extends BinaryOutputVisitor {
  override buffer(name: string, bytes: Uint8Array): void {
    super.buffer(name, owned(bytes));
  }
  override opaque(name: string, type: string, bytes: Uint8Array): void {
    super.opaque(name, type, owned(bytes));
  }
}
