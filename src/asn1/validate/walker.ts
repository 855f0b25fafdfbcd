/**
 * The schema-driven streaming BER validator: walks the BerReader's events in step with a
 * compiled ASN.1 type, on an explicit frame stack (no recursion on input depth), and collects
 * diagnostics instead of throwing. A value that breaks the schema is reported and its subtree
 * skipped (BER framing still locates the next value), so `maxErrors` can go on past the first
 * violation; framing errors stop the walk. Memory does not grow with the stream: frames are
 * reused objects, primitives are checked piece by piece, diagnostics are capped.
 *
 * An optional observer (the XER writer) sees the values as they are accepted.
 */
import { ChannelReader } from '../../channel/reader.js';
import type { ByteSource } from '../../channel/transport.js';
import { isVmsError, type PathElement } from '../../errors.js';
import { BerEventKind, BerReader, DEFAULT_MAX_DEPTH, type BerEvent } from '../../format/ber/reader.js';
import { INDEFINITE } from '../../format/ber/length.js';
import { TagClass, Universal, tagName } from '../../format/ber/tag.js';
import { choiceAlternatives, formatTag, firstTags, type AsnType, type Component } from '../types.js';
import { formatRanges } from '../ranges.js';
import { ContentCheck } from '../x690/contents.js';
import { readerFailureCode, type X690Code } from '../x690/diagnostics.js';
import { MAX_HEADER_BYTES, headerMayBeLong, putHeader, reportHeaderForms } from '../x690/header.js';
import { CharScan, describeChar } from './chars.js';
import type { ValidationCode, ValidationDiagnostic, ValidationSeverity } from './diagnostics.js';
import { Shape, inNumberBounds, planOf, type TypePlan } from './plan.js';
import { sparseReads } from './sparse-reads.js';

/** Sees accepted values in stream order (the XER writer). Names are XER element names. */
export interface ValueObserver {
  open(name: string): void;
  close(name: string): void;
  /** A primitive value (or a constructed string) of `plan`'s type begins; `length` is its contents length, or -1 when not known (a constructed string). */
  valueBegin(plan: TypePlan, length: number): void;
  valueBytes(bytes: Uint8Array, start: number, end: number): void;
  valueEnd(): void;
  /** BIT STRING: the unused bits of its last octet, told before `valueEnd` (its `valueBytes` carry no unused-bits octets). */
  bitsUnused(n: number): void;
  /** A DEFAULT component the encoding leaves out. */
  absentDefault(component: Component): void;
  /** True when output is queued beyond its high-water mark: the walker then awaits `drain()` before reading on. */
  readonly needsDrain: boolean;
  drain(): Promise<void>;
}

export interface ValidateOptions {
  /** Stop after this many errors. Defaults to 100. */
  readonly maxErrors?: number;
  /** Keep at most this many warnings (all are counted). Defaults to 100. */
  readonly maxWarnings?: number;
  /** Deepest nesting of constructed values accepted. Defaults to 1,000. */
  readonly maxDepth?: number;
  /** Called with each diagnostic as it is found. */
  readonly onDiagnostic?: (d: ValidationDiagnostic) => void;
  readonly observer?: ValueObserver;
}

export const DEFAULT_MAX_ERRORS = 100;
export const DEFAULT_MAX_WARNINGS = 100;

export interface ValidationReport {
  /** No errors (warnings allowed). */
  readonly valid: boolean;
  readonly errors: number;
  readonly warnings: number;
  /** Kept diagnostics, in input order. */
  readonly diagnostics: readonly ValidationDiagnostic[];
  /** Values (TLVs) examined. */
  readonly values: number;
  /** Offset the walk reached. */
  readonly bytes: number;
  /** False when the walk stopped early (a framing error, or maxErrors reached). */
  readonly complete: boolean;
}

/** Validates BER input as one value of `type`; resolves with every finding (rejects only on I/O errors). */
export async function validateBer(input: ChannelReader | ByteSource | Uint8Array, type: AsnType, options: ValidateOptions = {}): Promise<ValidationReport> {
  // Without an observer, long OCTET STRINGs are skipped; on a seekable source, small reads after each seek make that pay.
  const channel = input instanceof ChannelReader ? input : new ChannelReader(input instanceof Uint8Array || options.observer !== undefined ? input : sparseReads(input));
  return new SchemaWalker(channel, type, options).run();
}

const Kind = { Wrapper: 1, Sequence: 2, Set: 3, SequenceOf: 4, String: 5, Segment: 6 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** Path and XER names one value adds: an element index, then component / alternative names. Reused, never reallocated. */
class Label {
  index = -1;
  readonly path: string[] = [];
  pathN = 0;
  readonly xer: string[] = [];
  xerN = 0;
  reset(): void {
    this.index = -1;
    this.pathN = 0;
    this.xerN = 0;
  }
  add(name: string): void {
    this.path[this.pathN++] = name;
    this.xer[this.xerN++] = name;
  }
  addXer(name: string): void {
    this.xer[this.xerN++] = name;
  }
  copyFrom(o: Label): void {
    this.index = o.index;
    for (let i = 0; i < o.pathN; i++) this.path[i] = o.path[i]!;
    for (let i = 0; i < o.xerN; i++) this.xer[i] = o.xer[i]!;
    this.pathN = o.pathN;
    this.xerN = o.xerN;
  }
}

/** One open constructed value. Reused: the stack grows to the deepest nesting seen, never per value. */
class Frame {
  kind: Kind = Kind.Wrapper;
  plan!: TypePlan;
  /** Wrapper: the tag index its one child must have. */
  tagIndex = 0;
  /** Sequence: next component; SequenceOf: elements so far; Wrapper: children so far. */
  pos = 0;
  offset = 0;
  readonly label = new Label();
  seen: Uint8Array = new Uint8Array(8);
}

const keyOf = (cls: number, number: number): number => (cls >> 6) * 2 ** 45 + number;

class SchemaWalker {
  private readonly reader: BerReader;
  private readonly root: TypePlan;
  private readonly maxErrors: number;
  private readonly maxWarnings: number;
  private readonly onDiagnostic: ((d: ValidationDiagnostic) => void) | undefined;
  private readonly obs: ValueObserver | undefined;
  private readonly diagnostics: ValidationDiagnostic[] = [];
  private errors = 0;
  private warnings = 0;
  private values = 0;
  private topValues = 0;

  private readonly frames: Frame[] = [];
  private top = -1;
  /** The value being placed, or the primitive being read. */
  private readonly child = new Label();
  /** Depth of a constructed value whose subtree is being skipped, or -1. */
  private skipDepth = -1;

  // The primitive being read (in pieces when long).
  private prim: TypePlan | undefined;
  private primIgnore = false;
  /** The source knows its size, so every length was checked against it: contents may be skipped unread. */
  private readonly canSkip: boolean;
  /** The rest of the current long primitive is to be skipped (the reader seeks past it where it can). */
  private skipPending = false;
  private primOffset = 0;
  private readonly content: ContentCheck;
  private readonly chars = new CharScan();
  private bitsUnused = 0;
  private bitsBytes = 0;
  /** True while report() should use `child` as the innermost label. */
  private childInPath = false;
  /** With an observer: depth of the ANY value whose TLV bytes go to it as they come, or -1. */
  private anyDepth = -1;
  private readonly anyHeader = new Uint8Array(MAX_HEADER_BYTES);

  constructor(channel: ChannelReader, type: AsnType, options: ValidateOptions) {
    this.reader = new BerReader(channel, { maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH, allowNonMinimalTags: true });
    this.root = planOf(type);
    this.maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
    this.maxWarnings = options.maxWarnings ?? DEFAULT_MAX_WARNINGS;
    this.onDiagnostic = options.onDiagnostic;
    this.obs = options.observer;
    this.canSkip = channel.size !== undefined;
    this.content = new ContentCheck((code: X690Code, severity, offset, message, expected, actual) => this.report(code, severity, offset, message, expected, actual));
  }

  async run(): Promise<ValidationReport> {
    const r = this.reader;
    const ev = r.event;
    let complete = true;
    try {
      for (;;) {
        let k = r.next();
        while (k === BerEventKind.NeedMore) {
          await r.more();
          k = r.next();
        }
        if (k === BerEventKind.Done) break;
        // Header forms, for every value, as the --no-schema check reports them (segments and skipped values too).
        if ((k === BerEventKind.Start || (k === BerEventKind.Primitive && ev.contentOffset === 0)) && headerMayBeLong(ev)) this.headerForms(ev);
        if (this.anyDepth >= 0) this.anyEvent(k, ev);
        else if (k === BerEventKind.Primitive) {
          if (ev.contentOffset > 0) {
            if (this.skipDepth >= 0) continue;
            if (!this.primIgnore) this.onPiece(ev);
            else if (ev.final) this.primIgnore = false;
          } else if (this.skipDepth < 0) this.onPrimitive(ev);
          else this.ignoreRest(ev);
        } else if (k === BerEventKind.Start) {
          if (this.skipDepth < 0) this.onStart(ev);
        } else if (this.skipDepth >= 0) {
          if (ev.depth === this.skipDepth) this.skipDepth = -1;
        } else this.onEnd(ev);
        if (this.errors >= this.maxErrors) {
          complete = false;
          break;
        }
        if (this.skipPending) {
          this.skipPending = false;
          await r.skipRest();
        }
        // Backpressure: the observer's output drains before more input is read.
        if (this.obs !== undefined && this.obs.needsDrain) await this.obs.drain();
      }
      if (complete && this.topValues === 0) {
        this.childInPath = false;
        this.report('SCHEMA_EMPTY', 'error', r.offset, 'the stream holds no value', `one ${this.root.type.name} value`, 'end of stream');
      }
    } catch (e) {
      const code = readerFailureCode(e);
      if (code === undefined || !isVmsError(e)) throw e;
      // The schema path of the innermost open value, with the reader's tag path as the finer detail.
      this.childInPath = false;
      this.report(code, 'error', e.offset ?? r.offset, e.reason, e.expected, e.actual);
      complete = false;
    }
    r.release();
    return {
      valid: this.errors === 0,
      errors: this.errors,
      warnings: this.warnings,
      diagnostics: this.diagnostics,
      values: this.values,
      bytes: r.offset,
      complete,
    };
  }

  // ---- placing a value: which type the schema expects for the next TLV ---------------------------

  /** Sets `child` and returns the expected type and tag index for `ev`, or undefined to skip it. */
  private place(ev: BerEvent): TypePlan | undefined {
    this.values++;
    const child = this.child;
    child.reset();
    this.childInPath = false;
    this.tagIndex = 0;
    this.childInPath = true;
    if (this.top < 0) {
      if (this.topValues++ > 0) {
        this.childInPath = false;
        this.report('SCHEMA_TRAILING', 'error', ev.offset, `bytes follow the ${this.root.type.name} value`, 'end of stream', `${ev.tagName} (${ev.length === INDEFINITE ? 'indefinite length' : `${ev.length} bytes`})`);
        return undefined;
      }
      child.add(this.root.type.name);
      return this.root;
    }
    const f = this.frames[this.top]!;
    switch (f.kind) {
      case Kind.Wrapper:
        if (f.pos++ > 0) {
          this.report('SCHEMA_WRAPPER', 'error', ev.offset, `explicit tag ${formatTag(f.plan.type.tags[f.tagIndex - 1]!)} holds more than one value`, 'one value', `another value, ${ev.tagName}`);
          return undefined;
        }
        this.tagIndex = f.tagIndex;
        return f.plan;
      case Kind.SequenceOf: {
        const plan = elementPlan(f.plan);
        child.index = f.pos++;
        // asn1c names the element by its identifier (`SEQUENCE OF selector LDAPString`), else its type.
        if (plan.xerElement !== undefined) child.addXer(f.plan.type.def.elementName ?? plan.xerElement);
        return plan;
      }
      case Kind.Sequence:
        return this.placeInSequence(f, ev);
      case Kind.Set:
        return this.placeInSet(f, ev);
      default:
        return undefined; // string segments are handled before placing
    }
  }

  private tagIndex = 0;

  private placeInSequence(f: Frame, ev: BerEvent): TypePlan | undefined {
    const plan = f.plan;
    const comps = plan.type.def.components;
    const keys = plan.componentKeys;
    const key = keyOf(ev.cls, ev.number);
    let found = -1;
    for (let i = f.pos; i < comps.length; i++) {
      const k = keys[i];
      if (k === undefined || k.has(key)) {
        found = i;
        break;
      }
    }
    if (found >= 0) {
      for (let j = f.pos; j < found; j++) this.passOver(f, comps[j]!, j, ev.offset, ev);
      f.pos = found + 1;
      return this.takeComponent(plan, found);
    }
    for (let i = 0; i < f.pos && i < comps.length; i++) {
      const k = keys[i];
      if (k !== undefined && k.has(key)) {
        this.childInPath = false;
        const name = comps[i]!.name;
        if (i === f.pos - 1) this.report('SCHEMA_DUPLICATE', 'error', ev.offset, `component ${name} of ${plan.type.name} appears twice`, nextExpected(comps, keys, f.pos), `${ev.tagName} (${name} again)`);
        else this.report('SCHEMA_ORDER', 'error', ev.offset, `component ${name} of ${plan.type.name} comes after ${comps[f.pos - 1]!.name}`, nextExpected(comps, keys, f.pos), `${ev.tagName} (${name})`);
        return undefined;
      }
    }
    // A mandatory component still to come: this value is taken to be it, with the wrong tag.
    const from = f.pos;
    for (let j = from; j < comps.length; j++) {
      if (!plan.mandatory[j]) continue;
      for (let i = from; i < j; i++) this.passOver(f, comps[i]!, i, ev.offset, ev);
      f.pos = j + 1;
      this.child.add(comps[j]!.name);
      this.report('SCHEMA_TAG', 'error', ev.offset, `component ${comps[j]!.name} of ${plan.type.name} has the wrong tag`, nextExpected(comps, keys, from), ev.tagName);
      return undefined;
    }
    if (!plan.type.def.extensible) {
      this.childInPath = false;
      this.report('SCHEMA_UNEXPECTED', 'error', ev.offset, `${ev.tagName} is no component of ${plan.type.name}`, nextExpected(comps, keys, f.pos), ev.tagName);
    }
    return undefined; // an unknown extension addition: skipped
  }

  private placeInSet(f: Frame, ev: BerEvent): TypePlan | undefined {
    const plan = f.plan;
    const comps = plan.type.def.components;
    const keys = plan.componentKeys;
    const key = keyOf(ev.cls, ev.number);
    for (let i = 0; i < comps.length; i++) {
      const k = keys[i];
      if (k !== undefined && !k.has(key)) continue;
      if (f.seen[i] !== 0) {
        this.childInPath = false;
        this.report('SCHEMA_DUPLICATE', 'error', ev.offset, `component ${comps[i]!.name} of SET ${plan.type.name} appears twice`, 'each component at most once', `${ev.tagName} (${comps[i]!.name} again)`);
        return undefined;
      }
      f.seen[i] = 1;
      return this.takeComponent(plan, i);
    }
    if (!plan.type.def.extensible) {
      this.childInPath = false;
      this.report('SCHEMA_UNEXPECTED', 'error', ev.offset, `${ev.tagName} is no member of SET ${plan.type.name}`, `one of ${comps.map((c) => c.name).join(', ')}`, ev.tagName);
    }
    return undefined;
  }

  private takeComponent(parent: TypePlan, i: number): TypePlan {
    this.child.add(parent.type.def.components[i]!.name);
    return componentPlan(parent, i);
  }

  /**
   * A component left out before the value `found` (undefined: before the end of `f`): an error
   * when it is mandatory. What was found is named only when reported (no string per passed-over component).
   */
  private passOver(f: Frame, c: Component, i: number, at: number, found: BerEvent | undefined): void {
    if (f.plan.mandatory[i]) {
      const saved = this.childInPath;
      this.childInPath = false;
      const what = found !== undefined ? found.tagName : `the end of ${f.kind === Kind.Set ? 'SET ' : ''}${f.plan.type.name}`;
      this.report('SCHEMA_MISSING', 'error', at, `mandatory component ${c.name} of ${f.plan.type.name} is missing`, `${c.name} (${describeFirst(c.type)})`, what);
      this.childInPath = saved;
    } else if (c.default !== undefined) this.obs?.absentDefault(c);
  }

  // ---- entering a value: check its tags, push a frame or read a primitive --------------------------

  private onStart(ev: BerEvent): void {
    const parent = this.top >= 0 ? this.frames[this.top]! : undefined;
    if (parent !== undefined && (parent.kind === Kind.String || parent.kind === Kind.Segment)) {
      this.values++;
      if (this.segmentTag(parent, ev)) this.push(Kind.Segment, parent.plan, ev, 0);
      else this.skipDepth = ev.depth;
      return;
    }
    let plan = this.place(ev);
    if (plan !== undefined) plan = this.resolve(ev, plan);
    if (plan === undefined) {
      this.skipDepth = ev.depth;
      return;
    }
    const ti = this.tagIndex;
    if (ti < plan.wrappers) {
      this.push(Kind.Wrapper, plan, ev, ti + 1);
      return;
    }
    switch (plan.shape) {
      case Shape.Sequence:
        this.push(Kind.Sequence, plan, ev, 0);
        return;
      case Shape.Set: {
        const f = this.push(Kind.Set, plan, ev, 0);
        const n = plan.type.def.components.length;
        if (f.seen.length < n) f.seen = new Uint8Array(n);
        else f.seen.fill(0, 0, n);
        return;
      }
      case Shape.SequenceOf:
        this.push(Kind.SequenceOf, plan, ev, 0);
        return;
      case Shape.String:
        if (plan.universal === Universal.UTCTime || plan.universal === Universal.GeneralizedTime || plan.universal === Universal.ObjectDescriptor || isStringKind(plan.universal)) {
          this.push(Kind.String, plan, ev, 0);
          this.beginContents(plan, ev.offset, -1);
          return;
        }
        break;
      case Shape.Any:
        this.openLabel(this.child);
        if (this.obs !== undefined) {
          this.anyBegin(plan, ev);
          return;
        }
        this.closeLabel(this.child);
        this.skipDepth = ev.depth;
        return;
      default:
        break;
    }
    this.report('SCHEMA_FORM', 'error', ev.offset, `${plan.type.name} (${plan.type.kind}) must be primitive`, 'the primitive form', 'constructed');
    this.skipDepth = ev.depth;
  }

  private onPrimitive(ev: BerEvent): void {
    const parent = this.top >= 0 ? this.frames[this.top]! : undefined;
    if (parent !== undefined && (parent.kind === Kind.String || parent.kind === Kind.Segment)) {
      this.values++;
      if (!this.segmentTag(parent, ev)) {
        this.ignoreRest(ev);
        return;
      }
      this.feedSegment(ev);
      return;
    }
    let plan = this.place(ev);
    if (plan !== undefined) plan = this.resolve(ev, plan);
    if (plan !== undefined && this.tagIndex < plan.wrappers) {
      this.report('SCHEMA_FORM', 'error', ev.offset, `explicit tag ${ev.tagName} must be constructed`, 'the constructed form holding one value', 'primitive');
      plan = undefined;
    } else if (plan !== undefined && plan.shape !== Shape.Primitive && plan.shape !== Shape.String && plan.shape !== Shape.Any) {
      this.report('SCHEMA_FORM', 'error', ev.offset, `${plan.type.name} (${plan.type.kind}) must be constructed`, 'the constructed form', 'primitive');
      plan = undefined;
    }
    if (plan === undefined) {
      this.ignoreRest(ev);
      return;
    }
    this.prim = plan;
    this.primOffset = ev.offset;
    this.openLabel(this.child);
    if (plan.shape === Shape.Any) {
      // ANY: one TLV of any type; the observer gets its bytes (asn1c's XER shows them in hex).
      this.prim = undefined;
      if (this.obs !== undefined) {
        this.anyBegin(plan, ev);
        return;
      }
      this.ignoreRest(ev);
      this.closeLabel(this.child);
      return;
    }
    this.beginContents(plan, ev.offset, ev.length);
    if (!ev.final && this.canSkip && this.obs === undefined && plan.universal === Universal.OctetString && plan.alphaLo === undefined) {
      // Contents no check looks into (RAM pages): a SIZE needs only the length, so the reader skips the rest.
      this.chars.count = ev.length;
      this.skipPending = true;
      this.finishPrimitive(ev);
      return;
    }
    this.feedContents(ev.bytes, ev.start, ev.end, ev.offset + ev.headerLength);
    if (ev.final) this.finishPrimitive(ev);
  }

  /** The rest of a long primitive nothing will look at: skipped where the source allows, else read and dropped. */
  private ignoreRest(ev: BerEvent): void {
    if (ev.final) return;
    if (this.canSkip) this.skipPending = true;
    else this.primIgnore = true;
  }

  private onPiece(ev: BerEvent): void {
    const parent = this.top >= 0 ? this.frames[this.top]! : undefined;
    if (parent !== undefined && (parent.kind === Kind.String || parent.kind === Kind.Segment)) {
      this.feedSegment(ev);
      return;
    }
    if (this.prim === undefined) return;
    this.feedContents(ev.bytes, ev.start, ev.end, ev.offset + ev.headerLength + ev.contentOffset);
    if (ev.final) this.finishPrimitive(ev);
  }

  private onEnd(ev: BerEvent): void {
    const f = this.frames[this.top]!;
    // Report against the frame's own path.
    this.childInPath = false;
    const contentsEnd = ev.endOffset - (ev.length === INDEFINITE ? 2 : 0);
    switch (f.kind) {
      case Kind.Wrapper:
        if (f.pos === 0) this.report('SCHEMA_WRAPPER', 'error', f.offset, `explicit tag ${ev.tagName} is empty`, `one ${describeInner(f.plan, f.tagIndex)} value`, 'no value');
        break;
      case Kind.Sequence: {
        const comps = f.plan.type.def.components;
        for (let j = f.pos; j < comps.length; j++) this.passOver(f, comps[j]!, j, contentsEnd, undefined);
        break;
      }
      case Kind.Set: {
        const comps = f.plan.type.def.components;
        for (let j = 0; j < comps.length; j++) if (f.seen[j] === 0) this.passOver(f, comps[j]!, j, contentsEnd, undefined);
        break;
      }
      case Kind.SequenceOf: {
        const p = f.plan;
        if (p.sizeLo !== undefined && !inNumberBounds(p.sizeLo, p.sizeHi!, f.pos)) {
          this.report('SCHEMA_SIZE', 'error', f.offset, `${p.type.name} has ${f.pos} element${f.pos === 1 ? '' : 's'}, outside its SIZE constraint`, `SIZE ${formatRanges(p.type.size!)}`, `${f.pos}`);
        }
        break;
      }
      case Kind.String:
        this.finishContents(f.plan, f.offset);
        this.endValue(f.plan);
        break;
      default:
        break;
    }
    if (f.kind !== Kind.Segment) this.closeLabel(f.label);
    this.top--;
  }

  /**
   * Follows untagged CHOICEs down to the alternative `ev`'s tag selects, and checks the tag the
   * schema expects at `this.tagIndex`. Returns the plan to use, or undefined (reported or skipped).
   */
  private resolve(ev: BerEvent, start: TypePlan): TypePlan | undefined {
    let plan = start;
    const key = keyOf(ev.cls, ev.number);
    for (;;) {
      const ti = this.tagIndex;
      if (ti < plan.tagKeys.length) {
        if (plan.tagKeys[ti] === key) return plan;
        this.report('SCHEMA_TAG', 'error', ev.offset, `${plan.type.name} has the wrong tag`, `${formatTag(plan.type.tags[ti]!)}${ti > 0 ? '' : ` (${plan.type.kind})`}`, ev.tagName);
        return undefined;
      }
      if (plan.shape === Shape.Any) return plan;
      if (plan.shape !== Shape.Choice) return plan; // untagged non-CHOICE cannot happen in compiled types
      const alt = alternativePlans(plan).get(key);
      if (alt === undefined) {
        const anyAlt = plan.type.def.components.find((c) => firstTags(c.type) === 'any');
        if (anyAlt !== undefined) {
          this.child.add(anyAlt.name);
          plan = planOf(anyAlt.type);
          this.tagIndex = 0;
          continue;
        }
        if (!plan.type.def.extensible) {
          this.report('SCHEMA_TAG', 'error', ev.offset, `no alternative of ${plan.type.name} has tag ${ev.tagName}`, `one of ${choiceTags(plan.type)}`, ev.tagName);
        }
        return undefined;
      }
      this.child.add(alt.name);
      plan = alt.plan;
      this.tagIndex = 0;
    }
  }

  private push(kind: Kind, plan: TypePlan, ev: BerEvent, tagIndex: number): Frame {
    const t = ++this.top;
    let f = this.frames[t];
    if (f === undefined) {
      f = new Frame();
      this.frames[t] = f;
    }
    f.kind = kind;
    f.plan = plan;
    f.tagIndex = tagIndex;
    f.pos = 0;
    f.offset = ev.offset;
    if (kind === Kind.Segment) f.label.reset();
    else {
      f.label.copyFrom(this.child);
      this.openLabel(f.label);
    }
    this.childInPath = false;
    return f;
  }

  private openLabel(l: Label): void {
    const o = this.obs;
    if (o === undefined) return;
    for (let i = 0; i < l.xerN; i++) o.open(l.xer[i]!);
  }

  private closeLabel(l: Label): void {
    const o = this.obs;
    if (o === undefined) return;
    for (let i = l.xerN - 1; i >= 0; i--) o.close(l.xer[i]!);
  }

  // ---- contents ---------------------------------------------------------------------------------

  private beginContents(plan: TypePlan, offset: number, length: number): void {
    const u = plan.universal;
    // A constructed BIT STRING's unused-bits octets are per segment, checked in feedSegment.
    if (u !== Universal.OctetString) this.content.begin(length < 0 && u === Universal.BitString ? 0 : u, offset);
    if (plan.sizeLo !== undefined || plan.alphaLo !== undefined) this.chars.begin(u, plan.alphaLo, plan.alphaHi);
    this.bitsBytes = 0;
    this.bitsUnused = 0;
    this.obs?.valueBegin(plan, length);
  }

  private feedContents(buf: Uint8Array, start: number, end: number, at: number): void {
    const plan = this.prim ?? this.frames[this.top]!.plan;
    const u = plan.universal;
    if (u !== Universal.OctetString) this.content.feed(buf, start, end, at);
    if (u === Universal.BitString) {
      const first = this.bitsBytes === 0 && end > start;
      if (first) this.bitsUnused = buf[start]!;
      this.bitsBytes += end - start;
      // The observer gets the bits alone, as from a constructed BIT STRING's segments.
      this.obs?.valueBytes(buf, first ? start + 1 : start, end);
      return;
    } else if (plan.sizeLo !== undefined || plan.alphaLo !== undefined) this.chars.feed(buf, start, end, at);
    this.obs?.valueBytes(buf, start, end);
  }

  private finishPrimitive(ev: BerEvent): void {
    const plan = this.prim!;
    this.finishContents(plan, this.primOffset);
    if (plan.valueLo !== undefined || plan.enumValues !== undefined) {
      // INTEGER and ENUMERATED contents are whole here unless absurdly long (then unchecked).
      if (ev.contentOffset === 0 && ev.end > ev.start) this.checkValue(plan, ev.bytes, ev.start, ev.end);
    }
    this.endValue(plan);
    this.closeLabel(this.child);
    this.prim = undefined;
  }

  /** Size and alphabet, after the last piece (or segment). */
  private finishContents(plan: TypePlan, offset: number): void {
    const u = plan.universal;
    if (u !== Universal.OctetString) this.content.finish();
    if (plan.sizeLo !== undefined) {
      let size: number;
      let unit: string;
      if (u === Universal.BitString) {
        size = this.bitsBytes === 0 ? 0 : (this.bitsBytes - 1) * 8 - this.bitsUnused;
        unit = 'bits';
      } else if (u === Universal.OctetString) {
        size = this.chars.count;
        unit = 'octets';
      } else {
        size = this.chars.count;
        unit = 'characters';
      }
      if (!inNumberBounds(plan.sizeLo, plan.sizeHi!, size)) {
        this.report('SCHEMA_SIZE', 'error', offset, `${plan.type.name} has ${size} ${unit}, outside its SIZE constraint`, `SIZE ${formatRanges(plan.type.size!)}`, `${size}`);
      }
    }
    if (plan.alphaLo !== undefined && this.chars.badAt >= 0) {
      this.report('SCHEMA_ALPHABET', 'error', this.chars.badAt, `${plan.type.name} has a character outside its permitted alphabet`, `FROM ${formatRanges(plan.type.alphabet!)}`, describeChar(this.chars.badCode));
    }
  }

  private checkValue(plan: TypePlan, b: Uint8Array, start: number, end: number): void {
    const n = end - start;
    const enums = plan.enumValues;
    if (n <= 6 && enums === undefined) {
      // Up to 48 bits: exact in a double, no bigint.
      let v = (b[start]! << 24) >> 24;
      for (let i = start + 1; i < end; i++) v = v * 256 + b[i]!;
      if (inNumberBounds(plan.valueLo!, plan.valueHi!, v)) return;
      this.report('SCHEMA_VALUE', 'error', this.primOffset, `${plan.type.name} value is outside its constraint`, formatRanges(plan.type.value!), String(v));
      return;
    }
    let big = BigInt.asIntN(8, BigInt(b[start]!));
    for (let i = start + 1; i < end; i++) big = (big << 8n) | BigInt(b[i]!);
    if (enums !== undefined) {
      if (enums.has(big) || plan.type.def.extensible) return;
      this.report('SCHEMA_VALUE', 'error', this.primOffset, `${plan.type.name} value is not one of its ENUMERATED items`, plan.type.def.named.map((x) => `${x.name}(${x.value})`).join(', '), big.toString());
      return;
    }
    for (const r of plan.type.value!.ranges) if ((r.min === undefined || big >= r.min) && (r.max === undefined || big <= r.max)) return;
    this.report('SCHEMA_VALUE', 'error', this.primOffset, `${plan.type.name} value is outside its constraint`, formatRanges(plan.type.value!), big.toString());
  }

  /** Checks a constructed string's segment tag; false (reported) when it is wrong. */
  private segmentTag(parent: Frame, ev: BerEvent): boolean {
    const want = parent.plan.universal === Universal.BitString ? Universal.BitString : Universal.OctetString;
    if (ev.cls === TagClass.Universal && ev.number === want) return true;
    this.childInPath = false;
    this.report('X690_SEGMENT', 'error', ev.offset, `a segment of a constructed ${parent.plan.type.name} must be ${tagName(0, want)}`, tagName(0, want), ev.tagName);
    return false;
  }

  /** A primitive segment (or piece of one) of the constructed string being read. */
  private feedSegment(ev: BerEvent): void {
    let root = this.top;
    while (this.frames[root]!.kind === Kind.Segment) root--;
    const plan = this.frames[root]!.plan;
    const at = ev.offset + ev.headerLength + ev.contentOffset;
    if (plan.universal === Universal.BitString) {
      // Each segment has its own unused-bits octet; only the bit count matters for SIZE.
      let start = ev.start;
      if (ev.contentOffset === 0 && ev.end > start) {
        this.bitsUnused = ev.bytes[start]!;
        if (this.bitsUnused > 7) this.report('X690_BIT_STRING', 'error', ev.offset, 'BIT STRING unused-bits octet is above 7 (X.690 8.6.2.2)', '0..7', String(this.bitsUnused));
        if (this.bitsBytes === 0) this.bitsBytes = 1;
        start++;
      }
      this.bitsBytes += ev.end - start;
      this.obs?.valueBytes(ev.bytes, start, ev.end);
      return;
    }
    if (plan.universal !== Universal.OctetString) this.content.feed(ev.bytes, ev.start, ev.end, at);
    if (plan.sizeLo !== undefined || plan.alphaLo !== undefined) this.chars.feed(ev.bytes, ev.start, ev.end, at);
    this.obs?.valueBytes(ev.bytes, ev.start, ev.end);
  }

  private endValue(plan: TypePlan): void {
    const o = this.obs;
    if (o === undefined) return;
    if (plan.universal === Universal.BitString) o.bitsUnused(this.bitsUnused);
    o.valueEnd();
  }

  // ---- ANY values as bytes, for the observer (engineer D: kept apart from the walk above) ---------

  /** An ANY value starts: its whole TLV goes to the observer, header first, until its end. */
  private anyBegin(plan: TypePlan, ev: BerEvent): void {
    this.obs!.valueBegin(plan, ev.length === INDEFINITE ? -1 : ev.headerLength + ev.length);
    this.anyDepth = ev.depth;
    this.anyEvent(ev.constructed ? BerEventKind.Start : BerEventKind.Primitive, ev);
  }

  /** One event inside an ANY value: its header, contents or end-of-contents octets, as they were read. */
  private anyEvent(k: BerEventKind, ev: BerEvent): void {
    const o = this.obs!;
    if (k === BerEventKind.End) {
      if (ev.length === INDEFINITE) {
        this.anyHeader[0] = 0;
        this.anyHeader[1] = 0;
        o.valueBytes(this.anyHeader, 0, 2);
      }
      if (ev.depth === this.anyDepth) this.anyEnd();
      return;
    }
    if (k === BerEventKind.Start || ev.contentOffset === 0) o.valueBytes(this.anyHeader, 0, putHeader(ev, this.anyHeader, 0));
    if (k === BerEventKind.Primitive) {
      o.valueBytes(ev.bytes, ev.start, ev.end);
      if (ev.final && ev.depth === this.anyDepth) this.anyEnd();
    }
  }

  private anyEnd(): void {
    this.anyDepth = -1;
    this.obs!.valueEnd();
    this.closeLabel(this.child);
  }

  /** X.690 header findings (needlessly long identifier or length), reported against the enclosing value. */
  private headerForms(ev: BerEvent): void {
    this.childInPath = false;
    reportHeaderForms(ev, this.reportHeader);
  }

  private readonly reportHeader = this.report.bind(this);

  // ---- reporting --------------------------------------------------------------------------------

  private pathNow(): PathElement[] {
    const out: PathElement[] = [];
    const add = (l: Label): void => {
      if (l.index >= 0) out.push(l.index);
      for (let i = 0; i < l.pathN; i++) out.push(l.path[i]!);
    };
    for (let i = 0; i <= this.top; i++) add(this.frames[i]!.label);
    if (this.childInPath || this.prim !== undefined) add(this.child);
    return out;
  }

  private report(code: ValidationCode, severity: ValidationSeverity, offset: number, message: string, expected?: string, actual?: string): void {
    if (severity === 'error') {
      if (this.errors >= this.maxErrors) return;
      this.errors++;
    } else {
      this.warnings++;
      if (this.warnings > this.maxWarnings) return;
    }
    const excerpt = this.reader.excerpt(offset);
    const d: ValidationDiagnostic = {
      severity,
      code,
      offset,
      path: this.pathNow(),
      message,
      ...(expected !== undefined ? { expected } : {}),
      ...(actual !== undefined ? { actual } : {}),
      ...(excerpt !== undefined ? { excerpt } : {}),
    };
    this.diagnostics.push(d);
    this.onDiagnostic?.(d);
  }
}

// Per-plan caches of child plans, filled on first use (types may be recursive, so not at plan time).
const elementPlans = new WeakMap<TypePlan, TypePlan>();
const componentPlans = new WeakMap<TypePlan, TypePlan[]>();
const alternatives = new WeakMap<TypePlan, Map<number, { readonly name: string; readonly plan: TypePlan }>>();

function elementPlan(p: TypePlan): TypePlan {
  let e = elementPlans.get(p);
  if (e === undefined) {
    e = planOf(p.type.def.element!);
    elementPlans.set(p, e);
  }
  return e;
}

function componentPlan(p: TypePlan, i: number): TypePlan {
  let list = componentPlans.get(p);
  if (list === undefined) {
    list = [];
    componentPlans.set(p, list);
  }
  let c = list[i];
  if (c === undefined) {
    c = planOf(p.type.def.components[i]!.type);
    list[i] = c;
  }
  return c;
}

function alternativePlans(p: TypePlan): Map<number, { readonly name: string; readonly plan: TypePlan }> {
  let m = alternatives.get(p);
  if (m === undefined) {
    m = new Map();
    for (const [key, alt] of choiceAlternatives(p.type)) m.set(key, { name: alt.name, plan: planOf(alt.type) });
    alternatives.set(p, m);
  }
  return m;
}

function isStringKind(u: number): boolean {
  return u === Universal.BitString || u === Universal.OctetString || u === Universal.UTF8String || u === Universal.BMPString || (u >= Universal.NumericString && u <= Universal.UniversalString);
}

/** `[2] (SEQUENCE OF Field)` or the alternatives of an untagged CHOICE. */
function describeFirst(t: AsnType): string {
  const tags = firstTags(t);
  if (tags === 'any') return 'any tag';
  return tags.map(formatTag).join(' or ');
}

function describeInner(plan: TypePlan, tagIndex: number): string {
  const t = plan.type;
  return tagIndex < t.tags.length ? formatTag(t.tags[tagIndex]!) : t.name;
}

function choiceTags(t: AsnType): string {
  const parts: string[] = [];
  for (const c of t.def.components) parts.push(`${describeFirst(c.type)} (${c.name})`);
  return parts.join(', ');
}

/** What may come next in a SEQUENCE: the components from `pos` up to and including the first mandatory one. */
function nextExpected(comps: readonly Component[], keys: readonly (ReadonlySet<number> | undefined)[], pos: number): string {
  const parts: string[] = [];
  for (let i = pos; i < comps.length; i++) {
    const c = comps[i]!;
    parts.push(`${describeFirst(c.type)} (${c.name})`);
    if (!c.optional && c.default === undefined) break;
    void keys;
  }
  return parts.length === 0 ? 'the end of the SEQUENCE' : parts.join(' or ');
}
