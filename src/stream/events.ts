/**
 * The event interface of the stream layer (a SAX-style StreamVisitor). The reader calls
 * these in stream order; the writer, `info`, `dump`, `convert` and `edit` all consume them,
 * and another format's writer can too. Every method is optional. A method may return a
 * promise; the reader waits for it before reading on (that is how a writer applies
 * backpressure).
 *
 * Views (page contents, opaque bytes) are shared with the reader's buffer: they are valid
 * only during the call. Record objects passed to `ramPage` are reused: copy what you keep.
 */
import type { OutputVisitor } from '../format/visitor.js';
import type { SectionKind } from './constants.js';
import type { Vmdesc, VmdescDevice } from './vmdesc.js';

export type Awaitable = void | Promise<void>;

export interface StreamHeader {
  readonly magic: number;
  readonly version: number;
}

/** One configuration subsection (spec §1.5), decoded when we know it, else kept raw. */
export type ConfigSubsection =
  | { readonly kind: 'target-page-bits'; readonly name: string; readonly version: number; readonly pageBits: number }
  | { readonly kind: 'capabilities'; readonly name: string; readonly version: number; readonly capabilities: readonly string[] }
  | { readonly kind: 'uuid'; readonly name: string; readonly version: number; readonly uuid: Uint8Array };

export interface Configuration {
  /** Machine type, e.g. "pc-i440fx-7.2". */
  readonly machine: string;
  readonly subsections: readonly ConfigSubsection[];
}

/** A QEMU_VM_COMMAND record (spec §1.6). */
export interface StreamCommand {
  readonly cmd: number;
  /** INVALID, PING, PACKAGED... or `CMD_<n>` for numbers past the table. */
  readonly name: string;
  /** The payload, exactly as on the wire (a copy). */
  readonly payload: Uint8Array;
  /** Decoded payload fields for the commands that have them (PING value, PACKAGED length...). */
  readonly detail: Readonly<Record<string, string | number | bigint | readonly (readonly [bigint, bigint])[]>>;
  readonly offset: number;
}

/** A section header. PART/END carry the idstr, instance and version of their START. */
export interface SectionHeader {
  readonly kind: SectionKind;
  readonly id: number;
  readonly idstr: string;
  readonly instance: number;
  readonly version: number;
  /** Stream offset of the type byte. */
  readonly offset: number;
  /** Nesting level: 0 at top level, 1 inside a PACKAGED command. */
  readonly depth: number;
  /** The vmdesc entry that describes this FULL section, when there is one. */
  readonly description?: VmdescDevice;
}

export interface SectionEnd {
  /** Stream offset just past the payload (where the footer, if any, starts). */
  readonly payloadEnd: number;
  /** A 0x7e footer followed the payload. */
  readonly footer: boolean;
}

export interface RamBlockInfo {
  readonly name: string;
  /** used_length in bytes. */
  readonly length: bigint;
  /** Present only with postcopy-ram and a block page size that differs from the host's. */
  readonly pageSize?: bigint;
  /** Guest physical address; present only with x-ignore-shared. */
  readonly addr?: bigint;
}

export interface RamBlockList {
  /** The total in the MEM_SIZE word (sum of the block lengths). */
  readonly total: bigint;
  readonly blocks: readonly RamBlockInfo[];
}

export type RamPageKind = 'zero' | 'page' | 'xbzrle' | 'compressed' | 'hook';

/** One page record of a RAM section. The object is reused between calls. */
export interface RamPage {
  kind: RamPageKind;
  /** The flag bits as on the wire (CONTINUE included). */
  flags: number;
  block: string;
  /** Byte offset of the page within its block. */
  offset: number;
  /** ZERO: the fill byte. */
  fill: number;
  /**
   * The bytes after the record header as on the wire: the page (PAGE), the XBZRLE
   * encoding (after its flag byte and length), the zlib stream (COMPRESS_PAGE). A view.
   */
  wire: Uint8Array;
  /** XBZRLE: the encoding flag byte (0x01 in QEMU 7.2). */
  encoding: number;
  /** The page contents after decoding (PAGE: same as wire; XBZRLE/compressed: only when decoding was asked). */
  page: Uint8Array | undefined;
  /** Stream offset of the record's header word. */
  recordOffset: number;
}

export interface Trailer {
  /** The JSON bytes exactly as on the wire. */
  readonly json: Uint8Array;
  readonly vmdesc: Vmdesc;
  readonly offset: number;
}

export interface StreamVisitor {
  header?(h: StreamHeader): Awaitable;
  configuration?(c: Configuration): Awaitable;
  command?(c: StreamCommand): Awaitable;
  /** After a PACKAGED command's nested items (which are reported as usual, at depth 1). */
  packagedEnd?(): Awaitable;
  sectionStart?(h: SectionHeader): Awaitable;
  /**
   * For a device (non-RAM) section: return a visitor to receive its fields as OutputVisitor
   * events (a top-level struct named after the idstr), or undefined if not interested.
   * Sections that cannot be decoded come as one `opaque` field named "data".
   */
  deviceFields?(h: SectionHeader): OutputVisitor | undefined;
  ramBlocks?(list: RamBlockList): Awaitable;
  ramPage?(p: RamPage): Awaitable;
  /** The EOS word that ends a RAM section's data (normally exactly 0x10). */
  ramEos?(word: bigint): Awaitable;
  sectionEnd?(h: SectionHeader, end: SectionEnd): Awaitable;
  /** QEMU_VM_EOF (at depth 1: the end of a PACKAGED blob). */
  eof?(offset: number, depth: number): Awaitable;
  trailer?(t: Trailer): Awaitable;
  /** The stream ended cleanly. */
  end?(totalBytes: number): Awaitable;
}
