/**
 * Whole lines of a long OCTET STRING in asn1c's XER layout: LF, the indentation, then 16 x "XX "
 * (uppercase, a space after every byte, trailing one included). This is the bulk of the XER of
 * a migration stream (RAM pages), so it has its own formatter:
 *
 *  - Lines go into pooled blocks whose LFs and indentation are written once, when a block is
 *    set up for an indentation; formatting a line then only stores its 48 hex-and-space bytes.
 *  - Two input bytes make one table lookup and one 8-byte store: a 65,536-entry table holds
 *    "HL HL " for each byte pair, plus "\n " (what follows a line's last pair: the next line's LF
 *    and first indentation space), read and written as a float64. Every entry's top byte is
 *    0x20, so no entry is a NaN and the bits go through unchanged.
 *  - Blocks go to the ChannelWriter by reference (no copy of the output) and are reused once the
 *    writer reports them written. When every pooled block is still queued (a stalled sink), a
 *    spare block is formatted and copied instead, so memory stays bounded.
 *
 * Bench (`node dist/bench/run.js --only validate`, the 1 GB stream): the previous per-line
 * 32-bit word loop spent 7.3 s of CPU here, this ~2.5 s.
 */
import type { ChannelWriter } from '../../channel/writer.js';

/** Input bytes per line. */
const PER_LINE = 16;
/** Lines per block: with 4-level indentation a block is about 300 KB, above the writer's zero-copy threshold. */
const BLOCK_LINES = 4096;
/** Pooled blocks; with the writer's 4 MiB high-water mark and the reader's pieces, about half are in flight at most. */
const MAX_BLOCKS = 24;
/** Smaller outputs are copied (the block is free again at once), as the writer would copy them anyway. */
const BY_REFERENCE_MIN = 64 << 10;
/** An 8-byte store for a line's last pair writes 2 bytes past the line. */
const OVERRUN = 2;

let pairTable: Float64Array | undefined;

/** "HL HL \n " for every two-byte value, as float64 bit patterns (built on first use: 512 KiB). */
function pairs(): Float64Array {
  if (pairTable !== undefined) return pairTable;
  const digits = new Uint8Array(16);
  for (let d = 0; d < 16; d++) digits[d] = d < 10 ? 0x30 + d : 0x41 + d - 10;
  const t = new Float64Array(65536);
  const b = new Uint8Array(t.buffer);
  for (let x = 0, p = 0; x < 65536; x++, p += 8) {
    b[p] = digits[x >>> 12]!;
    b[p + 1] = digits[(x >>> 8) & 15]!;
    b[p + 2] = 0x20;
    b[p + 3] = digits[(x >>> 4) & 15]!;
    b[p + 4] = digits[x & 15]!;
    b[p + 5] = 0x20;
    b[p + 6] = 0x0a;
    b[p + 7] = 0x20;
  }
  pairTable = t;
  return t;
}

interface Block {
  bytes: Uint8Array;
  view: DataView;
  /** Indentation its template holds (-1: none yet). */
  indent: number;
  /** The writer's bytesWritten at which this block's last use has been written. */
  freeAt: number;
}

export class HexLines {
  private readonly blocks: Block[] = [];
  /** Formatted and copied when every pooled block is still queued; never sent by reference. */
  private spare: Block | undefined;
  private next = 0;
  private inView: DataView | undefined;

  constructor(private readonly out: ChannelWriter) {}

  /**
   * Writes the lines for `bytes[start, end)` (a multiple of 16 bytes), each indented by
   * `indent` spaces (at least 1), to the writer. Whatever the caller buffered must be shipped first.
   */
  write(bytes: Uint8Array, start: number, end: number, indent: number): void {
    const table = pairs();
    const input = this.inputView(bytes);
    const lineLen = 1 + indent + 3 * PER_LINE;
    for (let i = start; i < end; ) {
      const lines = Math.min(BLOCK_LINES, (end - i) / PER_LINE);
      const pooled = this.freeBlock();
      const block = pooled ?? this.spareBlock();
      if (block.indent !== indent) template(block, indent);
      formatLines(input, i, lines, block.view, 1 + indent, lineLen, table);
      const formatted = block.bytes.subarray(0, lines * lineLen);
      if (pooled !== undefined && formatted.length >= BY_REFERENCE_MIN) {
        this.out.bytes(formatted);
        block.freeAt = this.out.bytesPut;
      } else this.out.bytesCopy(formatted);
      i += lines * PER_LINE;
    }
  }

  /** A pooled block the writer is done with (or a new one while the pool is not full), round robin. */
  private freeBlock(): Block | undefined {
    const written = this.out.bytesWritten;
    const n = this.blocks.length;
    for (let k = 0; k < n; k++) {
      const b = this.blocks[(this.next + k) % n]!;
      if (b.freeAt <= written) {
        this.next = (this.next + k + 1) % n;
        return b;
      }
    }
    if (n >= MAX_BLOCKS) return undefined;
    const b = newBlock();
    this.blocks.push(b);
    return b;
  }

  private spareBlock(): Block {
    this.spare ??= newBlock();
    return this.spare;
  }

  /** A DataView of the input's memory, kept while the reader's buffer stays the same. */
  private inputView(bytes: Uint8Array): DataView {
    const v = this.inView;
    if (v !== undefined && v.buffer === bytes.buffer && v.byteOffset === bytes.byteOffset && v.byteLength === bytes.byteLength) return v;
    this.inView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.inView;
  }
}

/** Room for BLOCK_LINES lines at the indentation a block is first set up for; regrown for a deeper one. */
function newBlock(): Block {
  const bytes = new Uint8Array(0);
  return { bytes, view: new DataView(bytes.buffer), indent: -1, freeAt: 0 };
}

/** Writes a block's LFs and indentation (and spaces where the hex goes), growing it if needed. */
function template(block: Block, indent: number): void {
  const lineLen = 1 + indent + 3 * PER_LINE;
  const size = BLOCK_LINES * lineLen + OVERRUN;
  let bytes = block.bytes;
  if (bytes.length < size) {
    bytes = new Uint8Array(size);
    block.bytes = bytes;
    block.view = new DataView(bytes.buffer);
  }
  bytes.fill(0x20);
  for (let p = 0; p < size - OVERRUN; p += lineLen) bytes[p] = 0x0a;
  block.indent = indent;
}

/**
 * The hex of `lines` lines of input from `at`, into the block's template: 8 stores per line, in
 * increasing order, each overwriting the 2 bytes the one before wrote past its pair.
 */
function formatLines(input: DataView, at: number, lines: number, out: DataView, first: number, lineLen: number, t: Float64Array): void {
  let q = first;
  let i = at;
  for (let l = 0; l < lines; l++) {
    let w = input.getUint32(i, false);
    out.setFloat64(q, t[w >>> 16]!, true);
    out.setFloat64(q + 6, t[w & 0xffff]!, true);
    w = input.getUint32(i + 4, false);
    out.setFloat64(q + 12, t[w >>> 16]!, true);
    out.setFloat64(q + 18, t[w & 0xffff]!, true);
    w = input.getUint32(i + 8, false);
    out.setFloat64(q + 24, t[w >>> 16]!, true);
    out.setFloat64(q + 30, t[w & 0xffff]!, true);
    w = input.getUint32(i + 12, false);
    out.setFloat64(q + 36, t[w >>> 16]!, true);
    out.setFloat64(q + 42, t[w & 0xffff]!, true);
    q += lineLen;
    i += PER_LINE;
  }
}
