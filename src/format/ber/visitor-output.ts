/**
 * The BER output visitor: VMState's walk written as the schema's Struct / Field / Value /
 * Subsection types (schema/migration.asn1), so the same descriptions that produce QEMU's
 * bytes produce a self-describing tree. IMPLICIT tags; the Value CHOICE is [1] EXPLICIT in
 * a Field and [0]/[1] EXPLICIT in a TreeNode.
 *
 * Lengths: containers whose contents arrive online (a struct, its field list, arrays, lists,
 * trees, subsections) use the indefinite form; every primitive, and every Field holding a
 * primitive, has a definite length computed up front, so nothing is encoded twice.
 *
 *   Struct     ::= SEQUENCE { [0] vmsdName, [1] version, [2] fields SEQUENCE OF Field,
 *                             [3] subsections SEQUENCE OF Subsection OPTIONAL }
 *   Field      ::= SEQUENCE { [0] name, [1] EXPLICIT Value }
 *   Subsection ::= SEQUENCE { [0] name, [1] version, [2] fields, [3] subsections OPTIONAL }
 *
 * A subsection's body may come as its own startStruct/endStruct (as VMState saves it) or as
 * bare fields (as the vmdesc-driven decoder emits it); both give the same Subsection.
 * Buffers are copied to the channel: callers often pass views that change after the call.
 * An array of uint8 (4 elements or more) is written as one `buffer` value, its bytes in order.
 */
import { VmsError } from '../../errors.js';
import type { OutputVisitor, StructInfo } from '../visitor.js';
import { integerSize, putInteger } from './integer.js';
import { lengthSize, putLength } from './length.js';
import { TagClass, berTag, type BerTag } from './tag.js';
import { utf8Bytes } from './text.js';
import { UniversalTag, type BerWriter } from './writer.js';

/** Alternative numbers of the schema's Value CHOICE. */
export const ValueTag = {
  bool: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  uint8: 5,
  uint16: 6,
  uint32: 7,
  uint64: 8,
  buffer: 9,
  string: 10,
  unused: 11,
  nullPointer: 12,
  opaque: 13,
  struct: 14,
  array: 15,
  list: 16,
  tree: 17,
  extension: 29,
} as const;
export type ValueKind = keyof typeof ValueTag;

/** Component numbers of Struct and Subsection (the same four, then extensions). */
export const StructTag = { name: 0, version: 1, fields: 2, subsections: 3, extensions: 29 } as const;

/** Context tags [0]..[30], precomputed. */
export const ctx: readonly BerTag[] = Array.from({ length: 31 }, (_, n) => berTag(TagClass.Context, n));

/**
 * Arrays of this many uint8 elements or more go out as one `buffer` value (three bytes per
 * element become one); readers accept a buffer wherever an array of uint8 is read.
 */
const MIN_BYTE_ARRAY = 4;
/** Larger arrays are written element by element, so holding one back never costs more than this. */
const MAX_BYTE_ARRAY = 1 << 20;

/** Names are encoded once and reused (field names repeat across array elements and sections). */
const NAME_CACHE_LIMIT = 4096;

type Frame =
  | {
      kind: 'struct';
      /** 0: nothing written after version; 1: field list open; 2: subsection list open; 3: lists closed. */
      phase: 0 | 1 | 2 | 3;
      /** A subsection frame whose body came as startStruct: that struct's endStruct only closes lists. */
      subsection: boolean;
      absorbed: boolean;
      /** Wrapper containers (Field, [1] EXPLICIT) to close after the value. */
      wrappers: number;
    }
  | { kind: 'values'; wrappers: number; expected: number; count: number; list: boolean }
  | { kind: 'tree'; wrappers: number; nodeOpen: boolean; part: 0 | 1 | 2 };

export interface BerOutputOptions {
  /** Tag of a top-level struct. Defaults to UNIVERSAL SEQUENCE; the stream writer uses [0] (SectionBody.device). */
  readonly topTag?: BerTag;
}

export class BerOutputVisitor implements OutputVisitor {
  private readonly frames: Frame[] = [];
  /** Wrapper headers are assembled here. */
  private readonly scratch = new Uint8Array(96);
  /** Small primitive contents (integers, booleans) are assembled here. */
  private readonly contents = new Uint8Array(16);
  private readonly names = new Map<string, Uint8Array>();
  private readonly topTag: BerTag;
  /** An array of uint8 so far, not yet written (see startArray). */
  private held: { name: string; length: number; bytes: Uint8Array; count: number } | undefined;

  constructor(
    readonly ber: BerWriter,
    options: BerOutputOptions = {},
  ) {
    this.topTag = options.topTag ?? UniversalTag.Sequence;
  }

  get offset(): number {
    return this.ber.out.bytesPut;
  }

  /** True between a top-level startStruct and its endStruct. */
  get busy(): boolean {
    return this.frames.length > 0;
  }

  // ---- structure ----------------------------------------------------------------------------

  startStruct(name: string, info: StructInfo): void {
    this.release();
    const top = this.frames[this.frames.length - 1];
    if (top?.kind === 'struct' && top.subsection && top.phase === 0 && !top.absorbed) {
      // The subsection's body (VMState saves it as a struct): its header is already written.
      top.absorbed = true;
      return;
    }
    const wrappers = top === undefined ? 0 : this.openValue(name, ValueTag.struct);
    if (top === undefined) this.ber.startIndefinite(this.topTag);
    this.writeName(StructTag.name, info.vmsdName);
    this.writeUnsigned(StructTag.version, info.version, 'struct version');
    this.frames.push({ kind: 'struct', phase: 0, subsection: false, absorbed: false, wrappers });
  }

  endStruct(): void {
    this.release();
    const f = this.pop('struct', 'endStruct');
    if (f.subsection && f.absorbed) {
      this.closeLists(f);
      f.absorbed = false;
      this.frames.push(f);
      return;
    }
    if (f.subsection) throw usage('endStruct inside a subsection whose body was not a struct');
    this.closeLists(f);
    this.ber.end();
    this.closeWrappers(f.wrappers);
  }

  startArray(name: string, length: number): void {
    this.release();
    if (length >= MIN_BYTE_ARRAY && length <= MAX_BYTE_ARRAY) {
      // Held back: if every element is a uint8, the array goes out as one buffer value.
      this.held = { name, length, bytes: new Uint8Array(length), count: 0 };
      return;
    }
    this.openArray(name, length);
  }

  private openArray(name: string, length: number): void {
    const wrappers = this.openValue(name, ValueTag.array);
    this.frames.push({ kind: 'values', wrappers, expected: length, count: 0, list: false });
  }

  endArray(): void {
    const h = this.held;
    if (h !== undefined && h.count === h.length) {
      this.held = undefined;
      this.primitive(h.name, ValueTag.buffer, h.bytes);
      return;
    }
    this.release();
    const f = this.pop('values', 'endArray');
    if (f.count !== f.expected) {
      throw new VmsError('E_USAGE', 'array element count differs from its announced length', {
        offset: this.offset,
        expected: `${f.expected} elements`,
        actual: `${f.count}`,
      });
    }
    this.ber.end();
    this.closeWrappers(f.wrappers);
  }

  startList(name: string): void {
    this.release();
    const wrappers = this.openValue(name, ValueTag.list);
    this.frames.push({ kind: 'values', wrappers, expected: -1, count: 0, list: true });
  }

  listElement(): void {
    this.release();
    const top = this.frames[this.frames.length - 1];
    if (top?.kind !== 'values' || !top.list) throw usage('listElement outside a list');
  }

  endList(): void {
    this.release();
    const f = this.pop('values', 'endList');
    this.ber.end();
    this.closeWrappers(f.wrappers);
  }

  startTree(name: string, _nodeCount: number): void {
    this.release();
    // The node count is implicit: it is the number of TreeNodes.
    const wrappers = this.openValue(name, ValueTag.tree);
    this.frames.push({ kind: 'tree', wrappers, nodeOpen: false, part: 2 });
  }

  treeNode(): void {
    this.release();
    const top = this.frames[this.frames.length - 1];
    if (top?.kind !== 'tree') throw usage('treeNode outside a tree');
    if (top.nodeOpen) this.ber.end();
    this.ber.startIndefinite(UniversalTag.Sequence);
    top.nodeOpen = true;
    top.part = 0;
  }

  endTree(): void {
    this.release();
    const f = this.pop('tree', 'endTree');
    if (f.nodeOpen) this.ber.end();
    this.ber.end();
    this.closeWrappers(f.wrappers);
  }

  startSubsection(name: string, version: number): void {
    this.release();
    const top = this.frames[this.frames.length - 1];
    if (top?.kind !== 'struct') throw usage('startSubsection outside a struct');
    if (top.phase < 2) {
      if (top.phase === 0) this.ber.startIndefinite(ctx[StructTag.fields]!);
      this.ber.end();
      this.ber.startIndefinite(ctx[StructTag.subsections]!);
      top.phase = 2;
    } else if (top.phase === 3) {
      throw usage('startSubsection after the struct was closed');
    }
    this.ber.startIndefinite(UniversalTag.Sequence);
    this.writeName(StructTag.name, name);
    this.writeUnsigned(StructTag.version, version, 'subsection version');
    this.frames.push({ kind: 'struct', phase: 0, subsection: true, absorbed: false, wrappers: 0 });
  }

  endSubsection(): void {
    this.release();
    const f = this.pop('struct', 'endSubsection');
    if (!f.subsection || f.absorbed) throw usage('endSubsection without a matching startSubsection');
    this.closeLists(f);
    this.ber.end();
  }

  // ---- values -------------------------------------------------------------------------------

  bool(name: string, v: boolean): void {
    this.release();
    const c = this.contents;
    c[0] = v ? 0xff : 0x00;
    this.primitive(name, ValueTag.bool, c.subarray(0, 1));
  }
  int8(name: string, v: number): void {
    this.release();
    this.int(name, ValueTag.int8, v, -0x80, 0x7f);
  }
  int16(name: string, v: number): void {
    this.release();
    this.int(name, ValueTag.int16, v, -0x8000, 0x7fff);
  }
  int32(name: string, v: number): void {
    this.release();
    this.int(name, ValueTag.int32, v, -0x80000000, 0x7fffffff);
  }
  int64(name: string, v: bigint): void {
    this.release();
    this.big(name, ValueTag.int64, BigInt.asIntN(64, v), v);
  }
  uint8(name: string, v: number): void {
    const h = this.held;
    if (h !== undefined && h.count < h.length && Number.isInteger(v) && v >= 0 && v <= 0xff) {
      h.bytes[h.count++] = v;
      return;
    }
    this.release();
    this.int(name, ValueTag.uint8, v, 0, 0xff);
  }
  uint16(name: string, v: number): void {
    this.release();
    this.int(name, ValueTag.uint16, v, 0, 0xffff);
  }
  uint32(name: string, v: number): void {
    this.release();
    this.int(name, ValueTag.uint32, v, 0, 0xffffffff);
  }
  /** Carried as the signed 64-bit integer with the same bits (the schema's rule for asn1c). */
  uint64(name: string, v: bigint): void {
    this.release();
    this.big(name, ValueTag.uint64, BigInt.asIntN(64, v), BigInt.asUintN(64, v));
  }

  buffer(name: string, bytes: Uint8Array): void {
    this.release();
    this.primitive(name, ValueTag.buffer, bytes);
  }

  string(name: string, s: string): void {
    this.release();
    if (s.length > 255) {
      throw new VmsError('E_LIMIT', `string ${name} is too long for a counted string`, {
        offset: this.offset,
        expected: 'at most 255 bytes',
        actual: `${s.length} characters`,
      });
    }
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        throw new VmsError('E_FORMAT', `string ${name} has a character outside latin1`, {
          offset: this.offset,
          expected: 'characters U+0000..U+00FF',
          actual: `U+${c.toString(16).toUpperCase().padStart(4, '0')} at index ${i}`,
        });
      }
      b[i] = c;
    }
    this.primitive(name, ValueTag.string, b);
  }

  unused(name: string, size: number): void {
    this.release();
    if (!Number.isSafeInteger(size) || size < 0) throw usage(`unused size must be a non-negative integer, not ${size}`);
    this.primitiveHeader(name, ValueTag.unused, size);
    this.ber.out.zeros(size);
  }

  nullPointer(name: string): void {
    this.release();
    this.primitive(name, ValueTag.nullPointer, this.contents.subarray(0, 0));
  }

  opaque(name: string, type: string, bytes: Uint8Array): void {
    this.release();
    const t = this.nameBytes(type);
    const typeTlv = 1 + lengthSize(t.length) + t.length;
    const bytesTlv = 1 + lengthSize(bytes.length) + bytes.length;
    const contents = typeTlv + bytesTlv;
    const valueTlv = 1 + lengthSize(contents) + contents;
    this.wrapDefinite(name, valueTlv);
    this.ber.header(ctx[ValueTag.opaque]!, true, contents);
    this.ber.header(ctx[0]!, false, t.length);
    this.ber.out.bytesCopy(t);
    this.ber.header(ctx[1]!, false, bytes.length);
    this.ber.out.bytesCopy(bytes);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Writes a held-back array the ordinary way: its header, then the uint8 elements so far. */
  private release(): void {
    const h = this.held;
    if (h === undefined) return;
    this.held = undefined;
    this.openArray(h.name, h.length);
    for (let i = 0; i < h.count; i++) this.int(h.name, ValueTag.uint8, h.bytes[i]!, 0, 0xff);
  }

  private int(name: string, tag: number, v: number, min: number, max: number): void {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new VmsError('E_USAGE', `${name}: value out of range`, {
        offset: this.offset,
        expected: `an integer in ${min}..${max}`,
        actual: String(v),
      });
    }
    const n = integerSize(v);
    putInteger(this.contents, 0, v, n);
    this.primitive(name, tag, this.contents.subarray(0, n));
  }

  private big(name: string, tag: number, wire: bigint, original: bigint): void {
    if (wire !== original && tag === ValueTag.int64) {
      throw new VmsError('E_USAGE', `${name}: value out of range`, {
        offset: this.offset,
        expected: 'a signed 64-bit integer',
        actual: String(original),
      });
    }
    const v = wire >= -0x1fffffffffffffn && wire <= 0x1fffffffffffffn ? Number(wire) : wire;
    const n = integerSize(v);
    putInteger(this.contents, 0, v, n);
    this.primitive(name, tag, this.contents.subarray(0, n));
  }

  /** A primitive Value (contents copied) in the current context. */
  private primitive(name: string, tag: number, contents: Uint8Array): void {
    this.primitiveHeader(name, tag, contents.length);
    this.ber.out.bytesCopy(contents);
  }

  /** Writes everything before a primitive Value's contents: the context's wrappers, then its header. */
  private primitiveHeader(name: string, tag: number, length: number): void {
    this.wrapDefinite(name, 1 + lengthSize(length) + length);
    this.ber.header(ctx[tag]!, false, length);
  }

  /**
   * The wrappers of a Value whose whole TLV is `valueTlv` bytes: a Field (name + [1]
   * EXPLICIT) in a struct, [0]/[1] EXPLICIT in a tree node, nothing in an array or list.
   */
  private wrapDefinite(name: string, valueTlv: number): void {
    const top = this.frames[this.frames.length - 1];
    if (top === undefined) throw usage(`value ${name} outside a struct`);
    if (top.kind === 'struct') {
      this.openFields(top);
      const n = this.nameBytes(name);
      const explicitTlv = 1 + lengthSize(valueTlv) + valueTlv;
      const contents = 1 + lengthSize(n.length) + n.length + explicitTlv;
      const s = this.scratch;
      let at = 0;
      s[at++] = 0x30; // Field ::= SEQUENCE
      at = putLength(s, at, contents);
      s[at++] = 0x80; // [0] name
      at = putLength(s, at, n.length);
      this.ber.out.bytesCopy(s.subarray(0, at));
      this.ber.out.bytesCopy(n);
      at = 0;
      s[at++] = 0xa1; // [1] EXPLICIT Value
      at = putLength(s, at, valueTlv);
      this.ber.out.bytesCopy(s.subarray(0, at));
    } else if (top.kind === 'tree') {
      this.ber.header(ctx[this.treePart(top)]!, true, valueTlv);
    } else {
      top.count++;
    }
  }

  /** Opens the wrappers and the constructed Value `tag` (indefinite); returns how many wrappers to close later. */
  private openValue(name: string, tag: number): number {
    const top = this.frames[this.frames.length - 1];
    let wrappers = 0;
    if (top === undefined) throw usage(`value ${name} outside a struct`);
    if (top.kind === 'struct') {
      this.openFields(top);
      this.ber.startIndefinite(UniversalTag.Sequence);
      this.writeName(0, name);
      this.ber.startIndefinite(ctx[1]!);
      wrappers = 2;
    } else if (top.kind === 'tree') {
      this.ber.startIndefinite(ctx[this.treePart(top)]!);
      wrappers = 1;
    } else {
      top.count++;
    }
    // For struct values the caller writes the Struct itself after this header.
    this.ber.startIndefinite(ctx[tag]!);
    return wrappers;
  }

  private treePart(top: Frame & { kind: 'tree' }): number {
    if (!top.nodeOpen || top.part === 2) throw usage('tree key or value outside treeNode()');
    const p = top.part;
    top.part = p === 0 ? 1 : 2;
    return p;
  }

  private closeWrappers(n: number): void {
    for (let i = 0; i < n; i++) this.ber.end();
  }

  private openFields(f: Frame & { kind: 'struct' }): void {
    if (f.phase === 1) return;
    if (f.phase === 0) {
      this.ber.startIndefinite(ctx[StructTag.fields]!);
      f.phase = 1;
      return;
    }
    throw usage('a field after the struct\'s subsections');
  }

  /** Ends the field list (writing an empty one if none was opened) and the subsection list. */
  private closeLists(f: Frame & { kind: 'struct' }): void {
    if (f.phase === 0) this.ber.startIndefinite(ctx[StructTag.fields]!);
    if (f.phase <= 2 && f.phase !== 3) this.ber.end();
    f.phase = 3;
  }

  private writeName(tag: number, s: string): void {
    const b = this.nameBytes(s);
    this.ber.header(ctx[tag]!, false, b.length);
    this.ber.out.bytesCopy(b);
  }

  private writeUnsigned(tag: number, v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw usage(`${what} must be in 0..4294967295, not ${v}`);
    const n = integerSize(v);
    putInteger(this.scratch, 0, v, n);
    this.ber.primitive(ctx[tag]!, this.scratch.subarray(0, n));
  }

  private nameBytes(s: string): Uint8Array {
    let b = this.names.get(s);
    if (b === undefined) {
      if (this.names.size >= NAME_CACHE_LIMIT) this.names.clear();
      b = utf8Bytes(s);
      this.names.set(s, b);
    }
    return b;
  }

  private pop<K extends Frame['kind']>(kind: K, what: string): Frame & { kind: K } {
    const f = this.frames.pop();
    if (f === undefined || f.kind !== kind) {
      if (f !== undefined) this.frames.push(f);
      throw usage(`${what} does not match the open ${f?.kind ?? 'nothing'}`);
    }
    return f as Frame & { kind: K };
  }
}

function usage(reason: string): VmsError {
  return new VmsError('E_USAGE', `BER output visitor: ${reason}`);
}
