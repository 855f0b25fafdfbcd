/**
 * Whole lines of a long OCTET STRING in asn1c's XER layout: LF, the indentation, then 16 x "XX "
 * (uppercase, a space after every byte, trailing one included). This is the bulk of the XER of
 * a migration stream (RAM pages), so it has its own formatter:
 *
 *  - Lines go into pooled blocks whose LFs, indentation and spaces are written once, when a block
 *    is set up for an indentation; formatting a line then only stores its 16 digit pairs.
 *  - The digit pairs are stored by a 20-instruction WebAssembly loop (hex-wasm.ts) over the
 *    block, which lives in the module's memory; where WebAssembly is missing (node --jitless), by
 *    a JS loop that makes 8-byte stores from a table of digit-pair pairs.
 *  - Blocks go to the ChannelWriter by reference (no copy of the output) and are reused once the
 *    writer reports them written. When every pooled block is still queued (a stalled sink), a
 *    spare block is formatted and copied instead, so memory stays bounded.
 *
 * Bench (`node dist/bench/run.js --only validate`, the 1 GB stream, CPU of `validate --xer`):
 * the per-line 32-bit word loop this replaces took 10.8 s in all; the JS loop here 5.2 s; WebAssembly 2.6 s.
 */
import type { ChannelWriter } from '../../channel/writer.js';
import { PER_LINE, wasmHexFormatter } from './hex-wasm.js';

/** Bytes of a block: 4096 lines at 4-level indentation (about 300 KB, above the writer's zero-copy threshold). */
export const BLOCK_SIZE = 320 << 10;
/** Lines per block at most (input per block: 64 KiB). */
export const BLOCK_LINES = 4096;
/** Pooled blocks; with the writer's 4 MiB high-water mark and the reader's pieces, about half are in flight at most. */
export const MAX_BLOCKS = 24;
/** Smaller outputs are copied (the block is free again at once), as the writer would copy them anyway. */
const BY_REFERENCE_MIN = 64 << 10;
/** The JS loop's 8-byte store for a line's last pair writes 2 bytes past the line. */
const OVERRUN = 2;

/** Formats whole lines into numbered blocks of BLOCK_SIZE bytes (MAX_BLOCKS pooled ones, then the spare). */
export interface LineFormatter {
  readonly name: string;
  /** Block `k`'s bytes; the same memory on every call. */
  block(k: number): Uint8Array;
  /** Formats `lines` lines of input from `bytes[at]` into block `k`, whose first line's digits start at `first`. */
  format(bytes: Uint8Array, at: number, lines: number, k: number, first: number, lineLen: number): void;
}

interface Block {
  readonly k: number;
  readonly bytes: Uint8Array;
  /** Indentation its template holds (-1: none yet). */
  indent: number;
  /** The writer's bytesWritten at which this block's last use has been written. */
  freeAt: number;
}

export interface HexLinesOptions {
  /** Use the JS loop even where WebAssembly is available (tests). Defaults to false. */
  readonly noWasm?: boolean;
}

export class HexLines {
  private readonly blocks: Block[] = [];
  /** Formatted and copied when every pooled block is still queued; never sent by reference. */
  private spare: Block | undefined;
  private next = 0;
  private readonly formatter: LineFormatter;

  constructor(
    private readonly out: ChannelWriter,
    options: HexLinesOptions = {},
  ) {
    this.formatter = (options.noWasm === true ? undefined : wasmHexFormatter(BLOCK_SIZE, MAX_BLOCKS + 1, BLOCK_LINES)) ?? new JsLineFormatter();
  }

  /** Which formatter runs: `wasm` or `js`. */
  get engine(): string {
    return this.formatter.name;
  }

  /**
   * Writes the lines for `bytes[start, end)` (a multiple of 16 bytes), each indented by
   * `indent` spaces (at least 1), to the writer. Whatever the caller buffered must be shipped first.
   */
  write(bytes: Uint8Array, start: number, end: number, indent: number): void {
    const lineLen = 1 + indent + 3 * PER_LINE;
    const perBlock = Math.min(BLOCK_LINES, Math.floor((BLOCK_SIZE - OVERRUN) / lineLen));
    for (let i = start; i < end; ) {
      const lines = Math.min(perBlock, (end - i) / PER_LINE);
      const pooled = this.freeBlock();
      const block = pooled ?? this.spareBlock();
      if (block.indent !== indent) template(block, indent, lineLen);
      this.formatter.format(bytes, i, lines, block.k, 1 + indent, lineLen);
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
    const b = this.newBlock(n);
    this.blocks.push(b);
    return b;
  }

  private spareBlock(): Block {
    this.spare ??= this.newBlock(MAX_BLOCKS);
    return this.spare;
  }

  private newBlock(k: number): Block {
    return { k, bytes: this.formatter.block(k), indent: -1, freeAt: 0 };
  }
}

/** Writes a block's LFs, indentation and spaces for lines of `lineLen` bytes. */
function template(block: Block, indent: number, lineLen: number): void {
  const bytes = block.bytes;
  bytes.fill(0x20);
  for (let p = 0; p + lineLen <= bytes.length; p += lineLen) bytes[p] = 0x0a;
  block.indent = indent;
}

let pairTable: Float64Array | undefined;

/**
 * "HL HL \n " for every two-byte value, as float64 bit patterns (built on first use: 512 KiB).
 * The "\n " is what follows a line's last pair (the next line's LF and first indentation space).
 * Every entry's top byte is 0x20, so no entry is a NaN and the bits go through unchanged.
 */
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

/** The JS loop: two input bytes make one table lookup and one 8-byte store. */
class JsLineFormatter implements LineFormatter {
  readonly name = 'js';
  private readonly blocks: { bytes: Uint8Array; view: DataView }[] = [];
  private inView: DataView | undefined;

  block(k: number): Uint8Array {
    let b = this.blocks[k];
    if (b === undefined) {
      const bytes = new Uint8Array(BLOCK_SIZE);
      b = { bytes, view: new DataView(bytes.buffer) };
      this.blocks[k] = b;
    }
    return b.bytes;
  }

  format(bytes: Uint8Array, at: number, lines: number, k: number, first: number, lineLen: number): void {
    const input = this.inputView(bytes);
    const out = this.blocks[k]!.view;
    const t = pairs();
    // In increasing order: each store overwrites the 2 bytes the one before wrote past its pair.
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

  /** A DataView of the input's memory, kept while the reader's buffer stays the same. */
  private inputView(bytes: Uint8Array): DataView {
    const v = this.inView;
    if (v !== undefined && v.buffer === bytes.buffer && v.byteOffset === bytes.byteOffset && v.byteLength === bytes.byteLength) return v;
    this.inView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.inView;
  }
}
