/** In-memory transports: a source over bytes, and a sink that collects what is written. */
import type { ByteSink, ByteSource } from '../transport.js';

/** Reads from a byte array, optionally in pieces of at most `pieceSize` (to exercise refills). */
export class MemorySource implements ByteSource {
  private at = 0;
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly pieceSize = Number.MAX_SAFE_INTEGER,
  ) {
    this.size = bytes.length;
  }
  async read(into: Uint8Array): Promise<number> {
    const n = Math.min(into.length, this.bytes.length - this.at, this.pieceSize);
    into.set(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return n;
  }
  seek(position: number): void {
    this.at = position;
  }
  async close(): Promise<void> {}
}

/** Collects written chunks (copied, since the writer reuses its chunk buffers). */
export class MemorySink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  private total = 0;
  closed = false;
  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk.slice());
    this.total += chunk.length;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  destroy(): void {
    this.closed = true;
  }
  /** Everything written so far, as one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
