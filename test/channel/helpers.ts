/** Shared helpers for the channel tests. */
import type { ByteSink, ByteSource } from '../../src/channel/transport.js';
import { VmsError, isVmsError, type VmsCode } from '../../src/errors.js';

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Asserts that `f` throws (or rejects with) a VmsError with `code`; returns it. */
export async function rejectsWith(f: () => unknown, code: VmsCode): Promise<VmsError> {
  let thrown: unknown;
  try {
    await f();
  } catch (e) {
    thrown = e;
  }
  if (!isVmsError(thrown)) throw new Error(`expected VmsError ${code}, got ${String(thrown)}`);
  if (thrown.code !== code) throw new Error(`expected ${code}, got ${thrown.code}: ${thrown.message}`);
  return thrown;
}

/** A source that hands out bytes in a given sequence of piece sizes (cycled). */
export class ChunkedSource implements ByteSource {
  private at = 0;
  private i = 0;
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly pieces: readonly number[],
  ) {
    this.size = bytes.length;
  }
  async read(into: Uint8Array): Promise<number> {
    const piece = this.pieces[this.i++ % this.pieces.length]!;
    const n = Math.min(into.length, piece, this.bytes.length - this.at);
    into.set(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return n;
  }
  async close(): Promise<void> {}
}

/** A sink that takes `delayMs` per write and records the largest chunk it saw. */
export class SlowSink implements ByteSink {
  total = 0;
  writes = 0;
  failAfter = Infinity;
  closed = false;
  destroyed = false;
  constructor(private readonly delayMs: number) {}
  async write(chunk: Uint8Array): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.total + chunk.length > this.failAfter) throw new Error('disk full');
    this.total += chunk.length;
    this.writes++;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
