/**
 * The BER input visitor: reads what BerOutputVisitor writes (the schema's Struct / Field /
 * Value / Subsection), checking each tag, field name, length and range against what the
 * VMState walk asks for. Any valid BER is accepted: definite or indefinite lengths, long-form
 * lengths; unknown non-critical extensions are skipped, critical ones refused.
 *
 * Synchronous over a ChannelReader, like the binary visitor: a short buffer throws the
 * reader's NEED_MORE sentinel. The visitor keeps a stack of open values, so rerun a load
 * with `visitor.retry(fn)`, which rewinds the stack along with the channel.
 *
 * Errors are VmsError E_BER (the bytes do not match the schema or X.690), E_MISMATCH (a
 * struct's name or version differs from what the description loads), E_UNKNOWN (a critical
 * extension), E_TRUNCATED, E_LIMIT; each names the byte offset and what was expected.
 */
import { concatBytes } from '../../channel/bytes.js';
import { NEED_MORE, type ChannelReader } from '../../channel/reader.js';
import { VmsError, type VmsCode } from '../../errors.js';
import type { InputVisitor, StructInfo, SubsectionHeader } from '../visitor.js';
import { HeaderStatus, newHeader, parseHeader, type BerHeader } from './header.js';
import { decodeIntegerBig, decodeIntegerSafe } from './integer.js';
import { INDEFINITE } from './length.js';
import { TagClass, Universal, tagName, type BerTag } from './tag.js';
import { StructTag, ValueTag, ctx } from './visitor-output.js';
import { UniversalTag } from './writer.js';

export interface BerInputOptions {
  /** Tag of a top-level struct. Defaults to UNIVERSAL SEQUENCE (the stream uses [0]). */
  readonly topTag?: BerTag;
  /** Deepest nesting accepted. Defaults to 256. */
  readonly maxDepth?: number;
}

const VALUE_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [k, v] of Object.entries(ValueTag)) names[v] = k;
  return names;
})();

/** Longest header we ever need to look at: 1 + 10 tag octets + 1 + 8 length octets. */
const MAX_HEADER = 20;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

type Frame =
  | { kind: 'struct'; phase: 0 | 1 | 2 | 3; subsection: boolean; absorbed: boolean; wrappers: number }
  | { kind: 'values'; wrappers: number; expected: number; count: number; list: boolean }
  | { kind: 'tree'; wrappers: number; nodeOpen: boolean; part: 0 | 1 | 2 }
  /** An array of uint8 carried as one buffer value: its bytes, served one uint8() at a time. */
  | { kind: 'bytes'; wrappers: number; data: Uint8Array; pos: number };

export class BerInputVisitor implements InputVisitor {
  private readonly r: ChannelReader;
  private readonly h: BerHeader = newHeader();
  /** Absolute end offset of each open constructed value, or INDEFINITE. */
  private ends: number[] = [];
  private frames: Frame[] = [];
  private readonly topTag: BerTag;
  private readonly maxDepth: number;
  /** Offset of the last primitive Value's header, for range errors. */
  private valueAt = 0;

  constructor(reader: ChannelReader, options: BerInputOptions = {}) {
    this.r = reader;
    this.topTag = options.topTag ?? UniversalTag.Sequence;
    this.maxDepth = options.maxDepth ?? 256;
  }

  get offset(): number {
    return this.r.offset;
  }

  /** Runs `load` inside the channel's `retry`, restoring the visitor's stack on each rerun. */
  retry<T>(load: () => T): Promise<T> {
    const ends = [...this.ends];
    const frames = this.frames.map((f) => ({ ...f }));
    return this.r.retry(() => {
      this.ends = [...ends];
      this.frames = frames.map((f) => ({ ...f }));
      return load();
    });
  }

  // ---- structure ----------------------------------------------------------------------------

  startStruct(name: string, info: StructInfo): void {
    const top = this.top();
    if (top?.kind === 'struct' && top.subsection && top.phase === 0 && !top.absorbed) {
      top.absorbed = true;
      return;
    }
    let wrappers = 0;
    if (top === undefined) this.enter(this.topTag, `struct ${name}`);
    else wrappers = this.openConstructedValue(name, ValueTag.struct);
    if (this.peekIs(TagClass.Context, StructTag.name)) {
      const at = this.r.offset;
      const vmsd = this.name(StructTag.name, 'vmsdName');
      if (vmsd !== info.vmsdName) {
        throw new VmsError('E_MISMATCH', `struct ${name} has another description name`, {
          offset: at,
          expected: JSON.stringify(info.vmsdName),
          actual: JSON.stringify(vmsd),
        });
      }
    }
    const at = this.r.offset;
    const version = this.unsigned(StructTag.version, 'struct version', 0xffffffff);
    if (version !== info.version) {
      throw new VmsError('E_MISMATCH', `struct ${name} was written with another version`, {
        offset: at,
        expected: String(info.version),
        actual: String(version),
      });
    }
    this.frames.push({ kind: 'struct', phase: 0, subsection: false, absorbed: false, wrappers });
  }

  endStruct(): void {
    const f = this.pop('struct', 'endStruct');
    if (f.subsection && f.absorbed) {
      this.finishStruct(f);
      f.absorbed = false;
      this.frames.push(f);
      return;
    }
    this.finishStruct(f);
    this.leave('struct');
    this.closeWrappers(f.wrappers);
  }

  startArray(name: string, length: number): void {
    const wrappers = this.openWrappers(name);
    if (this.peekIs(TagClass.Context, ValueTag.buffer)) {
      const at = this.r.offset;
      const data = this.prim(ctxTag(ValueTag.buffer), `${name} (an array of uint8 as a buffer)`, length).slice();
      if (data.length !== length) {
        throw new VmsError('E_BER', `${name}: array carried as a buffer has the wrong length`, { offset: at, expected: `${length} bytes`, actual: `${data.length} bytes` });
      }
      this.frames.push({ kind: 'bytes', wrappers, data, pos: 0 });
      return;
    }
    this.enter(ctxTag(ValueTag.array), `${name} (array [${ValueTag.array}])`);
    this.frames.push({ kind: 'values', wrappers, expected: length, count: 0, list: false });
  }

  endArray(): void {
    const top = this.top();
    if (top?.kind === 'bytes') {
      this.frames.pop();
      if (top.pos !== top.data.length) throw usage('endArray before every byte of the array was read');
      this.closeWrappers(top.wrappers);
      return;
    }
    const f = this.pop('values', 'endArray');
    if (!this.atEnd()) {
      throw this.error('E_BER', 'array has more elements than the description reads', 'the end of the array', `element ${f.count}`);
    }
    this.leave('array');
    this.closeWrappers(f.wrappers);
  }

  startList(name: string): void {
    const wrappers = this.openConstructedValue(name, ValueTag.list);
    this.frames.push({ kind: 'values', wrappers, expected: -1, count: 0, list: true });
  }

  listHasNext(): boolean {
    const top = this.top();
    if (top?.kind !== 'values' || !top.list) throw usage('listHasNext outside a list');
    return !this.atEnd();
  }

  endList(): void {
    const f = this.pop('values', 'endList');
    this.leave('list');
    this.closeWrappers(f.wrappers);
  }

  startTree(name: string): number {
    const wrappers = this.openConstructedValue(name, ValueTag.tree);
    const count = this.countChildren();
    this.frames.push({ kind: 'tree', wrappers, nodeOpen: false, part: 2 });
    return count;
  }

  treeHasNext(): boolean {
    const top = this.top();
    if (top?.kind !== 'tree') throw usage('treeHasNext outside a tree');
    if (top.nodeOpen) {
      this.leave('tree node');
      top.nodeOpen = false;
    }
    if (this.atEnd()) return false;
    this.enter(UniversalTag.Sequence, 'TreeNode');
    top.nodeOpen = true;
    top.part = 0;
    return true;
  }

  endTree(): void {
    const f = this.pop('tree', 'endTree');
    if (f.nodeOpen) this.leave('tree node');
    this.leave('tree');
    this.closeWrappers(f.wrappers);
  }

  /** The next Subsection of this struct if its name starts with `parent`; consumes nothing otherwise. */
  nextSubsection(parent: string): SubsectionHeader | undefined {
    const top = this.top();
    if (top?.kind !== 'struct') throw usage('nextSubsection outside a struct');
    if (top.phase < 2) {
      this.closeFields(top);
      if (!this.peekIs(TagClass.Context, StructTag.subsections)) {
        top.phase = 3;
        return undefined;
      }
      this.enter(ctxTag(StructTag.subsections), 'subsections');
      top.phase = 2;
    }
    if (top.phase === 3 || this.atEnd()) return undefined;
    const peeked = this.peekSubsectionName();
    if (!peeked.startsWith(parent) || peeked.length <= parent.length) return undefined;
    this.enter(UniversalTag.Sequence, 'Subsection');
    const name = this.name(StructTag.name, 'subsection name');
    const version = this.unsigned(StructTag.version, 'subsection version', 0xffffffff);
    this.frames.push({ kind: 'struct', phase: 0, subsection: true, absorbed: false, wrappers: 0 });
    return { name, version };
  }

  endSubsection(): void {
    const f = this.pop('struct', 'endSubsection');
    if (!f.subsection || f.absorbed) throw usage('endSubsection without a matching subsection');
    this.finishStruct(f);
    this.leave('subsection');
  }

  // ---- values -------------------------------------------------------------------------------

  bool(name: string): boolean {
    const c = this.primitiveValue(name, ValueTag.bool);
    if (c.length !== 1) throw this.error('E_BER', `${name}: BOOLEAN must have one contents octet`, '1 octet', `${c.length}`);
    return c[0] !== 0;
  }
  int8(name: string): number {
    return this.int(name, ValueTag.int8, -0x80, 0x7f);
  }
  int16(name: string): number {
    return this.int(name, ValueTag.int16, -0x8000, 0x7fff);
  }
  int32(name: string): number {
    return this.int(name, ValueTag.int32, -0x80000000, 0x7fffffff);
  }
  int64(name: string): bigint {
    return this.big(name, ValueTag.int64);
  }
  uint8(name: string): number {
    const top = this.top();
    if (top?.kind === 'bytes') {
      if (top.pos >= top.data.length) throw usage('more uint8 reads than the array has');
      return top.data[top.pos++]!;
    }
    return this.int(name, ValueTag.uint8, 0, 0xff);
  }
  uint16(name: string): number {
    return this.int(name, ValueTag.uint16, 0, 0xffff);
  }
  uint32(name: string): number {
    return this.int(name, ValueTag.uint32, 0, 0xffffffff);
  }
  /** The wire carries the signed 64-bit integer with the same bits; restore it with a mask. */
  uint64(name: string): bigint {
    return BigInt.asUintN(64, this.big(name, ValueTag.uint64));
  }

  buffer(name: string, size: number): Uint8Array {
    return this.sized(name, ValueTag.buffer, size, 'buffer');
  }

  string(name: string): string {
    const c = this.primitiveValue(name, ValueTag.string, 255);
    let s = '';
    for (let i = 0; i < c.length; i++) s += String.fromCharCode(c[i]!);
    return s;
  }

  unused(name: string, size: number): void {
    this.sized(name, ValueTag.unused, size, 'unused bytes');
  }

  nullPointer(name: string): void {
    const c = this.primitiveValue(name, ValueTag.nullPointer, 0);
    if (c.length !== 0) throw this.error('E_BER', `${name}: NULL must be empty`, '0 contents octets', `${c.length}`);
  }

  opaque(name: string, type: string, size: number): Uint8Array {
    const wrappers = this.openConstructedValue(name, ValueTag.opaque);
    const at = this.r.offset;
    const t = this.name(0, 'opaque type');
    if (t !== type) throw new VmsError('E_BER', `${name}: opaque value of another type`, { offset: at, expected: JSON.stringify(type), actual: JSON.stringify(t) });
    const bytesAt = this.r.offset;
    const b = this.prim(ctxTag(1), 'opaque bytes', size);
    if (b.length !== size) {
      throw new VmsError('E_BER', `${name}: opaque value has the wrong size`, { offset: bytesAt, expected: `${size} bytes`, actual: `${b.length} bytes` });
    }
    this.leave('opaque');
    this.closeWrappers(wrappers);
    return b;
  }

  // ---- values: internals --------------------------------------------------------------------

  private int(name: string, tag: number, min: number, max: number): number {
    const c = this.primitiveValue(name, tag, 8);
    const at = this.valueAt;
    const v = c.length === 0 ? undefined : decodeIntegerSafe(c);
    if (v === undefined || v < min || v > max) {
      throw new VmsError('E_BER', `${name}: ${VALUE_NAMES[tag]} out of range`, {
        offset: at,
        expected: `an INTEGER in ${min}..${max}`,
        actual: c.length === 0 ? 'no contents octets' : String(decodeIntegerBig(c)),
      });
    }
    return v;
  }

  private big(name: string, tag: number): bigint {
    const c = this.primitiveValue(name, tag, 8);
    const at = this.valueAt;
    if (c.length === 0) throw new VmsError('E_BER', `${name}: INTEGER has no contents octets`, { offset: at, expected: '1 to 8 octets', actual: '0' });
    return decodeIntegerBig(c);
  }

  private sized(name: string, tag: number, size: number, what: string): Uint8Array {
    const c = this.primitiveValue(name, tag, size);
    const at = this.valueAt;
    if (c.length !== size) {
      throw new VmsError('E_BER', `${name}: ${what} of the wrong size`, { offset: at, expected: `${size} bytes`, actual: `${c.length} bytes` });
    }
    return c;
  }

  /** A primitive Value in the current context: its wrappers, the value, the wrappers' ends. */
  private primitiveValue(name: string, tag: number, maxLength = Number.MAX_SAFE_INTEGER): Uint8Array {
    const wrappers = this.openWrappers(name);
    this.valueAt = this.r.offset;
    const c = this.prim(ctxTag(tag), `${name} (${VALUE_NAMES[tag]} [${tag}])`, maxLength);
    // The view stays valid: closing wrappers reads headers but pulls nothing from the source.
    this.closeWrappers(wrappers);
    return c;
  }

  private openConstructedValue(name: string, tag: number): number {
    const wrappers = this.openWrappers(name);
    this.enter(ctxTag(tag), `${name} (${VALUE_NAMES[tag]} [${tag}])`);
    return wrappers;
  }

  /** Enters a Field (checking its name), a TreeNode's [0]/[1], or counts an array element. */
  private openWrappers(name: string): number {
    const top = this.top();
    if (top === undefined) throw usage(`value ${name} outside a struct`);
    if (top.kind === 'struct') {
      if (top.phase === 0) {
        this.enter(ctxTag(StructTag.fields), 'fields');
        top.phase = 1;
      } else if (top.phase !== 1) {
        throw usage(`field ${name} after the struct's subsections`);
      }
      if (this.atEnd()) throw this.error('E_BER', `field ${name} is missing: the field list ends`, `a Field named ${JSON.stringify(name)}`, 'the end of the field list');
      this.enter(UniversalTag.Sequence, `Field ${name}`);
      const at = this.r.offset;
      const got = this.name(0, 'field name');
      if (got !== name) {
        throw new VmsError('E_BER', 'field name differs from the description', { offset: at, expected: JSON.stringify(name), actual: JSON.stringify(got) });
      }
      this.enter(ctxTag(1), `Field ${name} value`);
      return 2;
    }
    if (top.kind === 'bytes') {
      throw this.error('E_BER', `${name}: an array carried as a buffer holds only uint8 elements`, 'an array [15] of Values', 'buffer [9]');
    }
    if (top.kind === 'tree') {
      if (!top.nodeOpen || top.part === 2) throw usage('tree key or value outside a node');
      const part = top.part;
      top.part = part === 0 ? 1 : 2;
      this.enter(ctxTag(part), part === 0 ? 'TreeNode key' : 'TreeNode value');
      return 1;
    }
    if (this.atEnd()) {
      throw this.error('E_BER', top.list ? 'list ends inside an element' : 'array has fewer elements than the description reads', top.list ? 'an element' : `${top.expected} elements`, top.list ? 'the end of the list' : `${top.count}`);
    }
    top.count++;
    return 0;
  }

  private closeWrappers(n: number): void {
    for (let i = 0; i < n; i++) this.leave('value wrapper');
  }

  private closeFields(f: Frame & { kind: 'struct' }): void {
    if (f.phase === 0) {
      this.enter(ctxTag(StructTag.fields), 'fields');
      f.phase = 1;
    }
    if (f.phase === 1) {
      if (!this.atEnd()) {
        throw this.error('E_BER', 'struct has more fields than the description reads', 'the end of the field list', this.peekFieldName());
      }
      this.leave('fields');
      f.phase = 2;
    }
  }

  /** Closes the field and subsection lists, then skips extensions (refusing critical ones). */
  private finishStruct(f: Frame & { kind: 'struct' }): void {
    if (f.phase < 2) {
      this.closeFields(f);
      if (this.peekIs(TagClass.Context, StructTag.subsections)) {
        this.enter(ctxTag(StructTag.subsections), 'subsections');
        f.phase = 2;
      } else {
        f.phase = 3;
      }
    }
    if (f.phase === 2) {
      if (!this.atEnd()) {
        throw this.error('E_UNKNOWN', 'a subsection the description does not know', 'no more subsections', JSON.stringify(this.peekSubsectionName()));
      }
      this.leave('subsections');
      f.phase = 3;
    }
    if (this.peekIs(TagClass.Context, StructTag.extensions)) this.extensions();
  }

  /** Extensions ::= SEQUENCE OF Extension { [0] id, [1] critical DEFAULT FALSE, [2] value }. */
  private extensions(): void {
    this.enter(ctxTag(StructTag.extensions), 'extensions');
    while (!this.atEnd()) {
      const at = this.r.offset;
      this.enter(UniversalTag.Sequence, 'Extension');
      const id = this.unsigned(0, 'extension id', 0xffffffff);
      let critical = false;
      if (this.peekIs(TagClass.Context, 1)) {
        const c = this.prim(ctxTag(1), 'extension critical', 1);
        critical = c.length === 1 && c[0] !== 0;
      }
      this.prim(ctxTag(2), 'extension value', this.r.maxBuffer);
      this.leave('Extension');
      if (critical) {
        throw new VmsError('E_UNKNOWN', `critical extension ${id} is not understood`, { offset: at, expected: 'no critical extensions', actual: `extension ${id}` });
      }
    }
    this.leave('extensions');
  }

  private name(tag: number, what: string): string {
    const at = this.r.offset;
    const b = this.prim(ctxTag(tag), what, 1 << 16);
    try {
      return UTF8.decode(b);
    } catch {
      throw new VmsError('E_BER', `${what} is not UTF-8`, { offset: at, expected: 'a UTF8String', actual: `${b.length} bytes` });
    }
  }

  private unsigned(tag: number, what: string, max: number): number {
    const at = this.r.offset;
    const c = this.prim(ctxTag(tag), what, 8);
    const v = c.length === 0 ? undefined : decodeIntegerSafe(c);
    if (v === undefined || v < 0 || v > max) {
      throw new VmsError('E_BER', `${what} out of range`, { offset: at, expected: `an INTEGER in 0..${max}`, actual: c.length === 0 ? 'no contents' : String(decodeIntegerBig(c)) });
    }
    return v;
  }

  /** The name of the Subsection at the read position, without consuming anything. */
  private peekSubsectionName(): string {
    const mark = this.r.mark();
    const ends = this.ends.length;
    try {
      this.enter(UniversalTag.Sequence, 'Subsection');
      return this.name(StructTag.name, 'subsection name');
    } finally {
      this.r.reset(mark);
      this.ends.length = ends;
    }
  }

  private peekFieldName(): string {
    const mark = this.r.mark();
    const ends = this.ends.length;
    try {
      this.enter(UniversalTag.Sequence, 'Field');
      return `field ${JSON.stringify(this.name(0, 'field name'))}`;
    } catch (e) {
      if (e === NEED_MORE) throw e;
      return 'another value';
    } finally {
      this.r.reset(mark);
      this.ends.length = ends;
    }
  }

  // ---- the TLV cursor -----------------------------------------------------------------------

  /** Parses the header at the read position into `this.h` and returns its length; consumes nothing. */
  private head(): number {
    const r = this.r;
    const avail = r.buffered;
    if (avail === 0) r.peekU8(); // NEED_MORE, or E_TRUNCATED at the end
    const mark = r.mark();
    const view = r.bytesView(Math.min(avail, MAX_HEADER));
    r.reset(mark);
    const n = parseHeader(view, 0, view.length, this.h);
    if (n > 0) return n;
    const at = r.offset;
    if (n === HeaderStatus.Short) {
      r.peekAt(avail); // NEED_MORE, or E_TRUNCATED at the end
      throw this.error('E_BER', 'malformed header', 'an identifier and length', 'no complete header');
    }
    if (n === HeaderStatus.LengthReserved) throw new VmsError('E_BER', 'length octet 0xFF is reserved', { offset: at, expected: 'a length (X.690 8.1.3.5 c)', actual: '0xff' });
    throw new VmsError('E_LIMIT', n === HeaderStatus.TagTooLong ? 'tag number is too long' : 'length is 2^53 or more', { offset: at, expected: 'a tag number and length below 2^53' });
  }

  /** True when the innermost open value has no more contents (its end, or its 00 00). */
  private atEnd(): boolean {
    const d = this.ends.length;
    if (d === 0) return false;
    const end = this.ends[d - 1]!;
    if (end !== INDEFINITE) {
      const at = this.r.offset;
      if (at > end) throw this.error('E_BER', 'contents run past the end of their constructed value', `at most offset ${end}`, `offset ${at}`);
      return at === end;
    }
    return this.r.peekU8() === 0 && this.r.peekAt(1) === 0;
  }

  /** True when the next value has this class and number (false at the end of the innermost value). */
  private peekIs(cls: number, number: number): boolean {
    if (this.atEnd()) return false;
    this.head();
    return this.h.cls === cls && this.h.number === number;
  }

  /** Enters a constructed value with this tag, checking it fits its parent. */
  private enter(tag: BerTag, what: string): void {
    const r = this.r;
    const at = r.offset;
    if (this.atEnd()) throw this.error('E_BER', `${what} is missing`, tagName(tag.cls, tag.number), 'the end of the enclosing value');
    const n = this.head();
    const h = this.h;
    if (h.cls !== tag.cls || h.number !== tag.number || !h.constructed) {
      throw new VmsError('E_BER', `${what}: unexpected value`, { offset: at, expected: `${tagName(tag.cls, tag.number)} (constructed)`, actual: describe(h) });
    }
    if (this.ends.length >= this.maxDepth) {
      throw new VmsError('E_LIMIT', 'values nest too deeply', { offset: at, expected: `at most ${this.maxDepth} levels`, actual: `level ${this.ends.length + 1}` });
    }
    const end = h.length === INDEFINITE ? INDEFINITE : at + n + h.length;
    if (end !== INDEFINITE) this.checkFits(at, end, what);
    r.skipBuffered(n);
    this.ends.push(end);
  }

  /** Leaves the innermost constructed value: exactly at its end, or at its 00 00. */
  private leave(what: string): void {
    const end = this.ends[this.ends.length - 1];
    if (end === undefined) throw usage(`leaving ${what} with nothing open`);
    if (!this.atEnd()) {
      this.head();
      throw this.error('E_BER', `${what} has more contents than the description reads`, `the end of ${what}`, describe(this.h));
    }
    if (end === INDEFINITE) this.r.skipBuffered(2);
    this.ends.pop();
  }

  /** A primitive with this tag; returns a view of its contents (valid until the next read). */
  private prim(tag: BerTag, what: string, maxLength: number): Uint8Array {
    const r = this.r;
    const at = r.offset;
    if (this.atEnd()) throw this.error('E_BER', `${what} is missing`, tagName(tag.cls, tag.number), 'the end of the enclosing value');
    const n = this.head();
    const h = this.h;
    if (h.cls === tag.cls && h.number === tag.number && h.constructed) return this.segments(tag, what, maxLength);
    if (h.cls !== tag.cls || h.number !== tag.number) {
      throw new VmsError('E_BER', `${what}: unexpected value`, { offset: at, expected: `${tagName(tag.cls, tag.number)} (primitive)`, actual: describe(h) });
    }
    if (h.length > maxLength) {
      throw new VmsError('E_BER', `${what} is too long`, { offset: at, expected: `at most ${maxLength} contents octets`, actual: `${h.length}` });
    }
    this.checkFits(at, at + n + h.length, what);
    r.skipBuffered(n);
    return r.bytesView(h.length);
  }

  /** A constructed string (X.690 8.7.3): its OCTET STRING segments, which may nest, joined. */
  private segments(tag: BerTag, what: string, maxLength: number): Uint8Array {
    const at = this.r.offset;
    this.enter(tag, what);
    const parts: Uint8Array[] = [];
    let total = 0;
    while (!this.atEnd()) {
      const part = this.prim(UniversalTag.OctetString, `${what} segment`, maxLength - total).slice();
      parts.push(part);
      total += part.length;
    }
    this.leave(what);
    if (total > maxLength) throw new VmsError('E_BER', `${what} is too long`, { offset: at, expected: `at most ${maxLength} contents octets`, actual: `${total}` });
    return concatBytes(parts, total);
  }

  private checkFits(at: number, end: number, what: string): void {
    for (let d = this.ends.length - 1; d >= 0; d--) {
      const parent = this.ends[d]!;
      if (parent === INDEFINITE) continue;
      if (end > parent) {
        throw new VmsError('E_BER', `${what} runs past the end of its enclosing value`, { offset: at, expected: `an end at or before offset ${parent}`, actual: `an end at offset ${end}` });
      }
      break;
    }
    const size = this.r.size;
    if (this.r.sourceDone && size !== undefined && end > size) {
      throw new VmsError('E_TRUNCATED', `${what} runs past the end of the input`, { offset: at, expected: `${end - at} bytes`, actual: `${size - at} bytes left` });
    }
  }

  /** Number of values inside the constructed value just entered (it must be buffered whole). */
  private countChildren(): number {
    const r = this.r;
    const mark = r.mark();
    const view = r.bytesView(r.buffered);
    r.reset(mark);
    const end = this.ends[this.ends.length - 1]!;
    const limit = end === INDEFINITE ? view.length : Math.min(view.length, end - mark);
    const h = newHeader();
    let p = 0;
    let count = 0;
    let depth = 0;
    for (;;) {
      if (depth === 0 && end !== INDEFINITE && p === end - mark) return count;
      const n = parseHeader(view, p, limit, h);
      if (n <= 0) {
        if (n === HeaderStatus.Short && !r.sourceDone && limit === view.length) throw NEED_MORE;
        throw new VmsError('E_BER', 'malformed value inside a tree', { offset: mark + p, expected: 'complete TreeNodes' });
      }
      if (h.cls === 0 && h.number === Universal.EndOfContents) {
        p += n;
        if (depth === 0) return count; // the tree's own 00 00
        depth--;
        continue;
      }
      if (depth === 0) count++;
      if (h.length === INDEFINITE) {
        depth++;
        p += n;
        if (depth > this.maxDepth) throw new VmsError('E_LIMIT', 'values nest too deeply', { offset: mark + p, expected: `at most ${this.maxDepth} levels` });
      } else {
        p += n + h.length;
        if (p > limit) {
          if (!r.sourceDone && limit === view.length) throw NEED_MORE;
          throw new VmsError('E_BER', 'a tree node runs past the end of its tree', { offset: mark + p - h.length - n, expected: 'complete TreeNodes' });
        }
      }
    }
  }

  private top(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  private pop<K extends Frame['kind']>(kind: K, what: string): Frame & { kind: K } {
    const f = this.frames.pop();
    if (f === undefined || f.kind !== kind) {
      if (f !== undefined) this.frames.push(f);
      throw usage(`${what} does not match the open ${f?.kind ?? 'nothing'}`);
    }
    return f as Frame & { kind: K };
  }

  private error(code: VmsCode, reason: string, expected: string, actual: string): VmsError {
    return new VmsError(code, reason, { offset: this.r.offset, expected, actual });
  }
}

const ctxTag = (n: number): BerTag => ctx[n]!;

function describe(h: BerHeader): string {
  const t = tagName(h.cls, h.number);
  const v = h.cls === TagClass.Context && VALUE_NAMES[h.number] !== undefined ? ` (as a Value: ${VALUE_NAMES[h.number]})` : '';
  return `${t}${h.constructed ? ' constructed' : ' primitive'}${v}`;
}

function usage(reason: string): VmsError {
  return new VmsError('E_USAGE', `BER input visitor: ${reason}`);
}
