/**
 * The buffered read side of a channel (QEMU's QEMUFile for loading). It never looks at what
 * the bytes mean.
 *
 * Primitives are synchronous and read from the buffer. When the buffer holds too few bytes
 * they throw the shared NEED_MORE sentinel (cheap, not an Error) while the source may still
 * deliver more, or a VmsError E_TRUNCATED once the source has ended. Callers decode a unit
 * (a device section, a RAM page record) synchronously and, on NEED_MORE, rewind to a mark,
 * `await more()`, and try again; `retry()` does exactly that. Hot loops test `has(n)` and
 * `await fill(n)` first so they never throw.
 *
 * E_TRUNCATED names the offset where the incomplete value starts. The first error from the
 * source (or E_LIMIT, or E_CLOSED after `close()`) is sticky: every later pull reports it.
 *
 * A source that lends its chunks (`ChunkLendingSource`: a socket's data arrives in fresh
 * buffers) is read in place: the reader's buffer is the lent chunk itself, and only a unit
 * that straddles two chunks is copied, with just as much of the next chunk as it needs.
 */
import { VmsError, isVmsError } from '../errors.js';
import type { ByteSource } from './transport.js';

/** Thrown by a primitive when the buffer is short and the source has not ended yet. */
export const NEED_MORE: unique symbol = Symbol('vmstream.NEED_MORE');

/**
 * A source that can lend the chunks it holds rather than copy them into the reader's buffer.
 * `readView()` resolves with the next bytes as a view; an empty view means the end. A view
 * stays valid until the source is asked for the chunk after the next one (a reader stitching
 * a unit across two chunks copies from the older after it has the newer); the source may
 * reuse its memory from then on. `read()` must still work.
 */
export interface ChunkLendingSource extends ByteSource {
  readView(): Promise<Uint8Array>;
}

/** True when `s` lends its chunks. */
export function lendsChunks(s: ByteSource): s is ChunkLendingSource {
  return typeof (s as Partial<ChunkLendingSource>).readView === 'function';
}

export interface ReaderOptions {
  /** Initial buffer size in bytes. Defaults to 1 MiB. */
  readonly bufferSize?: number;
  /**
   * Largest unit (bytes between a mark and the read position) the reader will buffer before
   * failing with E_LIMIT. Bounds memory on hostile input. Defaults to 256 MiB. A primitive
   * asking for more than this fails at once, before anything is buffered towards it.
   */
  readonly maxBuffer?: number;
  /** Read lent chunks in place when the source offers them (no copy). Defaults to true. */
  readonly borrowChunks?: boolean;
}

export const DEFAULT_READ_BUFFER = 1 << 20;
export const DEFAULT_MAX_BUFFER = 256 << 20;

const EMPTY = new Uint8Array(0);
/** Extra bytes of the next chunk a straddling unit gets on its second stitch (doubling after). */
const STITCH_SLACK = 4096;

export class ChannelReader {
  private buf: Uint8Array;
  private dv: DataView;
  /** Read position within buf. */
  private pos = 0;
  /** End of valid data within buf. */
  private end = 0;
  /** Absolute stream offset of buf[0]. */
  private base = 0;
  private sourceEnded: boolean;
  private failure: unknown = undefined;
  private closed = false;
  /** Largest unit the reader will buffer (see ReaderOptions.maxBuffer). */
  readonly maxBuffer: number;
  private readonly source: ByteSource | undefined;
  /** The reader's own buffer: `buf` unless a lent chunk is being read in place. */
  private own: Uint8Array;
  /** The source, when its chunks are read in place. */
  private readonly lender: ChunkLendingSource | undefined;
  /** The rest of a lent chunk of which a straddling unit took the start. */
  private lent: Uint8Array | undefined;
  /** Absolute offset a primitive needed to reach when it last ran short (how much a stitch must take). */
  private shortOf = 0;
  /** Where the last stitch started, and the slack it added: a unit stitched again at the same place gets more. */
  private stitchAt = -1;
  private stitchSlack = 0;

  /**
   * A reader over a transport, or over bytes already in memory (no copy: the bytes must not
   * change while they are read).
   */
  constructor(source: ByteSource | Uint8Array, options: ReaderOptions = {}) {
    if (source instanceof Uint8Array) {
      this.source = undefined;
      this.buf = source;
      this.end = source.length;
      this.sourceEnded = true;
      this.maxBuffer = Math.max(source.length, options.maxBuffer ?? DEFAULT_MAX_BUFFER);
    } else {
      this.source = source;
      this.sourceEnded = false;
      this.maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
      const size = Math.min(options.bufferSize ?? DEFAULT_READ_BUFFER, this.maxBuffer);
      if (!Number.isSafeInteger(size) || size < 1) {
        throw new VmsError('E_USAGE', 'reader bufferSize and maxBuffer must be positive integers', { actual: String(size) });
      }
      this.buf = new Uint8Array(size);
    }
    this.own = this.buf;
    this.lender = this.source !== undefined && options.borrowChunks !== false && lendsChunks(this.source) ? this.source : undefined;
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** A reader over bytes already in memory. */
  static fromBytes(bytes: Uint8Array): ChannelReader {
    return new ChannelReader(bytes);
  }

  /** Absolute stream offset of the next byte to read. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Bytes in the buffer, not yet read. */
  get buffered(): number {
    return this.end - this.pos;
  }

  /** True once the source has ended (more bytes may still be buffered). */
  get sourceDone(): boolean {
    return this.sourceEnded;
  }

  /** The first error this reader met, if any; every later call reports it again. */
  get error(): unknown {
    return this.failure;
  }

  /** Total size of the source, if it knows it. */
  get size(): number | undefined {
    return this.source === undefined ? this.end : this.source.size;
  }

  /** Bytes taken from the source so far (read or not). */
  get bytesReceived(): number {
    return this.base + this.end + (this.lent?.length ?? 0);
  }

  /** Bytes consumed so far; the same as `offset`. */
  get bytesRead(): number {
    return this.base + this.pos;
  }

  /** True when `n` bytes are buffered. */
  has(n: number): boolean {
    return this.end - this.pos >= n;
  }

  // ---- synchronous primitives (big-endian, as QEMU's qemu_get_be*) -------------------------

  u8(): number {
    if (this.end - this.pos < 1) this.short(1);
    return this.buf[this.pos++]!;
  }

  /** The next byte without consuming it. */
  peekU8(): number {
    if (this.end - this.pos < 1) this.short(1);
    return this.buf[this.pos]!;
  }

  /** The byte `ahead` bytes past the read position, without consuming anything. */
  peekAt(ahead: number): number {
    if (this.end - this.pos < ahead + 1) this.short(ahead + 1);
    return this.buf[this.pos + ahead]!;
  }

  u16(): number {
    if (this.end - this.pos < 2) this.short(2);
    const v = this.dv.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (this.end - this.pos < 4) this.short(4);
    const v = this.dv.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    if (this.end - this.pos < 8) this.short(8);
    const v = this.dv.getBigUint64(this.pos, false);
    this.pos += 8;
    return v;
  }

  i8(): number {
    if (this.end - this.pos < 1) this.short(1);
    return this.dv.getInt8(this.pos++);
  }

  i16(): number {
    if (this.end - this.pos < 2) this.short(2);
    const v = this.dv.getInt16(this.pos, false);
    this.pos += 2;
    return v;
  }

  i32(): number {
    if (this.end - this.pos < 4) this.short(4);
    const v = this.dv.getInt32(this.pos, false);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    if (this.end - this.pos < 8) this.short(8);
    const v = this.dv.getBigInt64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /**
   * A be64 as two be32 halves, for hot paths (RAM page headers) that would rather not make
   * a bigint per page. Returns the high word; the low word is in `lastLow`.
   */
  u64Split(): number {
    if (this.end - this.pos < 8) this.short(8);
    const hi = this.dv.getUint32(this.pos, false);
    this.lastLow = this.dv.getUint32(this.pos + 4, false);
    this.pos += 8;
    return hi;
  }
  /** Low 32 bits of the last `u64Split()`. */
  lastLow = 0;

  /** A counted string: u8 length, then that many bytes, no NUL (section idstrs, block names). */
  countedString(): string {
    if (this.end - this.pos < 1) this.short(1);
    const n = this.buf[this.pos]!;
    if (this.end - this.pos < 1 + n) this.short(1 + n);
    const s = latin1String(this.buf, this.pos + 1, n);
    this.pos += 1 + n;
    return s;
  }

  /**
   * A view of the next `n` bytes. Shared: valid only until the next `fill`/`more`/`retry`
   * call, which may move the buffer. Copy it (`bytesCopy`) to keep it.
   */
  bytesView(n: number): Uint8Array {
    if (!(this.end - this.pos >= n && n > 0 && (n | 0) === n)) {
      if (n === 0) return EMPTY;
      checkLength(n, 'byte run', this.base + this.pos);
      this.short(n);
    }
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A copy of the next `n` bytes, owned by the caller. */
  bytesCopy(n: number): Uint8Array {
    return this.bytesView(n).slice();
  }

  /** Skips `n` buffered bytes. */
  skipBuffered(n: number): void {
    if (!(this.end - this.pos >= n && n >= 0 && (n | 0) === n)) {
      checkLength(n, 'skip', this.base + this.pos);
      this.short(n);
    }
    this.pos += n;
  }

  // ---- marks: rewind after NEED_MORE ------------------------------------------------------

  /**
   * The current position, to return to with `reset`. Valid until a pull from the source
   * (`fill`, `more`, `skip`, `forEachChunk`) discards the bytes before the read position.
   */
  mark(): number {
    return this.base + this.pos;
  }

  /** Returns the read position to a mark that is still buffered. */
  reset(mark: number): void {
    const p = mark - this.base;
    if (!(p >= 0 && p <= this.end)) {
      throw new VmsError('E_USAGE', 'reader mark is no longer buffered', { offset: mark });
    }
    this.pos = p;
  }

  /**
   * Runs `decode` synchronously; if it runs out of buffered bytes (NEED_MORE), rewinds to
   * where it started, pulls more bytes and runs it again. The unit decoded must fit in
   * `maxBuffer`. `decode` must not have side effects before it returns.
   */
  async retry<T>(decode: () => T): Promise<T> {
    const start = this.mark();
    let ended = false;
    for (;;) {
      try {
        return decode();
      } catch (e) {
        if (e !== NEED_MORE) throw e;
        this.reset(start);
        // A decoder that rethrows NEED_MORE after the end must not spin.
        if (ended) await this.more();
        // At the end of the source, decode runs once more: its primitive names the cut value.
        ended = !(await this.pullMore());
      }
    }
  }

  // ---- pulling bytes from the source ------------------------------------------------------

  /**
   * Makes sure at least `n` bytes are buffered. Resolves true when they are, false when the
   * source ended first (the bytes that did arrive stay buffered). Fails with E_LIMIT when
   * `n` exceeds `maxBuffer`, before reading anything.
   */
  async fill(n: number): Promise<boolean> {
    while (!(this.end - this.pos >= n)) {
      if (this.failure !== undefined) throw this.failure;
      if (this.sourceEnded) return false;
      checkLength(n, 'fill', this.base + this.pos);
      await this.pull(n);
    }
    return true;
  }

  /** Pulls at least one more byte into the buffer; throws E_TRUNCATED if the source has ended. */
  async more(): Promise<void> {
    if (!(await this.pullMore())) {
      throw new VmsError('E_TRUNCATED', 'stream ends early', {
        offset: this.base + this.end,
        expected: 'more bytes',
        actual: 'the end of the stream',
      });
    }
  }

  /** Pulls at least one more byte; resolves false if the source ended first. */
  private async pullMore(): Promise<boolean> {
    const before = this.end - this.pos;
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.sourceEnded) return false;
      await this.pull(before + 1);
      if (this.end - this.pos > before) return true;
    }
  }

  /** True when every byte has been read and the source has ended. */
  async atEnd(): Promise<boolean> {
    if (this.end > this.pos) return false;
    if (this.sourceEnded) return true;
    await this.fill(1);
    return this.end === this.pos;
  }

  /**
   * Skips `n` bytes, reading through them (or seeking, when the source can and nothing of
   * them is buffered). Never buffers more than the read buffer holds.
   */
  async skip(n: number): Promise<void> {
    const start = this.base + this.pos;
    checkLength(n, 'skip', start);
    const inBuf = Math.min(n, this.end - this.pos);
    this.pos += inBuf;
    let left = n - inBuf;
    if (left === 0) return;
    if (this.failure !== undefined) throw this.failure;
    const src = this.source;
    if (src?.seek !== undefined && src.size !== undefined && !this.sourceEnded) {
      const target = this.base + this.pos + left;
      if (target > src.size) throw truncatedRun('skip', n, start, src.size - start);
      src.seek(target);
      this.lent = undefined;
      this.base = target;
      this.pos = 0;
      this.end = 0;
      return;
    }
    while (left > 0) {
      if (this.end === this.pos && !(await this.fill(1))) throw truncatedRun('skip', n, start, n - left);
      const k = Math.min(left, this.end - this.pos);
      this.pos += k;
      left -= k;
    }
  }

  /**
   * Passes the next `n` bytes to `sink` in pieces no larger than the buffer, without ever
   * holding them all (raw runs: RAM pages, opaque blobs, pass-through). Each piece is a
   * shared view valid only until `sink` returns (or its promise settles): a writer must
   * copy it (`ChannelWriter.bytesCopy`) or have written it by then.
   */
  async forEachChunk(n: number, sink: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
    const start = this.base + this.pos;
    checkLength(n, 'chunked run', start);
    let left = n;
    while (left > 0) {
      if (this.end === this.pos && !(await this.fill(1))) throw truncatedRun('run', n, start, n - left);
      const k = Math.min(left, this.end - this.pos);
      const r = sink(this.buf.subarray(this.pos, this.pos + k));
      this.pos += k;
      left -= k;
      if (r !== undefined) await r;
    }
  }

  /**
   * Like `forEachChunk`, but until the source ends: for pass-through copies of a whole
   * stream. Resolves with the number of bytes passed.
   */
  async forEachChunkToEnd(sink: (chunk: Uint8Array) => void | Promise<void>): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.end === this.pos && !(await this.fill(1))) return total;
      const k = this.end - this.pos;
      const r = sink(this.buf.subarray(this.pos, this.end));
      this.pos += k;
      total += k;
      if (r !== undefined) await r;
    }
  }

  /** Releases the source. Later pulls fail with E_CLOSED; bytes already buffered stay readable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lent = undefined;
    await this.source?.close();
  }

  // ---- internals ----------------------------------------------------------------------------

  /** The slow path of every primitive: sticky error, NEED_MORE, E_LIMIT or E_TRUNCATED. */
  private short(n: number): never {
    if (this.failure !== undefined) throw this.failure;
    const at = this.base + this.pos;
    if (!this.sourceEnded) {
      // A unit that can never fit fails now, before buffering towards it.
      if (n > this.maxBuffer) throw this.limit(n, at);
      this.shortOf = at + n;
      throw NEED_MORE;
    }
    const left = this.end - this.pos;
    throw new VmsError('E_TRUNCATED', 'stream ends early', {
      offset: at,
      expected: `${n} byte${n === 1 ? '' : 's'}`,
      actual: `${left} byte${left === 1 ? '' : 's'} before the end`,
    });
  }

  /** Makes E_LIMIT the sticky error: a stream that overran a limit cannot be resynchronised. */
  private limit(want: number, at: number): VmsError {
    const e = new VmsError('E_LIMIT', `a unit of ${want} bytes exceeds the reader's maxBuffer`, {
      offset: at,
      expected: `at most ${this.maxBuffer} bytes`,
      actual: `${want} bytes`,
    });
    this.failure = e;
    return e;
  }

  /** Reads from the source once, making room for `want` unread bytes first. */
  private async pull(want: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new VmsError('E_CLOSED', 'reader is closed', { offset: this.base + this.end });
    const src = this.source;
    if (src === undefined) {
      this.sourceEnded = true;
      return;
    }
    if (this.lender !== undefined) return this.pullLent(this.lender, want);
    this.makeRoom(want);
    let got: number;
    try {
      got = await src.read(this.buf.subarray(this.end));
    } catch (e) {
      throw this.readFailed(e);
    }
    if (got === 0) this.sourceEnded = true;
    else this.end += got;
  }

  private readFailed(e: unknown): unknown {
    this.failure = isVmsError(e)
      ? e.at(this.base + this.end)
      : new VmsError('E_IO', `read failed: ${e instanceof Error ? e.message : String(e)}`, {
          offset: this.base + this.end,
          cause: e,
        });
    return this.failure;
  }

  /**
   * `pull` from a lending source. With nothing unread, the next chunk becomes the buffer (no
   * copy). Otherwise a unit straddles two chunks: its start and as much of the next chunk as
   * it needs (what the short primitive asked for, plus growing slack if the same unit comes
   * back for more) are copied into our own buffer; the rest of the chunk waits in `lent`.
   */
  private async pullLent(src: ChunkLendingSource, want: number): Promise<void> {
    if (want > this.maxBuffer) throw this.limit(want, this.base + this.pos);
    let next = this.lent;
    this.lent = undefined;
    if (next === undefined) {
      try {
        next = await src.readView();
      } catch (e) {
        throw this.readFailed(e);
      }
      if (this.closed) throw new VmsError('E_CLOSED', 'reader is closed', { offset: this.base + this.end });
    }
    if (next.length === 0) {
      this.sourceEnded = true;
      return;
    }
    const unread = this.end - this.pos;
    const at = this.base + this.pos;
    if (unread === 0) {
      this.base = at;
      this.use(next, next.length);
      return;
    }
    if (at === this.stitchAt) this.stitchSlack = Math.max(STITCH_SLACK, this.stitchSlack * 2);
    else this.stitchSlack = 0;
    this.stitchAt = at;
    const target = Math.min(Math.max(want, this.shortOf - at) + this.stitchSlack, Math.max(this.maxBuffer, want));
    const take = Math.min(next.length, Math.max(1, target - unread));
    let own = this.own;
    if (own.length < unread + take) {
      let cap = Math.max(own.length, 4096);
      while (cap < unread + take) cap *= 2;
      own = new Uint8Array(cap);
      this.own = own;
    }
    if (this.buf === own) own.copyWithin(0, this.pos, this.end);
    else own.set(this.buf.subarray(this.pos, this.end), 0);
    own.set(take === next.length ? next : next.subarray(0, take), unread);
    if (take < next.length) this.lent = next.subarray(take);
    this.base = at;
    this.use(own, unread + take);
  }

  /** Reads `buf[0, end)` from now on. */
  private use(buf: Uint8Array, end: number): void {
    if (buf !== this.buf) {
      this.buf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = 0;
    this.end = end;
  }

  /**
   * Makes the buffer hold `want` bytes from the read position while keeping reads large:
   * resets an empty buffer for free, compacts when that is needed or cheap, and grows only
   * for a unit bigger than the buffer (never past `maxBuffer`).
   */
  private makeRoom(want: number): void {
    if (want > this.maxBuffer) throw this.limit(want, this.base + this.pos);
    const unread = this.end - this.pos;
    if (unread === 0 && this.pos > 0) {
      this.base += this.pos;
      this.pos = 0;
      this.end = 0;
    }
    const len = this.buf.length;
    const tail = len - this.end;
    // Enough room: keep it, unless the tail is small and moving the unread bytes costs less than the room it frees.
    if (len - this.pos >= want && tail > 0 && (tail >= len >>> 2 || this.pos < unread)) return;
    if (len >= want && this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
    } else {
      let cap = len;
      while (cap < want || cap <= unread) cap *= 2;
      cap = Math.min(cap, Math.max(this.maxBuffer, want));
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.pos, this.end));
      this.buf = next;
      this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
    }
    this.base += this.pos;
    this.end = unread;
    this.pos = 0;
  }
}

function truncatedRun(what: string, n: number, start: number, got: number): VmsError {
  return new VmsError('E_TRUNCATED', `stream ends early inside a ${what} of ${n} bytes`, {
    offset: start,
    expected: `${n} bytes`,
    actual: `${got} bytes before the end`,
  });
}

/**
 * Decodes a latin1 string of at most 255 bytes, one char per byte. Not TextDecoder('latin1'):
 * WHATWG maps that label to windows-1252, which turns 0x80..0x9f into other code points and
 * would not round-trip with the writer.
 */
function latin1String(buf: Uint8Array, at: number, n: number): string {
  if (n <= 16) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(buf[at + i]!);
    return s;
  }
  return String.fromCharCode.apply(null, buf.subarray(at, at + n) as unknown as number[]);
}

function checkLength(n: number, what: string, offset: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new VmsError('E_USAGE', `${what} length must be a non-negative integer`, { offset, actual: String(n) });
  }
}
