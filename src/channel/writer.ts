/**
 * The buffered write side of a channel (QEMU's QEMUFile for saving). It never looks at what
 * the bytes mean.
 *
 * Puts are synchronous and land in a chunk buffer; full chunks are queued and written to the
 * sink one at a time. Large runs (at least `zeroCopyThreshold` bytes) are queued by reference
 * without copying: the caller must not change them until `drain()` or `close()` resolves, as
 * QEMU requires of qemu_put_buffer_async ("should be available till it is sent").
 *
 * Backpressure: `needsDrain` turns true when queued bytes pass `highWaterMark`; producers
 * `await drain()` at a unit boundary (a section, a batch of pages). The first error sticks:
 * later puts are dropped and `drain`/`close` reject with it.
 */
import { VmsError } from '../errors.js';
import type { ByteSink } from './transport.js';

export interface WriterOptions {
  /** Size of each chunk handed to the sink, in bytes. Defaults to 256 KiB. */
  readonly chunkSize?: number;
  /** Queued bytes above which `needsDrain` is true. Defaults to 4 MiB. */
  readonly highWaterMark?: number;
  /** Runs of at least this many bytes are queued by reference. Defaults to 64 KiB. */
  readonly zeroCopyThreshold?: number;
  /** Bandwidth limit in bytes per second; 0 or absent = unlimited. */
  readonly bandwidth?: number;
}

export const DEFAULT_CHUNK_SIZE = 256 << 10;
export const DEFAULT_HIGH_WATER_MARK = 4 << 20;
export const DEFAULT_ZERO_COPY_THRESHOLD = 64 << 10;

const latin1Bytes = (s: string, out: Uint8Array, at: number): void => {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i) & 0xff;
};

export class ChannelWriter {
  private cur: Uint8Array;
  private dv: DataView;
  private pos = 0;
  private readonly chunkSize: number;
  private readonly highWaterMark: number;
  private readonly zeroCopyThreshold: number;
  private bandwidthLimit: number;
  /** Chunks waiting to be written, in order. */
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Spare chunk buffers, returned after their write completed. */
  private readonly spare: Uint8Array[] = [];
  private pumping: Promise<void> | undefined;
  private failure: VmsError | undefined;
  private accepted = 0;
  private written = 0;
  private throttleStart = 0;
  private throttleBytes = 0;
  private closed = false;
  private readonly sink: ByteSink;

  constructor(sink: ByteSink, options: WriterOptions = {}) {
    this.sink = sink;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.zeroCopyThreshold = options.zeroCopyThreshold ?? DEFAULT_ZERO_COPY_THRESHOLD;
    this.bandwidthLimit = options.bandwidth ?? 0;
    this.cur = this.newChunk();
    this.dv = new DataView(this.cur.buffer);
  }

  /** Bytes put so far (QEMU's qemu_file_transferred, counted at the producer). */
  get bytesPut(): number {
    return this.accepted + this.pos;
  }

  /** Bytes the sink has taken. */
  get bytesWritten(): number {
    return this.written;
  }

  /** Bytes put but not yet taken by the sink. */
  get pending(): number {
    return this.queuedBytes + this.pos;
  }

  /** True when the producer should `await drain()` before putting more. */
  get needsDrain(): boolean {
    return this.queuedBytes >= this.highWaterMark;
  }

  /** The sticky error, if the sink failed. */
  get error(): VmsError | undefined {
    return this.failure;
  }

  /** Changes the bandwidth limit (bytes/second, 0 = unlimited) from now on. */
  setBandwidth(bytesPerSecond: number): void {
    this.bandwidthLimit = bytesPerSecond;
    this.throttleStart = 0;
    this.throttleBytes = 0;
  }

  // ---- synchronous puts (big-endian, as QEMU's qemu_put_be*) ------------------------------

  u8(v: number): this {
    if (this.pos + 1 > this.cur.length) this.rotate();
    this.cur[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    if (this.pos + 2 > this.cur.length) this.rotate();
    this.dv.setUint16(this.pos, v, false);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    if (this.pos + 4 > this.cur.length) this.rotate();
    this.dv.setUint32(this.pos, v >>> 0, false);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    if (this.pos + 8 > this.cur.length) this.rotate();
    this.dv.setBigUint64(this.pos, BigInt.asUintN(64, v), false);
    this.pos += 8;
    return this;
  }

  /** A be64 from two be32 halves, for hot paths that avoid bigint. */
  u64Split(hi: number, lo: number): this {
    if (this.pos + 8 > this.cur.length) this.rotate();
    this.dv.setUint32(this.pos, hi >>> 0, false);
    this.dv.setUint32(this.pos + 4, lo >>> 0, false);
    this.pos += 8;
    return this;
  }

  i8(v: number): this {
    return this.u8(v & 0xff);
  }

  i16(v: number): this {
    return this.u16(v & 0xffff);
  }

  i32(v: number): this {
    return this.u32(v >>> 0);
  }

  i64(v: bigint): this {
    return this.u64(BigInt.asUintN(64, v));
  }

  /** A counted string: u8 length, then the bytes (latin1), no NUL. At most 255 bytes. */
  countedString(s: string): this {
    if (s.length > 255) {
      throw new VmsError('E_USAGE', `counted string of ${s.length} bytes is longer than 255`, { actual: s.slice(0, 40) });
    }
    if (this.pos + 1 + s.length > this.cur.length) this.rotate();
    this.cur[this.pos] = s.length;
    latin1Bytes(s, this.cur, this.pos + 1);
    this.pos += 1 + s.length;
    return this;
  }

  /**
   * Raw bytes. Small runs are copied into the chunk; runs of at least `zeroCopyThreshold`
   * go out by reference and must stay unchanged until `drain()`/`close()` resolves.
   */
  bytes(b: Uint8Array): this {
    const n = b.length;
    if (n >= this.zeroCopyThreshold) {
      this.ship();
      this.enqueue(b);
      return this;
    }
    let at = 0;
    while (this.pos + (n - at) > this.cur.length) {
      // Fill the current chunk to the brim so chunks stay full-sized, then continue.
      const room = this.cur.length - this.pos;
      this.cur.set(b.subarray(at, at + room), this.pos);
      this.pos += room;
      at += room;
      this.rotate();
    }
    this.cur.set(at === 0 ? b : b.subarray(at), this.pos);
    this.pos += n - at;
    return this;
  }

  /** `n` zero bytes (QEMU VMSTATE_UNUSED on save). */
  zeros(n: number): this {
    let left = n;
    while (left > 0) {
      if (this.pos === this.cur.length) this.rotate();
      const k = Math.min(left, this.cur.length - this.pos);
      this.cur.fill(0, this.pos, this.pos + k);
      this.pos += k;
      left -= k;
    }
    return this;
  }

  // ---- flushing and backpressure ------------------------------------------------------------

  /** Queues the partly filled chunk for writing (does not wait). */
  flush(): void {
    this.ship();
  }

  /**
   * Queues what is buffered and resolves once queued bytes are below the high-water mark
   * (and the bandwidth limit allows more). Rejects with the sticky error.
   */
  async drain(): Promise<void> {
    this.ship();
    while (this.queuedBytes >= this.highWaterMark && this.failure === undefined && this.pumping !== undefined) {
      await this.pumping;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Writes everything queued and resolves when the sink has taken it all. */
  async flushAll(): Promise<void> {
    this.ship();
    while (this.pumping !== undefined) await this.pumping;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Writes everything and closes the sink gracefully. */
  async close(): Promise<void> {
    if (this.closed) {
      if (this.failure !== undefined) throw this.failure;
      return;
    }
    await this.flushAll();
    this.closed = true;
    try {
      await this.sink.close();
    } catch (e) {
      this.fail(e);
      throw this.failure;
    }
  }

  /** Aborts: drops queued bytes, destroys the sink, and makes `err` (or E_CLOSED) sticky. */
  destroy(err?: unknown): void {
    if (this.failure === undefined) {
      this.failure = err === undefined ? new VmsError('E_CLOSED', 'channel destroyed') : toVmsError(err, this.written);
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.closed = true;
    this.sink.destroy(err instanceof Error ? err : undefined);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Ships the current chunk and starts a fresh one (puts call this when a value won't fit). */
  private rotate(): void {
    this.ship();
  }

  /** Chunk buffers this writer owns (and may reuse); caller buffers sent by reference never are. */
  private readonly owned = new WeakSet<ArrayBufferLike>();

  private newChunk(): Uint8Array {
    const c = new Uint8Array(this.chunkSize);
    this.owned.add(c.buffer);
    return c;
  }

  private ship(): void {
    if (this.pos === 0) return;
    this.enqueue(this.cur.subarray(0, this.pos));
    const next = this.spare.pop() ?? this.newChunk();
    this.cur = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.pos = 0;
  }

  private enqueue(chunk: Uint8Array): void {
    this.accepted += chunk.length;
    if (this.failure !== undefined || this.closed) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.pumping === undefined) this.pumping = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === undefined) {
        const chunk = this.queue.shift()!;
        await this.throttle(chunk.length);
        await this.sink.write(chunk);
        this.written += chunk.length;
        this.queuedBytes -= chunk.length;
        if (this.owned.has(chunk.buffer) && this.spare.length < 4) {
          this.spare.push(new Uint8Array(chunk.buffer));
        }
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.pumping = undefined;
    }
  }

  private async throttle(n: number): Promise<void> {
    const limit = this.bandwidthLimit;
    if (limit <= 0) return;
    const now = performance.now();
    if (this.throttleStart === 0) this.throttleStart = now;
    this.throttleBytes += n;
    const due = this.throttleStart + (this.throttleBytes / limit) * 1000;
    // Charge the chunk before sending it, so the average rate never exceeds the limit.
    const wait = due - now - (n / limit) * 1000;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }

  private fail(e: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = toVmsError(e, this.written);
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

function toVmsError(e: unknown, offset: number): VmsError {
  if (e instanceof VmsError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new VmsError('E_IO', `write failed: ${msg}`, { offset, cause: e });
}
