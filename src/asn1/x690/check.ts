/**
 * The schema-free X.690 check (`vmstream validate --no-schema`): walks any BER input with the
 * streaming BerReader and applies the encoding rules X.690 states for every value, without
 * knowing the ASN.1 types. Findings are collected, not thrown. Value-level errors do not stop
 * the walk (the value's length is sane, so the next value is found); framing errors do, since
 * nothing after them can be located reliably. Memory stays bounded: events are not kept, and
 * diagnostics are capped by `maxErrors` and `maxWarnings`.
 */
import { ChannelReader } from '../../channel/reader.js';
import type { ByteSource } from '../../channel/transport.js';
import { isVmsError, type PathElement } from '../../errors.js';
import { BerEventKind, BerReader, DEFAULT_MAX_DEPTH, type BerEvent } from '../../format/ber/reader.js';
import { TagClass, Universal, tagName } from '../../format/ber/tag.js';
import { ContentCheck, Form, segmentTag, universalForm, type ReportFn } from './contents.js';
import { readerFailureCode, type X690Code, type X690Diagnostic, type X690Severity } from './diagnostics.js';
import { headerMayBeLong, reportHeaderForms } from './header.js';

export interface X690Options {
  /** Stop after this many errors. Defaults to 100. */
  readonly maxErrors?: number;
  /** Keep at most this many warnings (all are counted). Defaults to 100. */
  readonly maxWarnings?: number;
  /** Deepest nesting accepted (deeper is an X690_LIMIT error). Defaults to 1,000. */
  readonly maxDepth?: number;
  /** Called with each diagnostic as it is found (before the report is returned). */
  readonly onDiagnostic?: (d: X690Diagnostic) => void;
}

export const DEFAULT_MAX_ERRORS = 100;
export const DEFAULT_MAX_WARNINGS = 100;

export interface X690Report {
  /** No errors (warnings allowed). */
  readonly valid: boolean;
  readonly errors: number;
  /** All warnings found, including those not kept. */
  readonly warnings: number;
  /** Kept diagnostics, in input order. */
  readonly diagnostics: readonly X690Diagnostic[];
  /** Values (TLVs) examined. */
  readonly values: number;
  /** Offset the check reached. */
  readonly bytes: number;
  /** False when the check stopped early (a framing error, or maxErrors reached). */
  readonly complete: boolean;
}

/** Checks BER input against X.690's rules; resolves with every finding (rejects only on I/O errors). */
export async function checkX690(input: ChannelReader | ByteSource | Uint8Array, options: X690Options = {}): Promise<X690Report> {
  const channel = input instanceof ChannelReader ? input : new ChannelReader(input);
  const checker = new X690Checker(channel, options);
  return checker.run();
}

class X690Checker {
  private readonly reader: BerReader;
  private readonly maxErrors: number;
  private readonly maxWarnings: number;
  private readonly onDiagnostic: ((d: X690Diagnostic) => void) | undefined;
  private readonly diagnostics: X690Diagnostic[] = [];
  private errors = 0;
  private warnings = 0;
  private values = 0;
  /** Where the current report should point (set before each value's checks). */
  private path: readonly PathElement[] | undefined;
  private readonly value: ContentCheck;
  /** The constructed string whose segments are being read (its checks span all segments). */
  private readonly root: ContentCheck;
  /** Per depth: the tag number its children must have as string segments (0: not a string). */
  private readonly segments: number[] = [];
  /** Depth of the outermost constructed string open, or -1. */
  private rootDepth = -1;
  private rootType = 0;
  /** A BIT STRING segment with unused bits that may not be the last one: its offset, or -1. */
  private bitPending = -1;
  private bitPendingUnused = 0;
  private bitPendingPath: readonly PathElement[] = [];
  private readonly reportFn: ReportFn = this.report.bind(this);

  constructor(channel: ChannelReader, options: X690Options) {
    this.reader = new BerReader(channel, { maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH, allowNonMinimalTags: true });
    this.maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
    this.maxWarnings = options.maxWarnings ?? DEFAULT_MAX_WARNINGS;
    this.onDiagnostic = options.onDiagnostic;
    this.value = new ContentCheck(this.reportFn);
    this.root = new ContentCheck(this.reportFn);
  }

  async run(): Promise<X690Report> {
    const r = this.reader;
    let complete = true;
    try {
      for (;;) {
        let k = r.next();
        while (k === BerEventKind.NeedMore) {
          await r.more();
          k = r.next();
        }
        if (k === BerEventKind.Done) break;
        if (k === BerEventKind.Start) this.onStart(r.event);
        else if (k === BerEventKind.Primitive) this.onPrimitive(r.event);
        else this.onEnd(r.event);
        if (this.errors >= this.maxErrors) {
          complete = false;
          break;
        }
      }
      if (this.values === 0 && complete) {
        this.path = [];
        this.report('X690_EMPTY', 'error', r.offset, 'input holds no BER value', 'at least one value', 'end of input');
      }
    } catch (e) {
      const code = readerFailureCode(e);
      if (code === undefined || !isVmsError(e)) throw e;
      this.path = e.path;
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

  private onStart(ev: BerEvent): void {
    this.values++;
    this.path = undefined;
    this.checkHeader(ev);
    const d = ev.depth;
    const parentSegment = d > 0 ? this.segments[d - 1]! : 0;
    let mySegment = 0;
    if (parentSegment !== 0) {
      // A constructed segment inside a constructed string: its own segments follow the same rule.
      if (this.checkSegmentTag(ev, parentSegment)) mySegment = parentSegment;
    } else if (ev.cls === TagClass.Universal) {
      const form = universalForm(ev.number);
      if (form === Form.Primitive) {
        this.report('X690_WRONG_FORM', 'error', ev.offset, `${ev.tagName} must be primitive`, 'the primitive form (bit 6 of the identifier clear)', 'constructed');
      } else if (form === Form.Either) {
        // X.690 8.6.4, 8.7.3 and the restricted-string clause: a constructed string is a series of segments.
        mySegment = segmentTag(ev.number);
        this.rootDepth = d;
        this.rootType = ev.number;
        this.bitPending = -1;
        this.root.begin(ev.number, ev.offset);
      }
    }
    this.segments[d] = mySegment;
  }

  private onEnd(ev: BerEvent): void {
    if (ev.depth !== this.rootDepth) return;
    this.path = undefined;
    if (this.rootType !== Universal.BitString) this.root.finish();
    this.rootDepth = -1;
  }

  private onPrimitive(ev: BerEvent): void {
    this.path = undefined;
    const first = ev.contentOffset === 0;
    const d = ev.depth;
    const parentSegment = d > 0 ? this.segments[d - 1]! : 0;
    const contentAt = ev.offset + ev.headerLength + ev.contentOffset;
    if (first) {
      this.values++;
      this.checkHeader(ev);
    }
    if (parentSegment !== 0) {
      if (first && !this.checkSegmentTag(ev, parentSegment)) return;
      if (parentSegment === Universal.BitString) {
        if (first) this.bitSegment(ev);
      } else {
        this.root.feed(ev.bytes, ev.start, ev.end, contentAt);
      }
      return;
    }
    if (ev.cls !== TagClass.Universal) return;
    const v = this.value;
    if (first) {
      if (universalForm(ev.number) === Form.Constructed) {
        this.report('X690_WRONG_FORM', 'error', ev.offset, `${ev.tagName} must be constructed`, 'the constructed form (bit 6 of the identifier set)', 'primitive');
      }
      v.begin(ev.number, ev.offset);
    }
    v.feed(ev.bytes, ev.start, ev.end, contentAt);
    if (ev.final) v.finish();
  }

  /** Identifier and length forms, common to every value (the schema validator reports the same). */
  private checkHeader(ev: BerEvent): void {
    if (headerMayBeLong(ev)) reportHeaderForms(ev, this.reportFn);
  }

  /** Returns false (after reporting) when a string segment has the wrong tag. */
  private checkSegmentTag(ev: BerEvent, expected: number): boolean {
    if (ev.cls === TagClass.Universal && ev.number === expected) return true;
    this.report('X690_SEGMENT', 'error', ev.offset, `a segment of a constructed ${tagName(0, this.rootType)} must be ${tagName(0, expected)}`,
      `${tagName(0, expected)} (X.690 ${expected === Universal.BitString ? '8.6.4' : this.rootType === Universal.OctetString ? '8.7.3.2' : 'restricted strings: as IMPLICIT OCTET STRING'})`, ev.tagName);
    return false;
  }

  /** X.690 8.6.4: each BIT STRING segment has an unused-bits octet; only the last may be non-zero. */
  private bitSegment(ev: BerEvent): void {
    if (this.bitPending >= 0) {
      const at = this.bitPending;
      const here = this.path;
      this.bitPending = -1;
      this.path = this.bitPendingPath;
      this.report('X690_BIT_STRING', 'error', at, 'only the last segment of a constructed BIT STRING may have unused bits (X.690 8.6.4.2)', '0 unused bits', String(this.bitPendingUnused));
      this.path = here;
    }
    if (ev.length === 0) {
      this.report('X690_BIT_STRING', 'error', ev.offset, 'BIT STRING segment has no unused-bits octet (X.690 8.6.2)', 'at least 1 contents octet', '0');
      return;
    }
    const unused = ev.bytes[ev.start]!;
    if (unused > 7) this.report('X690_BIT_STRING', 'error', ev.offset, 'BIT STRING unused-bits octet is above 7 (X.690 8.6.2.2)', '0..7', String(unused));
    else if (ev.length === 1 && unused !== 0) this.report('X690_BIT_STRING', 'error', ev.offset, 'an empty BIT STRING segment must have 0 unused bits (X.690 8.6.2.3)', '0', String(unused));
    else if (unused !== 0) {
      this.bitPending = ev.offset;
      this.bitPendingUnused = unused;
      this.bitPendingPath = this.reader.eventPath();
    }
  }

  private report(code: X690Code, severity: X690Severity, offset: number, message: string, expected?: string, actual?: string): void {
    if (severity === 'error') {
      if (this.errors >= this.maxErrors) return;
      this.errors++;
    } else {
      this.warnings++;
      if (this.warnings > this.maxWarnings) return;
    }
    const path = this.path ?? this.reader.eventPath();
    const excerpt = this.reader.excerpt(offset);
    const d: X690Diagnostic = {
      severity,
      code,
      offset,
      path,
      message,
      ...(expected !== undefined ? { expected } : {}),
      ...(actual !== undefined ? { actual } : {}),
      ...(excerpt !== undefined ? { excerpt } : {}),
    };
    this.diagnostics.push(d);
    this.onDiagnostic?.(d);
  }
}
