/**
 * The event cursor the BER stream reader (reader.ts) is built on: one event of lookahead over
 * a BerReader, the checks that a value has the tag the schema wants, and the decoder of
 * nested values (device structs, Values, extensions, strings).
 *
 * Nested values are decoded by a step machine over an explicit stack of frames, one BER
 * event at a time. When the next event is not buffered yet, the machine stops where it is,
 * waits for bytes and goes on, so a device body takes no promise per value whether it is
 * buffered whole or arrives in pieces, and no second (synchronous) copy of the grammar is needed.
 *
 * Rules of the machine: a step reads at most one new event, and before any side effect (so
 * a step cut short for want of bytes is run again unchanged); once it has consumed that event
 * it sets the frame's next state and returns, or calls that next step directly (the hot paths
 * do, so a field takes one turn of the driver loop). A string's contents (one primitive, whole
 * or in pieces, or a constructed string of segments) are gathered by a frame of their own,
 * after which the step that asked for them runs again and finds them in `collected`.
 */
import { concatBytes } from '../../channel/bytes.js';
import { VmsError, type PathElement, type VmsCode } from '../../errors.js';
import { decodeIntegerBig, decodeIntegerSafe } from '../../format/ber/integer.js';
import { BerEventKind, type BerEvent, type BerReader } from '../../format/ber/reader.js';
import { TagClass, Universal, tagName } from '../../format/ber/tag.js';
import { StructTag, ValueTag } from '../../format/ber/visitor-output.js';
import type { OutputVisitor } from '../../format/visitor.js';
import { RecordingVisitor } from './recording.js';
import { Body, EXTENSIONS, Ext } from './schema.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);
const CTX = TagClass.Context;
const { Start, End, Primitive, Done, NeedMore } = BerEventKind;

/** Where a frame of the machine stands: the next step of its value's grammar. */
const St = {
  // Struct ::= { [0] name OPTIONAL, [1] version, [2] fields, [3] subsections OPTIONAL, [29] extensions OPTIONAL }
  structOpen: 0,
  structHasName: 1,
  structName: 2,
  structVersion: 3,
  structEnd: 4,
  // The body shared by Struct and Subsection: [2] fields SEQUENCE OF Field ::= { [0] name, [1] value }
  fieldsOpen: 5,
  field: 6,
  fieldName: 7,
  fieldValue: 8,
  fieldValueEnd: 9,
  fieldEnd: 10,
  // [3] subsections SEQUENCE OF Subsection ::= { [0] name, [1] version, [2] fields, ... }
  hasSubsections: 11,
  subsection: 12,
  subsectionName: 13,
  subsectionVersion: 14,
  subsectionBodyDone: 15,
  subsectionEnd: 16,
  // [29] extensions OPTIONAL: SEQUENCE OF Extension ::= { [0] id, [1] critical DEFAULT FALSE, [2] value }
  extensionsOpen: 17,
  extensionsItem: 18,
  extension: 19,
  extensionId: 20,
  extensionHasCritical: 21,
  extensionCritical: 22,
  extensionValue: 23,
  extensionEnd: 24,
  // Value ::= CHOICE { primitives [0]..[12], opaque [13], struct [14], array [15], list [16], tree [17], extension [29] }
  value: 25,
  primitiveValue: 26,
  opaqueType: 27,
  opaqueBytes: 28,
  opaqueEnd: 29,
  arrayItem: 30,
  listItem: 31,
  treeItem: 32,
  treeKey: 33,
  treeKeyEnd: 34,
  treeValue: 35,
  treeValueEnd: 36,
  treeNodeEnd: 37,
  // A string's contents: a primitive (whole or in pieces) or OCTET STRING segments (X.690 8.7.3).
  string: 38,
  stringPrimitive: 39,
  stringPiece: 40,
  stringPieceDone: 41,
  stringSegment: 42,
} as const;
type St = (typeof St)[keyof typeof St];

/** One frame of the machine; frames are pooled by depth, so fields are reset on push. */
class Frame {
  state: St = St.value;
  out: OutputVisitor | undefined = undefined;
  /** Array and tree elements, recorded until their count is known. */
  rec: RecordingVisitor | undefined = undefined;
  /** The value's name (Struct, Value), the field or subsection being read (body), what a string is (string). */
  name = '';
  /** The VMSD name (Struct) or the opaque type (Value). */
  text = '';
  /** A Value's tag, an element count, or an extension id. */
  num = 0;
  /** Offset for errors: a Value's or an extension's, or where a string starts. */
  at = 0;
  top = false;
  /** The tag an extension or a string must have. */
  cls = 0;
  number = 0;
  // String frames only.
  max = 0;
  total = 0;
  depth = 0;
  /** The offset the op that asked for the string reports errors at. */
  opAt = 0;
  /** Copies of the pieces, when the contents are wanted whole. */
  parts: Uint8Array[] | undefined = undefined;
  piece: ((b: Uint8Array) => void | Promise<void>) | undefined = undefined;
}

export class BerCursor {
  protected readonly ev: BerEvent;
  /** The current event has been read but not consumed. */
  protected pending: BerEventKind | undefined;
  protected readonly path: PathElement[] = [];
  private readonly frames: Frame[] = [];
  /** Live frames. */
  private sp = 0;
  /** A step found its event not buffered yet: wait for bytes, then run it again. */
  private starved = false;
  /** A visitor's promise to settle before the next step. */
  private waiting: Promise<void> | undefined;
  /** A string gathered for the step that asked for it, and the offset that step reports. */
  private collected: Uint8Array | undefined;
  private collectedAt = 0;

  constructor(
    protected readonly br: BerReader,
    protected readonly maxBlob: number,
  ) {
    this.ev = br.event;
  }

  // ---- entry points into the machine --------------------------------------------------------

  /** A device Struct (a section's body [0]) replayed onto `out`; its Start is pending. */
  protected async deviceStruct(out: OutputVisitor | undefined, name: string): Promise<void> {
    const f = this.push(St.structOpen, out, name);
    f.top = true;
    await this.drive();
  }

  /** `extensions [29] Extensions OPTIONAL`: skipped unless an extension is critical. */
  protected async extensionsIfAny(): Promise<void> {
    if (!(await this.isStart(CTX, EXTENSIONS))) return;
    this.push(St.extensionsOpen, undefined, '');
    await this.drive();
  }

  /** `extension [29] Extension`, a CHOICE alternative: skipped unless critical. */
  protected async extension(): Promise<void> {
    this.pushExtension(CTX, EXTENSIONS);
    await this.drive();
  }

  /**
   * A string's contents (an OCTET STRING, UTF8String or other primitive), at most `max` bytes
   * (checked before anything is buffered). A view valid until the next read when it arrived
   * whole; a copy when it came in pieces or as a constructed string of segments.
   */
  protected async prim(cls: number, number: number, what: string, max: number): Promise<Uint8Array> {
    await this.peek();
    const whole = this.wholePrim(cls, number, what, max);
    if (whole !== undefined) return whole;
    this.pushString(cls, number, what, max, [], undefined, 0);
    await this.drive();
    return this.takeCollected();
  }

  /**
   * Hands a string's contents to `piece` in order, as views valid until `piece` returns (or its
   * promise settles): the pieces of a long primitive, or the segments of a constructed string
   * (X.690 8.7.3: [UNIVERSAL 4] segments, which may nest). Fails past `max` bytes in total.
   */
  protected async stringPieces(cls: number, number: number, what: string, max: number, piece: (b: Uint8Array) => void | Promise<void>): Promise<void> {
    await this.peek();
    this.pushString(cls, number, what, max, undefined, piece, 0);
    await this.drive();
    this.takeCollected();
  }

  // ---- the machine --------------------------------------------------------------------------

  /** Runs the frames pushed since the stack was empty until it is empty again, waiting only when it must. */
  private async drive(): Promise<void> {
    const frames = this.frames;
    try {
      while (this.sp > 0) {
        this.step(frames[this.sp - 1]!);
        if (this.starved) {
          this.starved = false;
          await this.br.more();
        } else if (this.waiting !== undefined) {
          const w = this.waiting;
          this.waiting = undefined;
          await w;
        }
      }
    } catch (e) {
      // Leave no frame behind for the next entry point.
      this.sp = 0;
      this.starved = false;
      this.waiting = undefined;
      this.collected = undefined;
      throw e;
    }
  }

  private push(state: St, out: OutputVisitor | undefined, name: string): Frame {
    const f = (this.frames[this.sp] ??= new Frame());
    this.sp++;
    f.state = state;
    f.out = out;
    f.rec = undefined;
    f.name = name;
    f.text = name;
    f.num = 0;
    f.top = false;
    return f;
  }

  private pushExtension(cls: number, number: number): void {
    const f = this.push(St.extension, undefined, '');
    f.cls = cls;
    f.number = number;
  }

  private pushString(cls: number, number: number, what: string, max: number, parts: Uint8Array[] | undefined, piece: Frame['piece'], opAt: number): void {
    const f = this.push(St.string, undefined, what);
    f.cls = cls;
    f.number = number;
    f.max = max;
    f.parts = parts;
    f.piece = piece;
    f.opAt = opAt;
  }

  private pop(): void {
    this.sp--;
  }

  private step(f: Frame): void {
    switch (f.state) {
      case St.structOpen:
        if (!this.tryEnter(CTX, f.top ? Body.device : ValueTag.struct, f.top ? 'device' : 'struct')) return;
        f.state = St.structHasName;
        return this.step(f);
      case St.structHasName:
        if (this.poll() === NeedMore) return;
        f.state = this.isStringNow(CTX, StructTag.name) ? St.structName : St.structVersion;
        return this.step(f);
      case St.structName: {
        const vmsdName = this.tryName(StructTag.name, 'vmsdName');
        if (vmsdName === undefined) return;
        f.text = vmsdName;
        f.state = St.structVersion;
        return this.step(f);
      }
      case St.structVersion: {
        const version = this.tryUint(StructTag.version, 'version', 0xffffffff);
        if (version < 0) return;
        f.out?.startStruct(f.name, { vmsdName: f.text, version });
        f.state = St.structEnd;
        return this.step(this.push(St.fieldsOpen, f.out, ''));
      }
      case St.structEnd:
        if (!this.tryLeave(f.top ? 'device' : 'struct')) return;
        f.out?.endStruct();
        this.pop();
        return;

      case St.fieldsOpen:
        if (!this.tryEnter(CTX, StructTag.fields, 'fields')) return;
        this.path.push('');
        f.state = St.field;
        return this.step(f);
      case St.field: {
        const k = this.poll();
        if (k === NeedMore) return;
        if (this.atEndNow(k)) {
          this.path.pop();
          this.leaveNow('fields');
          f.state = St.hasSubsections;
          return;
        }
        this.enterNow(TagClass.Universal, Universal.Sequence, 'Field');
        f.state = St.fieldName;
        return this.step(f);
      }
      case St.fieldName: {
        const name = this.tryName(0, 'field name');
        if (name === undefined) return;
        this.path[this.path.length - 1] = name;
        f.name = name;
        f.state = St.fieldValue;
        return this.step(f);
      }
      case St.fieldValue:
        if (!this.tryEnter(CTX, 1, `Field ${f.name} value`)) return;
        f.state = St.fieldValueEnd;
        return this.valueStart(this.push(St.value, f.out, f.name));
      case St.fieldValueEnd:
        if (!this.tryLeave(`Field ${f.name} value`)) return;
        f.state = St.fieldEnd;
        return this.step(f);
      case St.fieldEnd:
        if (!this.tryLeave(`Field ${f.name}`)) return;
        f.state = St.field;
        return this.step(f);

      case St.hasSubsections:
        if (this.poll() === NeedMore) return;
        if (!this.isStartNow(CTX, StructTag.subsections)) {
          f.state = St.extensionsOpen;
          return;
        }
        this.enterNow(CTX, StructTag.subsections, 'subsections');
        f.state = St.subsection;
        return;
      case St.subsection: {
        const k = this.poll();
        if (k === NeedMore) return;
        if (this.atEndNow(k)) {
          this.leaveNow('subsections');
          f.state = St.extensionsOpen;
          return;
        }
        this.enterNow(TagClass.Universal, Universal.Sequence, 'Subsection');
        f.state = St.subsectionName;
        return;
      }
      case St.subsectionName: {
        const name = this.tryName(StructTag.name, 'subsection name');
        if (name === undefined) return;
        f.name = name;
        f.state = St.subsectionVersion;
        return;
      }
      case St.subsectionVersion: {
        const version = this.tryUint(StructTag.version, 'subsection version', 0xffffffff);
        if (version < 0) return;
        this.path.push(f.name);
        f.out?.startSubsection(f.name, version);
        f.state = St.subsectionBodyDone;
        this.push(St.fieldsOpen, f.out, '');
        return;
      }
      case St.subsectionBodyDone:
        f.out?.endSubsection();
        this.path.pop();
        f.state = St.subsectionEnd;
        return;
      case St.subsectionEnd:
        if (!this.tryLeave('Subsection')) return;
        f.state = St.subsection;
        return;

      case St.extensionsOpen:
        if (this.poll() === NeedMore) return;
        if (!this.isStartNow(CTX, EXTENSIONS)) {
          this.pop();
          return;
        }
        this.enterNow(CTX, EXTENSIONS, 'extensions');
        this.path.push('extensions');
        f.state = St.extensionsItem;
        return;
      case St.extensionsItem: {
        const k = this.poll();
        if (k === NeedMore) return;
        if (this.atEndNow(k)) {
          this.path.pop();
          this.leaveNow('extensions');
          this.pop();
          return;
        }
        this.pushExtension(TagClass.Universal, Universal.Sequence);
        return;
      }
      case St.extension: {
        const at = this.ev.offset;
        if (!this.tryEnter(f.cls, f.number, 'Extension')) return;
        f.at = at;
        f.state = St.extensionId;
        return;
      }
      case St.extensionId: {
        const id = this.tryUint(Ext.id, 'extension id', 0xffffffff);
        if (id < 0) return;
        f.num = id;
        f.state = St.extensionHasCritical;
        return;
      }
      case St.extensionHasCritical:
        if (this.poll() === NeedMore) return;
        f.state = this.isPrimNow(CTX, Ext.critical) ? St.extensionCritical : St.extensionValue;
        return;
      case St.extensionCritical: {
        const critical = this.tryBoolean(Ext.critical, 'critical');
        if (critical === undefined) return;
        if (critical) {
          throw new VmsError('E_UNKNOWN', `critical extension ${f.num} is not understood`, { offset: f.at, path: [...this.path], expected: 'no critical extensions (this reader knows none)', actual: `extension ${f.num}` });
        }
        f.state = St.extensionValue;
        return;
      }
      case St.extensionValue:
        if (this.collected === undefined) {
          if (this.poll() === NeedMore) return;
          this.pushString(CTX, Ext.value, 'extension value', this.maxBlob, undefined, undefined, 0);
          return;
        }
        this.takeCollected();
        f.state = St.extensionEnd;
        return;
      case St.extensionEnd:
        if (!this.tryLeave('Extension')) return;
        this.pop();
        return;

      case St.value:
        return this.valueStart(f);
      case St.primitiveValue:
        return this.primitiveValue(f);
      case St.opaqueType: {
        const type = this.tryName(0, 'opaque type');
        if (type === undefined) return;
        f.text = type;
        f.state = St.opaqueBytes;
        return;
      }
      case St.opaqueBytes: {
        const bytes = this.tryPrim(CTX, 1, 'opaque bytes', this.maxBlob);
        if (bytes === undefined) return;
        f.out?.opaque(f.name, f.text, bytes);
        f.state = St.opaqueEnd;
        return;
      }
      case St.opaqueEnd:
        if (!this.tryLeave('opaque')) return;
        this.pop();
        return;
      case St.arrayItem: {
        const k = this.poll();
        if (k === NeedMore) return;
        if (this.atEndNow(k)) return this.endRecorded(f, 'array');
        this.path[this.path.length - 1] = f.num++;
        return this.valueStart(this.push(St.value, f.rec, f.name));
      }
      case St.listItem: {
        const k = this.poll();
        if (k === NeedMore) return;
        if (this.atEndNow(k)) {
          this.path.pop();
          this.leaveNow('list');
          this.pop();
          f.out?.endList();
          return;
        }
        this.path[this.path.length - 1] = f.num++;
        f.out?.listElement();
        return this.valueStart(this.push(St.value, f.out, f.name));
      }
      case St.treeItem: {
        const k = this.poll();
        if (k === NeedMore) return;
        if (this.atEndNow(k)) return this.endRecorded(f, 'tree');
        this.path[this.path.length - 1] = f.num++;
        this.enterNow(TagClass.Universal, Universal.Sequence, 'TreeNode');
        f.rec?.treeNode();
        f.state = St.treeKey;
        return;
      }
      case St.treeKey:
        if (!this.tryEnter(CTX, 0, 'TreeNode key')) return;
        f.state = St.treeKeyEnd;
        this.push(St.value, f.rec, 'key');
        return;
      case St.treeKeyEnd:
        if (!this.tryLeave('TreeNode key')) return;
        f.state = St.treeValue;
        return;
      case St.treeValue:
        if (!this.tryEnter(CTX, 1, 'TreeNode value')) return;
        f.state = St.treeValueEnd;
        this.push(St.value, f.rec, 'value');
        return;
      case St.treeValueEnd:
        if (!this.tryLeave('TreeNode value')) return;
        f.state = St.treeNodeEnd;
        return;
      case St.treeNodeEnd:
        if (!this.tryLeave('TreeNode')) return;
        f.state = St.treeItem;
        return;

      case St.string:
        return this.stringStart(f);
      case St.stringPrimitive: {
        // One primitive (the string or a segment): its length is known from its first piece.
        const ev = this.ev;
        if (ev.length > f.max - f.total) {
          throw new VmsError('E_LIMIT', `${f.name} is too long`, { offset: f.at, path: [...this.path], expected: `at most ${f.max} bytes`, actual: `${f.total + ev.length} bytes or more` });
        }
        f.state = St.stringPiece;
        return;
      }
      case St.stringPiece: {
        if (this.poll() === NeedMore) return;
        const content = this.ev.content;
        if (f.parts !== undefined) f.parts.push(content.slice());
        const r = f.piece?.(content);
        if (r !== undefined) {
          // The view stays valid while the visitor works: no event is read until it settles.
          this.waiting = r;
          f.state = St.stringPieceDone;
          return;
        }
        return this.pieceDone(f);
      }
      case St.stringPieceDone:
        return this.pieceDone(f);
      case St.stringSegment: {
        const k = this.poll();
        if (k === NeedMore) return;
        const ev = this.ev;
        if (k === End) {
          this.take();
          if (--f.depth === 0) this.stringDone(f);
        } else if (ev.cls === TagClass.Universal && ev.number === Universal.OctetString && (k === Start || k === Primitive)) {
          if (k === Start) {
            this.take();
            f.depth++;
          } else {
            f.state = St.stringPrimitive;
          }
        } else {
          throw this.fail('E_BER', `${f.name}: a constructed string holds only OCTET STRING segments`, 'OCTET STRING', this.describe());
        }
        return;
      }
    }
  }

  /** The first step of a Value: which alternative, and its checks. */
  private valueStart(f: Frame): void {
    const k = this.poll();
    if (k === NeedMore) return;
    const ev = this.ev;
    if (ev.cls !== CTX) throw this.fail('E_BER', 'unexpected value', 'a Value alternative', this.describe());
    const t = ev.number;
    const octets = t === ValueTag.buffer || t === ValueTag.string || t === ValueTag.unused;
    if (k === Primitive || (k === Start && octets)) {
      if (t > ValueTag.nullPointer) throw this.fail('E_BER', 'constructed Value alternative sent as a primitive', 'a constructed value', this.describe());
      f.at = ev.offset;
      f.num = t;
      f.state = St.primitiveValue;
      return this.primitiveValue(f);
    }
    if (k !== Start) throw this.fail('E_BER', 'unexpected value', 'a Value', this.describe());
    switch (t) {
      case ValueTag.opaque:
        this.enterNow(CTX, t, 'opaque');
        f.state = St.opaqueType;
        return;
      case ValueTag.struct:
        f.state = St.structOpen;
        return;
      case ValueTag.array:
        this.enterNow(CTX, t, 'array');
        f.rec = f.out === undefined ? undefined : new RecordingVisitor();
        this.path.push(0);
        f.state = St.arrayItem;
        return;
      case ValueTag.list:
        this.enterNow(CTX, t, 'list');
        f.out?.startList(f.name);
        this.path.push(0);
        f.state = St.listItem;
        return;
      case ValueTag.tree:
        this.enterNow(CTX, t, 'tree');
        f.rec = f.out === undefined ? undefined : new RecordingVisitor();
        this.path.push(0);
        f.state = St.treeItem;
        return;
      case ValueTag.extension:
        f.cls = CTX;
        f.number = EXTENSIONS;
        f.state = St.extension;
        return;
      default:
        throw this.fail('E_BER', 'unknown Value alternative', 'a Value alternative ([0]..[17], [29])', this.describe());
    }
  }

  /** The end of an array or tree: the recorded elements go out now that their count is known. */
  private endRecorded(f: Frame, what: 'array' | 'tree'): void {
    this.path.pop();
    this.leaveNow(what);
    this.pop();
    const out = f.out;
    if (out === undefined) return;
    if (what === 'array') out.startArray(f.name, f.num);
    else out.startTree(f.name, f.num);
    f.rec!.replay(out);
    if (what === 'array') out.endArray();
    else out.endTree();
  }

  private primitiveValue(f: Frame): void {
    const t = f.num;
    const c = this.tryPrim(CTX, t, f.name, t === ValueTag.buffer || t === ValueTag.unused ? this.maxBlob : t === ValueTag.string ? 255 : 9);
    if (c === undefined) return;
    if (f.out !== undefined) this.primitive(f.out, f.name, t, c, f.at);
    this.pop();
  }

  private stringStart(f: Frame): void {
    const k = this.poll();
    if (k === NeedMore) return;
    const ev = this.ev;
    if ((k !== Primitive && k !== Start) || ev.cls !== f.cls || ev.number !== f.number) {
      throw this.fail('E_BER', `${f.name}: unexpected value`, tagName(f.cls, f.number), this.describe());
    }
    f.at = ev.offset;
    f.total = 0;
    if (k === Primitive) {
      f.depth = 0;
      f.state = St.stringPrimitive;
      return;
    }
    this.take();
    f.depth = 1;
    f.state = St.stringSegment;
  }

  private pieceDone(f: Frame): void {
    const ev = this.ev;
    const last = ev.final;
    if (last) f.total += ev.length;
    this.take();
    if (!last) f.state = St.stringPiece;
    else if (f.depth === 0) this.stringDone(f);
    else f.state = St.stringSegment;
  }

  /** Hands the gathered string (EMPTY when it was not kept) to the step that asked for it. */
  private stringDone(f: Frame): void {
    const parts = f.parts;
    this.collected = parts === undefined ? EMPTY : parts.length === 1 ? parts[0]! : concatBytes(parts);
    this.collectedAt = f.opAt;
    f.parts = undefined;
    f.piece = undefined;
    this.pop();
  }

  private takeCollected(): Uint8Array {
    const c = this.collected!;
    this.collected = undefined;
    return c;
  }

  // ---- steps' reads: false, undefined or -1 when the step must run again --------------------

  /** The next event without waiting: NeedMore (and the machine waits) when it is not buffered yet. */
  private poll(): BerEventKind {
    if (this.pending !== undefined) return this.pending;
    const k = this.br.next();
    if (k === NeedMore) {
      this.starved = true;
      return k;
    }
    this.pending = k;
    return k;
  }

  private tryEnter(cls: number, number: number, what: string): boolean {
    if (this.poll() === NeedMore) return false;
    this.enterNow(cls, number, what);
    return true;
  }

  private tryLeave(what: string): boolean {
    if (this.poll() === NeedMore) return false;
    this.leaveNow(what);
    return true;
  }

  /** A string's contents whole, or undefined while they are read (then the step runs again). */
  private tryPrim(cls: number, number: number, what: string, max: number): Uint8Array | undefined {
    if (this.collected !== undefined) return this.takeCollected();
    const opAt = this.ev.offset;
    if (this.poll() === NeedMore) return undefined;
    const whole = this.wholePrim(cls, number, what, max);
    if (whole === undefined) this.pushString(cls, number, what, max, [], undefined, opAt);
    return whole;
  }

  /**
   * The offset an op reports its value's errors at: that of the last event read when the op
   * starts (as the value-by-value reader always had it), kept across a gathered string.
   */
  private opAt(): number {
    return this.collected !== undefined ? this.collectedAt : this.ev.offset;
  }

  private tryUint(tag: number, what: string, max: number): number {
    const at = this.opAt();
    const c = this.tryPrim(CTX, tag, what, 9);
    return c === undefined ? -1 : this.uintOf(c, at, what, max);
  }

  private tryName(tag: number, what: string): string | undefined {
    const at = this.opAt();
    const c = this.tryPrim(CTX, tag, what, 1 << 16);
    return c === undefined ? undefined : this.nameOf(c, at, what);
  }

  private tryBoolean(tag: number, what: string): boolean | undefined {
    const at = this.opAt();
    const c = this.tryPrim(CTX, tag, what, 1);
    return c === undefined ? undefined : this.booleanOf(c, at, what);
  }

  // ---- checks on the pending event ----------------------------------------------------------

  private atEndNow(k: BerEventKind): boolean {
    if (k === Done) throw this.fail('E_TRUNCATED', 'stream ends inside a value', 'more values or an end', 'the end of the input');
    return k === End;
  }

  private isStartNow(cls: number, number: number): boolean {
    return this.pending === Start && this.ev.cls === cls && this.ev.number === number;
  }

  private isPrimNow(cls: number, number: number): boolean {
    return this.pending === Primitive && this.ev.cls === cls && this.ev.number === number;
  }

  private isStringNow(cls: number, number: number): boolean {
    const k = this.pending;
    return (k === Primitive || k === Start) && this.ev.cls === cls && this.ev.number === number;
  }

  private enterNow(cls: number, number: number, what: string): void {
    const ev = this.ev;
    if (this.pending !== Start || ev.cls !== cls || ev.number !== number) {
      throw this.fail('E_BER', `${what}: unexpected value`, `${tagName(cls, number)} (constructed)`, this.describe());
    }
    this.take();
  }

  private leaveNow(what: string): void {
    if (this.pending !== End) throw this.fail('E_BER', `${what} has unexpected contents`, `the end of ${what}`, this.describe());
    this.take();
  }

  /** The pending primitive's contents when it matches and arrived whole (a view), else undefined. */
  private wholePrim(cls: number, number: number, what: string, max: number): Uint8Array | undefined {
    const ev = this.ev;
    if (this.pending !== Primitive || ev.cls !== cls || ev.number !== number || !ev.final || ev.contentOffset !== 0) return undefined;
    if (ev.length > max) throw new VmsError('E_LIMIT', `${what} is too long`, { offset: ev.offset, path: [...this.path], expected: `at most ${max} bytes`, actual: `${ev.length} bytes` });
    this.take();
    return ev.content;
  }

  // ---- contents to values -------------------------------------------------------------------

  private uintOf(c: Uint8Array, at: number, what: string, max: number): number {
    const v = c.length === 0 ? undefined : decodeIntegerSafe(c);
    if (v === undefined || v < 0 || v > max) {
      throw new VmsError('E_BER', `${what} out of range`, { offset: at, path: [...this.path], expected: `an INTEGER in 0..${max}`, actual: c.length === 0 ? 'no contents' : String(decodeIntegerBig(c)) });
    }
    return v;
  }

  private nameOf(c: Uint8Array, at: number, what: string): string {
    try {
      return UTF8.decode(c);
    } catch {
      throw new VmsError('E_BER', `${what} is not UTF-8`, { offset: at, path: [...this.path], expected: 'a UTF8String', actual: `${c.length} bytes` });
    }
  }

  private booleanOf(c: Uint8Array, at: number, what: string): boolean {
    if (c.length !== 1) throw new VmsError('E_BER', `${what}: BOOLEAN must have one octet`, { offset: at, path: [...this.path], expected: '1 octet', actual: `${c.length}` });
    return c[0] !== 0;
  }

  /** A primitive Value's contents replayed onto `out`, range-checked for its type. */
  private primitive(out: OutputVisitor, name: string, t: number, c: Uint8Array, at: number): void {
    const range = (min: number, max: number): number => {
      const v = c.length === 0 || c.length > 7 ? undefined : decodeIntegerSafe(c);
      if (v === undefined || v < min || v > max) {
        throw new VmsError('E_BER', `${name}: value out of range`, { offset: at, path: [...this.path], expected: `an INTEGER in ${min}..${max}`, actual: c.length === 0 ? 'no contents' : String(decodeIntegerBig(c)) });
      }
      return v;
    };
    const int64 = (): bigint => {
      if (c.length === 0 || c.length > 8) throw new VmsError('E_BER', `${name}: not a 64-bit INTEGER`, { offset: at, path: [...this.path], expected: '1 to 8 contents octets', actual: `${c.length}` });
      return decodeIntegerBig(c);
    };
    switch (t) {
      case ValueTag.bool:
        if (c.length !== 1) throw new VmsError('E_BER', `${name}: BOOLEAN must have one octet`, { offset: at, path: [...this.path], expected: '1 octet', actual: `${c.length}` });
        return out.bool(name, c[0] !== 0);
      case ValueTag.int8:
        return out.int8(name, range(-0x80, 0x7f));
      case ValueTag.int16:
        return out.int16(name, range(-0x8000, 0x7fff));
      case ValueTag.int32:
        return out.int32(name, range(-0x80000000, 0x7fffffff));
      case ValueTag.int64:
        return out.int64(name, int64());
      case ValueTag.uint8:
        return out.uint8(name, range(0, 0xff));
      case ValueTag.uint16:
        return out.uint16(name, range(0, 0xffff));
      case ValueTag.uint32:
        return out.uint32(name, range(0, 0xffffffff));
      case ValueTag.uint64:
        return out.uint64(name, BigInt.asUintN(64, int64()));
      case ValueTag.buffer:
        return out.buffer(name, c);
      case ValueTag.string:
        return out.string(name, latin1(c));
      case ValueTag.unused:
        return out.unused(name, c.length);
      case ValueTag.nullPointer:
        if (c.length !== 0) throw new VmsError('E_BER', `${name}: NULL must be empty`, { offset: at, path: [...this.path], expected: '0 octets', actual: `${c.length}` });
        return out.nullPointer(name);
    }
  }

  // ---- the value-by-value cursor (records, RAM, configuration) ------------------------------

  /** The next event, read but not consumed. */
  protected async peek(): Promise<BerEventKind> {
    if (this.pending !== undefined) return this.pending;
    let k = this.br.next();
    while (k === NeedMore) {
      await this.br.more();
      k = this.br.next();
    }
    this.pending = k;
    return k;
  }

  protected take(): void {
    this.pending = undefined;
  }

  protected async atEnd(): Promise<boolean> {
    return this.atEndNow(await this.peek());
  }

  protected async isStart(cls: number, number: number): Promise<boolean> {
    await this.peek();
    return this.isStartNow(cls, number);
  }

  protected async isPrim(cls: number, number: number): Promise<boolean> {
    await this.peek();
    return this.isPrimNow(cls, number);
  }

  /** True when the next value has this tag, primitive or constructed (a string may be either). */
  protected async isString(cls: number, number: number): Promise<boolean> {
    await this.peek();
    return this.isStringNow(cls, number);
  }

  protected async enter(cls: number, number: number, what: string): Promise<void> {
    await this.peek();
    this.enterNow(cls, number, what);
  }

  protected async leave(what: string): Promise<void> {
    await this.peek();
    this.leaveNow(what);
  }

  protected async uint(tag: number, what: string, max: number): Promise<number> {
    const at = this.ev.offset;
    return this.uintOf(await this.prim(CTX, tag, what, 9), at, what, max);
  }

  /** Size ::= INTEGER (0..2^63-1). */
  protected async size(tag: number, what: string): Promise<bigint> {
    const at = this.ev.offset;
    const c = await this.prim(CTX, tag, what, 9);
    const v = c.length === 0 ? -1n : decodeIntegerBig(c);
    if (v < 0n || v > 0x7fffffffffffffffn) {
      throw new VmsError('E_BER', `${what} out of range`, { offset: at, path: [...this.path], expected: 'an INTEGER in 0..2^63-1', actual: c.length === 0 ? 'no contents' : String(v) });
    }
    return v;
  }

  protected async boolean(tag: number, what: string): Promise<boolean> {
    const at = this.ev.offset;
    return this.booleanOf(await this.prim(CTX, tag, what, 1), at, what);
  }

  protected async name(tag: number, what: string): Promise<string> {
    const at = this.ev.offset;
    return this.nameOf(await this.prim(CTX, tag, what, 1 << 16), at, what);
  }

  protected describe(): string {
    const k = this.pending;
    const ev = this.ev;
    if (k === End) return 'the end of the enclosing value';
    if (k === Done) return 'the end of the input';
    return `${tagName(ev.cls, ev.number)} ${k === Start ? 'constructed' : 'primitive'}`;
  }

  protected fail(code: VmsCode, reason: string, expected: string, actual: string): VmsError {
    const at = this.pending === Start || this.pending === Primitive ? this.ev.offset : this.br.offset;
    return new VmsError(code, reason, { offset: at, path: [...this.path], expected, actual });
  }
}

export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

