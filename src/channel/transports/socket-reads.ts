/**
 * Reading a socket into our own memory. By default Node reads a socket 64 KiB at a time
 * into a fresh buffer per read, each pushed through the Readable machinery as a 'data' event.
 * Its `onread` option lets the kernel read straight into buffers we provide instead: up to
 * a whole slab per read, no allocation, no stream events. For a 539 MB stream over loopback
 * the receiving process's CPU fell from about 400 ms to about 120 ms (bench/migration.ts
 * scratch runs), and a migration destination spends most of its time receiving.
 *
 * `SlabSource` lends what the kernel wrote (see ChunkLendingSource) and recycles a slab once
 * nothing lent from it can still be read. `adoptAccepted` gives an accepted socket the
 * `onread` option, which Node offers only for sockets it creates itself.
 */
import * as net from 'node:net';
import { VmsError } from '../../errors.js';
import type { ChunkLendingSource } from '../reader.js';
import { StreamWatch } from './node-stream.js';

/** Bytes per slab: the most one read can take. */
const SLAB_BYTES = 1 << 20;
/** A read gets the rest of the current slab while at least this much is left. */
const MIN_READ_ROOM = 64 << 10;
/** Spare slabs kept for reuse; beyond these a released slab is left to the GC. */
const MAX_FREE_SLABS = 4;

const EMPTY = new Uint8Array(0);

interface Slab {
  readonly bytes: Uint8Array;
  /** Views of this slab queued or lent and not yet released. */
  views: number;
}

/** A view of a slab, with the slab it pins. */
interface SlabView {
  readonly slab: Slab;
  readonly view: Uint8Array;
}

export interface SlabSourceOptions {
  /** Unread bytes above which the socket is paused (backpressure). Defaults to 1 MiB. */
  readonly maxQueued?: number;
  /** Words for error messages ("tcp:host:port"). */
  readonly name?: string;
  /** Runs when the source is closed, instead of destroying the socket. */
  readonly onClose?: () => void | Promise<void>;
}

/**
 * A socket source over slabs the kernel reads into. A lent view stays valid until the
 * source is asked for the chunk after the next one: a ChannelReader that stitches a unit
 * across two chunks copies from the older one after it has the newer. Slabs are then reused,
 * so memory stays at about `maxQueued` plus three slabs.
 */
export class SlabSource implements ChunkLendingSource {
  private readonly queue: SlabView[] = [];
  private queued = 0;
  private peak = 0;
  /** The last two views handed out (older first): released when the next one goes out. */
  private lent: SlabView[] = [];
  private readonly free: Slab[] = [];
  private slab: Slab;
  /** Where the next read goes in `slab` (the region handed to Node starts there). */
  private fill = 0;
  private socket: net.Socket | undefined;
  private watch: StreamWatch | undefined;
  private paused = false;
  private closed = false;
  private readonly maxQueued: number;
  private readonly name: string;
  private readonly onClose: (() => void | Promise<void>) | undefined;

  /** The `onread` option for the socket this source reads. */
  readonly onread: net.OnReadOpts;

  constructor(options: SlabSourceOptions = {}) {
    this.maxQueued = options.maxQueued ?? 1 << 20;
    this.name = options.name ?? 'socket';
    this.onClose = options.onClose;
    this.slab = { bytes: new Uint8Array(SLAB_BYTES), views: 0 };
    this.onread = { buffer: () => this.nextRegion(), callback: (n) => this.received(n) };
  }

  /** Starts listening to the socket's end and errors; call once, right after creating it with `onread`. */
  attach(socket: net.Socket): void {
    this.socket = socket;
    this.watch = new StreamWatch(socket, this.name);
  }

  /** Bytes received and not yet read. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** The most bytes ever queued unread. */
  get peakQueuedBytes(): number {
    return this.peak;
  }

  async readView(): Promise<Uint8Array> {
    const next = await this.next();
    if (next === undefined) return EMPTY;
    this.queue.shift();
    this.queued -= next.view.length;
    this.lend(next);
    this.maybeResume();
    return next.view;
  }

  async read(into: Uint8Array): Promise<number> {
    const next = await this.next();
    if (next === undefined) return 0;
    const v = next.view;
    const n = Math.min(into.length, v.length);
    into.set(n === v.length ? v : v.subarray(0, n));
    if (n === v.length) {
      this.queue.shift();
      this.release(next.slab);
    } else {
      this.queue[0] = { slab: next.slab, view: v.subarray(n) };
    }
    this.queued -= n;
    this.maybeResume();
    return n;
  }

  /** Stops reading: drops what is queued and discards anything that still arrives. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.lent = [];
    this.queued = 0;
    this.watch?.wake();
    if (this.onClose !== undefined) {
      this.socket?.resume();
      await this.onClose();
    } else {
      this.socket?.destroy();
    }
  }

  /** The first queued view, waiting for one; undefined at the end of the stream. */
  private async next(): Promise<SlabView | undefined> {
    if (this.watch === undefined) throw new VmsError('E_USAGE', 'a slab source was read before attach()');
    return (await this.watch.until(this.hasData, this.isClosed, this.name)) ? this.queue[0] : undefined;
  }

  private readonly hasData = (): boolean => this.queue.length > 0;
  private readonly isClosed = (): boolean => this.closed;

  private lend(v: SlabView): void {
    if (this.lent.length === 2) this.release(this.lent.shift()!.slab);
    this.lent.push(v);
  }

  private release(slab: Slab): void {
    if (--slab.views === 0 && slab !== this.slab && this.free.length < MAX_FREE_SLABS) this.free.push(slab);
  }

  /** Node asks where the next read goes: the rest of the current slab, or a fresh one. */
  private nextRegion(): Uint8Array {
    if (SLAB_BYTES - this.fill < MIN_READ_ROOM) {
      // The slab is reused in place once nothing queued or lent from it remains; else another.
      if (this.slab.views > 0) this.slab = this.free.pop() ?? { bytes: new Uint8Array(SLAB_BYTES), views: 0 };
      this.fill = 0;
    }
    // No bigger than the room left under maxQueued (but one small read at least), so a read
    // overshoots the limit by at most MIN_READ_ROOM.
    const room = Math.max(MIN_READ_ROOM, this.maxQueued - this.queued);
    return this.slab.bytes.subarray(this.fill, Math.min(SLAB_BYTES, this.fill + room));
  }

  /**
   * Node read `n` bytes into the last region (it asks for the next one only after this).
   * Returns false to pause the socket.
   */
  private received(n: number): boolean {
    if (this.closed) return true; // discarding: a closed source still drains so the peer is not stuck
    const slab = this.slab;
    slab.views++;
    this.queue.push({ slab, view: slab.bytes.subarray(this.fill, this.fill + n) });
    this.fill += n;
    this.queued += n;
    if (this.queued > this.peak) this.peak = this.queued;
    this.watch?.wake();
    if (this.queued < this.maxQueued) return true;
    this.paused = true;
    return false;
  }

  private maybeResume(): void {
    if (this.paused && this.queued < this.maxQueued && this.watch?.isEnded !== true) {
      this.paused = false;
      this.socket?.resume();
    }
  }

}

/**
 * Moves an accepted socket's connection into a new Socket created with `onread`. Node gives
 * that option only to sockets it creates from a handle or an fd, not to accepted ones, so
 * this takes the accepted socket's handle (Node's internal `_handle`, which Node's own
 * cluster module hands around the same way) and retires the old Socket object. The socket
 * must come from a server made with `pauseOnConnect`, so that no read has started. Returns
 * undefined, having changed nothing, when this Node keeps no such handle: the caller then
 * reads the accepted socket as usual.
 */
export function adoptAccepted(accepted: net.Socket, onread: net.OnReadOpts): net.Socket | undefined {
  const handle: unknown = Reflect.get(accepted, '_handle');
  if (handle === null || typeof handle !== 'object' || typeof Reflect.get(handle, 'readStart') !== 'function') return undefined;
  // `onread` is missing from @types/node 20's SocketConstructorOpts, though Node 20 documents it there.
  const options: net.SocketConstructorOpts & { handle: object; onread: net.OnReadOpts } = { handle, onread, allowHalfOpen: true, readable: true, writable: true };
  const adopted = new net.Socket(options);
  // The old Socket lets go of the handle, then closes without touching the connection.
  Reflect.set(accepted, '_handle', null);
  accepted.destroy();
  return adopted;
}
