/**
 * An in-memory byte pipe (sink → source) with backpressure, for migrating between two
 * machines in one process (tests, the bench's in-process mode). Written chunks are copied,
 * as the channel writer reuses its buffers once a write resolves.
 */
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { VmsError } from '../errors.js';

export interface Pipe {
  readonly sink: ByteSink;
  readonly source: ByteSource;
}

/** A pipe buffering at most `highWaterMark` bytes (defaults to 8 MiB) before writes wait. */
export function createPipe(highWaterMark = 8 << 20): Pipe {
  const chunks: Uint8Array[] = [];
  let head = 0;
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let readerWake: (() => void) | undefined;
  let writerWake: (() => void) | undefined;
  const wakeReader = (): void => {
    const f = readerWake;
    readerWake = undefined;
    f?.();
  };
  const wakeWriter = (): void => {
    const f = writerWake;
    writerWake = undefined;
    f?.();
  };
  const sink: ByteSink = {
    async write(chunk) {
      if (failure !== undefined) throw failure;
      if (ended) throw new VmsError('E_CLOSED', 'write after close');
      chunks.push(chunk.slice());
      queued += chunk.length;
      wakeReader();
      while (queued > highWaterMark && failure === undefined) await new Promise<void>((r) => (writerWake = r));
      if (failure !== undefined) throw failure;
    },
    async close() {
      ended = true;
      wakeReader();
    },
    destroy(err) {
      failure ??= err ?? new VmsError('E_CLOSED', 'pipe destroyed');
      wakeReader();
      wakeWriter();
    },
  };
  const source: ByteSource = {
    async read(into) {
      for (;;) {
        if (failure !== undefined) throw failure;
        if (queued > 0) break;
        if (ended) return 0;
        await new Promise<void>((r) => (readerWake = r));
      }
      let n = 0;
      while (n < into.length && head < chunks.length) {
        const c = chunks[head]!;
        const k = Math.min(c.length, into.length - n);
        into.set(k === c.length ? c : c.subarray(0, k), n);
        n += k;
        if (k === c.length) chunks[head++] = EMPTY;
        else chunks[head] = c.subarray(k);
      }
      if (head > 1024) {
        chunks.splice(0, head);
        head = 0;
      }
      queued -= n;
      if (queued <= highWaterMark) wakeWriter();
      return n;
    },
    async close() {
      failure ??= new VmsError('E_CLOSED', 'pipe closed by the reader');
      wakeWriter();
    },
  };
  return { sink, source };
}

const EMPTY = new Uint8Array(0);
