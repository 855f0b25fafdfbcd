/**
 * Adapters from Node streams (sockets, pipes, stdio) to ByteSource / ByteSink, with bounded
 * buffering in both directions.
 */
import type { Readable, Writable } from 'node:stream';
import { VmsError } from '../../errors.js';
import { ioError } from '../io-error.js';
import type { ChunkLendingSource } from '../reader.js';
import type { ByteSink } from '../transport.js';

/** Unread bytes a stream source queues before it pauses the stream. Defaults to 1 MiB. */
export const DEFAULT_MAX_QUEUED = 1 << 20;

const EMPTY = new Uint8Array(0);

export interface ReadableSourceOptions {
  /** Queued unread bytes above which the stream is paused (backpressure). Defaults to 1 MiB. */
  readonly maxQueued?: number;
  /** Words for error messages ("tcp:host:port"). */
  readonly name?: string;
  /** Runs when the source is closed, instead of destroying the stream. */
  readonly onClose?: () => void | Promise<void>;
}

/**
 * What a socket or pipe source knows of its stream's end: a clean end, or the first failure
 * (an error, or a close before the end), and the one reader waiting for either or for data.
 */
export class StreamWatch {
  private ended = false;
  private failure: VmsError | undefined;
  private waiter: (() => void) | undefined;

  constructor(stream: Readable, name: string) {
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stream.on('error', (e) => {
      this.failure ??= ioError(e, `reading ${name}`);
      this.wake();
    });
    stream.on('close', () => {
      if (!this.ended) this.failure ??= new VmsError('E_IO', `${name} closed before the end of the stream`);
      this.wake();
    });
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Waits until `ready()`; resolves false instead at a clean end with nothing ready. Throws
   * the stream's failure, or E_CLOSED once `closed()`.
   */
  async until(ready: () => boolean, closed: () => boolean, name: string): Promise<boolean> {
    while (!ready()) {
      if (closed()) throw new VmsError('E_CLOSED', `${name} is closed`);
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return false;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return true;
  }

  /** Wakes the waiting reader (data arrived, or the source was closed). */
  wake(): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w();
    }
  }
}

/**
 * Reads a Node Readable in flowing mode into a queue of chunks, pausing the stream while
 * more than `maxQueued` bytes wait unread, so a slow reader stops the peer (TCP window,
 * full pipe) instead of growing memory. `read()` copies from the queue into the caller's
 * buffer; `readView()` hands out the queued chunks themselves (Node gives each read its own
 * buffer and never writes it again), so a ChannelReader reads them in place.
 */
export class ReadableSource implements ChunkLendingSource {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  private queued = 0;
  private peak = 0;
  private closed = false;
  private readonly watch: StreamWatch;
  private readonly maxQueued: number;
  private readonly name: string;
  private readonly onClose: (() => void | Promise<void>) | undefined;

  constructor(
    private readonly stream: Readable,
    options: ReadableSourceOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.name = options.name ?? 'stream';
    this.onClose = options.onClose;
    this.watch = new StreamWatch(stream, this.name);
    stream.on('data', (c: Uint8Array) => {
      if (this.closed) return; // discarding: a closed source still drains so the peer is not stuck
      this.chunks.push(c);
      this.queued += c.length;
      if (this.queued > this.peak) this.peak = this.queued;
      if (this.queued >= this.maxQueued) stream.pause();
      this.watch.wake();
    });
  }

  /** Bytes received and not yet read. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** The most bytes ever queued unread (for tests and stats). */
  get peakQueuedBytes(): number {
    return this.peak;
  }

  async read(into: Uint8Array): Promise<number> {
    if (!(await this.watch.until(this.hasData, this.isClosed, this.name))) return 0;
    let n = 0;
    while (n < into.length && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(into.length - n, c.length - this.head);
      into.set(c.subarray(this.head, this.head + k), n);
      n += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.queued -= n;
    if (this.queued < this.maxQueued && this.stream.isPaused() && !this.watch.isEnded) this.stream.resume();
    return n;
  }

  async readView(): Promise<Uint8Array> {
    if (!(await this.watch.until(this.hasData, this.isClosed, this.name))) return EMPTY;
    const c = this.chunks.shift()!;
    // A plain Uint8Array view: Buffer's own subarray is slower on the reader's hot path.
    const v = new Uint8Array(c.buffer, c.byteOffset + this.head, c.length - this.head);
    this.head = 0;
    this.queued -= v.length;
    if (this.queued < this.maxQueued && this.stream.isPaused() && !this.watch.isEnded) this.stream.resume();
    return v;
  }

  /** Stops reading: drops what is queued and discards anything that still arrives. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.chunks.length = 0;
    this.queued = 0;
    this.watch.wake();
    if (this.onClose !== undefined) {
      this.stream.resume();
      await this.onClose();
    } else {
      this.stream.destroy();
    }
  }

  private readonly hasData = (): boolean => this.queued > 0;
  private readonly isClosed = (): boolean => this.closed;
}

export interface WritableSinkOptions {
  /** Words for error messages. */
  readonly name?: string;
  /** How `close()` finishes: 'end' ends the stream and waits for 'finish'; 'flush' only waits for queued writes (stdout). Defaults to 'end'. */
  readonly closeMode?: 'end' | 'flush';
  /** Runs after the stream finished (in `close()`), e.g. to release a shared socket. */
  readonly afterClose?: () => void | Promise<void>;
  /** Runs on `destroy()` instead of destroying the stream. */
  readonly onDestroy?: (err?: Error) => void;
}

/**
 * Writes to a Node Writable one chunk at a time. `write()` resolves once Node has called the
 * chunk's callback (sockets hand buffers to the kernel by reference, so only then may the
 * channel reuse the memory) and, if `write()` returned false, once 'drain' came.
 */
export class WritableSink implements ByteSink {
  private failure: VmsError | undefined;
  private closed = false;
  private readonly name: string;

  constructor(
    private readonly stream: Writable,
    private readonly options: WritableSinkOptions = {},
  ) {
    this.name = options.name ?? 'stream';
    // An 'error' with no listener would crash the process; record it instead.
    stream.on('error', (e) => {
      this.failure ??= ioError(e, `writing ${this.name}`);
    });
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new VmsError('E_CLOSED', `${this.name} is closed`));
    const stream = this.stream;
    return new Promise<void>((resolve, reject) => {
      let written = false;
      let drained = true;
      const cleanup = (): void => {
        stream.off('drain', onDrain);
        stream.off('close', onClose);
      };
      const settle = (): void => {
        if (written && drained) {
          cleanup();
          resolve();
        }
      };
      const onDrain = (): void => {
        drained = true;
        settle();
      };
      const onClose = (): void => {
        cleanup();
        reject(this.failure ?? new VmsError('E_IO', `${this.name} closed while writing`));
      };
      stream.on('close', onClose);
      const ok = stream.write(chunk, (err) => {
        if (err) {
          cleanup();
          this.failure ??= ioError(err, `writing ${this.name}`);
          reject(this.failure);
          return;
        }
        written = true;
        settle();
      });
      if (!ok) {
        drained = false;
        stream.once('drain', onDrain);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.failure !== undefined) throw this.failure;
    const stream = this.stream;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => {
        stream.off('close', onClose);
        if (err) reject((this.failure ??= ioError(err, `closing ${this.name}`)));
        else resolve();
      };
      const onClose = (): void => done(this.failure ?? (stream.writableFinished ? null : new Error('closed before finishing')));
      stream.on('close', onClose);
      if (this.options.closeMode === 'flush') stream.write(new Uint8Array(0), (err) => done(err));
      else stream.end(() => done(this.failure ?? null));
    });
    await this.options.afterClose?.();
  }

  destroy(err?: Error): void {
    this.closed = true;
    if (this.options.onDestroy !== undefined) this.options.onDestroy(err);
    else this.stream.destroy(err);
  }
}
