/**
 * A streaming BER pull parser over a ChannelReader. It accepts any valid BER (definite and
 * indefinite lengths, constructed strings, high tag numbers, long-form lengths with leading
 * zeros) and rejects anything it cannot frame, with the offset, the path and what it expected.
 *
 * `next()` is synchronous and returns an event kind; the details are in `reader.event`, one
 * object reused for every event (valid until the next call). When the buffered bytes run
 * out it returns `NeedMore`: `await reader.more()` and call `next()` again. `read()` does
 * that loop for callers who do not mind a promise per event.
 *
 *   Start      a constructed value begins (tag, length or INDEFINITE, offset, depth)
 *   Primitive  a primitive value, or one piece of a long one (contentOffset, final)
 *   End        the innermost constructed value ends (after its contents or its 00 00)
 *   Done       the source ended cleanly between top-level values
 *
 * Memory is bounded: nesting is tracked in flat arrays (no recursion, depth capped by
 * `maxDepth`); primitives up to `wholePrimitiveLimit` bytes arrive whole, longer ones in
 * pieces of whatever is buffered, never buffered whole.
 *
 * While the reader is working it holds the channel's buffered bytes as its window; call
 * `release()` before reading the channel directly, so the channel's position is the reader's.
 */
import { VmsError, type PathElement, type VmsCode } from '../../errors.js';
import type { ChannelReader } from '../../channel/reader.js';
import { HeaderStatus, newHeader, parseHeader } from './header.js';
import { INDEFINITE } from './length.js';
import { tagName } from './tag.js';

export const BerEventKind = {
  Start: 1,
  End: 2,
  Primitive: 3,
  NeedMore: 4,
  Done: 5,
} as const;
export type BerEventKind = (typeof BerEventKind)[keyof typeof BerEventKind];

export interface BerReaderOptions {
  /** Deepest nesting of constructed values accepted before E_LIMIT. Defaults to 1,000. */
  readonly maxDepth?: number;
  /** Primitives with at most this many content bytes are delivered in one event. Defaults to 64 KiB. */
  readonly wholePrimitiveLimit?: number;
  /**
   * Accept identifiers that use the high-tag-number form for numbers below 31, or start
   * their tag number with 0x80 (forbidden by X.690 8.1.2, but harmless to framing); the
   * event's `tagNonMinimal` flags them. Defaults to false (E_BER).
   */
  readonly allowNonMinimalTags?: boolean;
}

export const DEFAULT_MAX_DEPTH = 1000;
export const DEFAULT_WHOLE_PRIMITIVE_LIMIT = 64 << 10;

const EMPTY = new Uint8Array(0);

/** The reader's one event object. Fields not listed for a kind keep stale values. */
export class BerEvent {
  kind: BerEventKind = BerEventKind.Done;
  /** Class bits (TagClass). */
  cls = 0;
  number = 0;
  constructed = false;
  /** Contents length, or INDEFINITE (-1). */
  length = 0;
  /** Absolute offset of the identifier octets. */
  offset = 0;
  tagLength = 0;
  headerLength = 0;
  /** Enclosing constructed values (0 = top level). */
  depth = 0;
  /** Position among its siblings (0-based). */
  index = 0;
  /** The identifier broke X.690 8.1.2 (only with `allowNonMinimalTags`). */
  tagNonMinimal = false;
  /** Primitive: the buffer holding this piece of the contents, from `start` to `end` (shared, not a copy). */
  bytes: Uint8Array = EMPTY;
  start = 0;
  end = 0;
  /** Primitive: where this piece starts within the value's contents. */
  contentOffset = 0;
  /** Primitive: this piece is the last (always true for values up to `wholePrimitiveLimit`). */
  final = true;
  /** End: absolute offset just past the value (after its 00 00 when indefinite). */
  endOffset = 0;

  /** This piece of primitive contents as a view; shared, valid until the next `next()`. */
  get content(): Uint8Array {
    return this.bytes.subarray(this.start, this.end);
  }

  /** The tag in ASN.1 notation (`SEQUENCE`, `[APPLICATION 8914]`). */
  get tagName(): string {
    return tagName(this.cls, this.number);
  }
}

export class BerReader {
  /** The current event, reused (see BerEvent). */
  readonly event = new BerEvent();

  private readonly ch: ChannelReader;
  private readonly maxDepth: number;
  private readonly wholeLimit: number;
  private readonly allowNonMinimalTags: boolean;
  private readonly knownSize: number;
  private readonly hdr = newHeader();

  // The window: the channel's buffered bytes, taken whole so the hot loop indexes a plain array.
  private attached = false;
  private win: Uint8Array = EMPTY;
  /** Absolute offset of win[0]. */
  private winBase = 0;
  private p = 0;
  /** Bytes needed from the read position before `next()` can make progress. */
  private want = 1;

  // Open constructed values, one slot per depth (flat arrays: no recursion, no per-level objects).
  private depth = 0;
  private readonly fEnd: number[] = [];
  private readonly fLimit: number[] = [];
  private readonly fCls: number[] = [];
  private readonly fNum: number[] = [];
  private readonly fOffset: number[] = [];
  private readonly fHeader: number[] = [];
  private readonly fIndex: number[] = [];
  private readonly fChildren: number[] = [];
  private topCount = 0;

  // A long primitive being delivered in pieces.
  private primLeft = 0;
  private primDone = 0;

  private failure: VmsError | undefined;

  constructor(channel: ChannelReader, options: BerReaderOptions = {}) {
    this.ch = channel;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.wholeLimit = options.wholePrimitiveLimit ?? DEFAULT_WHOLE_PRIMITIVE_LIMIT;
    this.allowNonMinimalTags = options.allowNonMinimalTags ?? false;
    this.knownSize = channel.size ?? Number.MAX_SAFE_INTEGER;
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.attached ? this.winBase + this.p : this.ch.offset;
  }

  /** Number of open constructed values. */
  get openDepth(): number {
    return this.depth;
  }

  /**
   * Where the reader is: for each open constructed value, its tag name and the index of the
   * child being read (`['SEQUENCE', 2, '[APPLICATION 9040]', 0]`); the innermost index is
   * that of the next value, not yet read.
   */
  path(): PathElement[] {
    const out: PathElement[] = [];
    const last = this.depth - 1;
    for (let d = 0; d <= last; d++) {
      out.push(tagName(this.fCls[d]!, this.fNum[d]!), d === last ? this.fChildren[d]! : this.fChildren[d]! - 1);
    }
    return out;
  }

  /** The path to the current event's value: its ancestors' tag names and child indexes, ending with its own index. */
  eventPath(): PathElement[] {
    const out: PathElement[] = [];
    for (let d = 0; d < this.event.depth; d++) out.push(tagName(this.fCls[d]!, this.fNum[d]!), this.fChildren[d]! - 1);
    return out;
  }

  /** Reads the next event, waiting for bytes as needed (a promise per event: use `next()` in hot loops). */
  async read(): Promise<BerEventKind> {
    for (;;) {
      const k = this.next();
      if (k !== BerEventKind.NeedMore) return k;
      await this.more();
    }
  }

  /** Waits until the source has delivered what `next()` needs (or has ended). */
  async more(): Promise<void> {
    this.release();
    try {
      await this.ch.fill(this.want);
    } catch (e) {
      throw this.stick(this.located(e));
    }
    this.attach();
  }

  /** Gives the unread part of the window back to the channel, so the channel's offset is the reader's. */
  release(): void {
    if (!this.attached) return;
    this.ch.reset(this.winBase + this.p);
    this.attached = false;
    this.win = EMPTY;
    this.p = 0;
  }

  /**
   * A copy of the bytes around `offset` (up to `before` bytes before it and `after` from it),
   * when they are still in the reader's window; for diagnostics that show a hex excerpt.
   */
  excerpt(offset: number, before = 8, after = 16): { readonly offset: number; readonly bytes: Uint8Array } | undefined {
    if (!this.attached) return undefined;
    const rel = offset - this.winBase;
    if (rel < 0 || rel > this.win.length) return undefined;
    const from = Math.max(0, rel - before);
    return { offset: this.winBase + from, bytes: this.win.slice(from, Math.min(this.win.length, rel + after)) };
  }

  /** Skips the rest of a primitive being delivered in pieces (seeking when the source can). */
  async skipRest(): Promise<void> {
    if (this.primLeft === 0) return;
    const inWindow = Math.min(this.primLeft, this.win.length - this.p);
    this.p += inWindow;
    this.primLeft -= inWindow;
    if (this.primLeft === 0) return;
    this.release();
    const left = this.primLeft;
    try {
      await this.ch.skip(left);
    } catch (e) {
      throw this.stick(this.located(e));
    }
    this.primLeft = 0;
  }

  /** The next event; NeedMore when the buffered bytes are not enough (then `await more()`). */
  next(): BerEventKind {
    if (this.failure !== undefined) throw this.failure;
    if (!this.attached) this.attach();
    const ev = this.event;
    const win = this.win;
    const p = this.p;
    const avail = win.length - p;

    if (this.primLeft > 0) {
      // The next piece of a long primitive.
      if (avail === 0) return this.needMore(1);
      const k = avail < this.primLeft ? avail : this.primLeft;
      ev.kind = BerEventKind.Primitive;
      ev.bytes = win;
      ev.start = p;
      ev.end = p + k;
      ev.contentOffset = this.primDone;
      this.primDone += k;
      this.primLeft -= k;
      ev.final = this.primLeft === 0;
      this.p = p + k;
      return BerEventKind.Primitive;
    }

    const pos = this.winBase + p;
    const depth = this.depth;
    // The innermost definite ancestor's end bounds this value; with none, the stream's size does.
    let parentLimit = INDEFINITE;
    if (depth > 0) {
      const end = this.fEnd[depth - 1]!;
      // X.690 8.1.4: a definite-length value ends after exactly `length` contents octets.
      if (end === pos) return this.endConstructed(pos);
      parentLimit = this.fLimit[depth - 1]!;
    }
    const limit = parentLimit === INDEFINITE ? this.knownSize : parentLimit;

    if (avail === 0) {
      if (depth === 0 && (this.ch.sourceDone || pos >= this.knownSize)) return BerEventKind.Done;
      return this.needMore(1);
    }
    const room = limit - pos;
    const hdr = this.hdr;
    const h = parseHeader(win, p, room < avail ? p + room : win.length, hdr);
    if (h <= 0) {
      this.headerProblem(h, pos, room, avail, parentLimit !== INDEFINITE);
      return this.needMore(avail + 1);
    }

    // X.690 8.1.5 end-of-contents: [UNIVERSAL 0], primitive, length 0, exactly 00 00
    if (hdr.number === 0 && hdr.cls === 0) {
      if (h === 2 && !hdr.constructed && hdr.length === 0) {
        if (depth > 0 && this.fEnd[depth - 1] === INDEFINITE) {
          this.p = p + 2;
          return this.endConstructed(pos + 2);
        }
        this.fail('E_BER', depth === 0 ? 'end-of-contents outside any constructed value' : 'end-of-contents inside a definite-length value', pos, 'a value (00 00 closes only indefinite lengths)', '00 00');
      }
      this.fail('E_BER', 'tag [UNIVERSAL 0] is reserved for end-of-contents (00 00)', pos, 'a tag other than [UNIVERSAL 0]', hex(win, p, h));
    }
    if (hdr.tagNonMinimal && !this.allowNonMinimalTags) {
      this.fail('E_BER', 'identifier uses a needlessly long tag number form', pos, hdr.number < 31 ? 'one identifier octet for tag numbers below 31 (X.690 8.1.2.2)' : 'no leading 0x80 in the tag number (X.690 8.1.2.4.2)', hex(win, p, hdr.tagLength));
    }

    const length = hdr.length;
    const contentStart = pos + h;
    if (length === INDEFINITE) {
      if (!hdr.constructed) {
        this.fail('E_BER', `${tagName(hdr.cls, hdr.number)} is primitive but has an indefinite length`, pos, 'a definite length (X.690 8.1.3.2 a)', 'length octet 0x80');
      }
    } else if (length > limit - contentStart) {
      this.lengthPastLimit(pos, contentStart, limit, parentLimit !== INDEFINITE);
    }

    if (hdr.constructed) {
      if (depth >= this.maxDepth) {
        this.fail('E_LIMIT', 'constructed values nest too deeply', pos, `at most ${this.maxDepth} levels (maxDepth)`, `level ${depth + 1}`);
      }
      this.fillTag(ev, pos, h, depth);
      this.fEnd[depth] = length === INDEFINITE ? INDEFINITE : contentStart + length;
      this.fLimit[depth] = length === INDEFINITE ? parentLimit : contentStart + length;
      this.fCls[depth] = hdr.cls;
      this.fNum[depth] = hdr.number;
      this.fOffset[depth] = pos;
      this.fHeader[depth] = h;
      this.fIndex[depth] = ev.index;
      this.fChildren[depth] = 0;
      this.depth = depth + 1;
      ev.kind = BerEventKind.Start;
      this.p = p + h;
      return BerEventKind.Start;
    }

    if (length <= this.wholeLimit) {
      if (avail < h + length) return this.needMore(h + length);
      this.fillTag(ev, pos, h, depth);
      ev.kind = BerEventKind.Primitive;
      ev.bytes = win;
      ev.start = p + h;
      ev.end = p + h + length;
      ev.contentOffset = 0;
      ev.final = true;
      this.p = p + h + length;
      return BerEventKind.Primitive;
    }

    // Long primitive: commit the header and hand out the contents in buffered pieces.
    this.fillTag(ev, pos, h, depth);
    this.p = p + h;
    this.primLeft = length;
    this.primDone = 0;
    return this.next();
  }

  // ---- internals ----------------------------------------------------------------------------

  private attach(): void {
    this.winBase = this.ch.offset;
    this.win = this.ch.bytesView(this.ch.buffered);
    this.p = 0;
    this.attached = true;
  }

  private needMore(want: number): BerEventKind {
    if (this.ch.sourceDone) this.truncated();
    this.want = want;
    return BerEventKind.NeedMore;
  }

  private fillTag(ev: BerEvent, pos: number, h: number, depth: number): void {
    const hdr = this.hdr;
    ev.cls = hdr.cls;
    ev.number = hdr.number;
    ev.constructed = hdr.constructed;
    ev.length = hdr.length;
    ev.offset = pos;
    ev.tagLength = hdr.tagLength;
    ev.headerLength = h;
    ev.depth = depth;
    ev.tagNonMinimal = hdr.tagNonMinimal;
    ev.index = depth > 0 ? this.fChildren[depth - 1]!++ : this.topCount++;
  }

  private endConstructed(endOffset: number): BerEventKind {
    const d = --this.depth;
    const ev = this.event;
    ev.kind = BerEventKind.End;
    ev.cls = this.fCls[d]!;
    ev.number = this.fNum[d]!;
    ev.constructed = true;
    ev.offset = this.fOffset[d]!;
    ev.headerLength = this.fHeader[d]!;
    ev.length = this.fEnd[d] === INDEFINITE ? INDEFINITE : this.fEnd[d]! - this.fOffset[d]! - this.fHeader[d]!;
    ev.depth = d;
    ev.index = this.fIndex[d]!;
    ev.endOffset = endOffset;
    return BerEventKind.End;
  }

  /** Throws for a malformed or cut-off header; returns when more bytes may complete it. */
  private headerProblem(status: number, pos: number, room: number, avail: number, inDefiniteParent: boolean): void {
    const at = this.p;
    switch (status) {
      case HeaderStatus.TagTooLong:
        this.fail('E_LIMIT', 'tag number does not end or exceeds 2^53', pos, 'a tag number of at most 10 subsequent octets', hex(this.win, at, Math.min(avail, 11)));
        break;
      case HeaderStatus.LengthReserved:
        this.fail('E_BER', 'length octet 0xFF is reserved', pos, 'a short, long or indefinite length (X.690 8.1.3.5 c)', '0xff');
        break;
      case HeaderStatus.LengthTooLarge:
        this.fail('E_LIMIT', 'length is 2^53 or more', pos, 'a length below 2^53', hex(this.win, at, Math.min(avail, 12)));
        break;
      default:
        break;
    }
    // Short: the bytes end inside the header.
    if (room <= avail) {
      if (inDefiniteParent) {
        this.fail('E_BER', 'header runs past the end of its constructed parent', pos, `a header within the ${room} bytes left in the parent`, hex(this.win, at, room));
      }
      this.fail('E_TRUNCATED', 'stream ends inside a header', pos, 'a complete identifier and length', hex(this.win, at, room));
    }
    if (this.ch.sourceDone) {
      this.fail('E_TRUNCATED', 'stream ends inside a header', pos, 'a complete identifier and length', hex(this.win, at, avail));
    }
  }

  private lengthPastLimit(pos: number, contentStart: number, limit: number, inDefiniteParent: boolean): never {
    const hdr = this.hdr;
    const left = limit - contentStart;
    const what = `${tagName(hdr.cls, hdr.number)} length ${hdr.length}`;
    if (inDefiniteParent) {
      this.fail('E_BER', `${what} runs past the end of its constructed parent`, pos, `at most ${Math.max(0, left)} contents bytes`, `${hdr.length}`);
    }
    this.fail('E_TRUNCATED', `${what} runs past the end of the stream`, pos, `at most ${Math.max(0, left)} contents bytes (stream size ${this.knownSize})`, `${hdr.length}`);
  }

  private truncated(): never {
    const pos = this.winBase + this.p;
    if (this.primLeft > 0) {
      this.fail('E_TRUNCATED', `stream ends inside ${this.event.tagName} contents`, pos, `${this.primLeft} more contents bytes`, 'end of stream');
    }
    if (this.depth > 0 && this.fEnd[this.depth - 1] === INDEFINITE) {
      this.fail('E_TRUNCATED', 'stream ends inside an indefinite-length value', pos, 'end-of-contents 00 00', 'end of stream');
    }
    this.fail('E_TRUNCATED', 'stream ends inside a value', pos, 'more bytes', 'end of stream');
  }

  private fail(code: VmsCode, reason: string, offset: number, expected: string, actual: string): never {
    throw this.stick(new VmsError(code, reason, { offset, path: this.where(), expected, actual }));
  }

  /** Inside a long primitive's contents, the path to that value; between values, the next one's. */
  private where(): PathElement[] {
    return this.primLeft > 0 ? this.eventPath() : this.path();
  }

  /** A channel error (I/O, a buffer limit, a truncated skip) with the reader's path added. */
  private located(e: unknown): unknown {
    return e instanceof VmsError && e.path.length === 0 && this.depth > 0 ? e.within(...this.where()) : e;
  }

  private stick(e: unknown): unknown {
    if (e instanceof VmsError && this.failure === undefined) this.failure = e;
    return e;
  }
}

function hex(buf: Uint8Array, at: number, n: number): string {
  let s = '';
  const end = Math.min(buf.length, at + Math.max(0, n));
  for (let i = at; i < end; i++) s += (i > at ? ' ' : '') + buf[i]!.toString(16).padStart(2, '0');
  return s === '' ? '(nothing)' : s;
}
