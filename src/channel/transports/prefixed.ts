/**
 * Looking ahead at a source's first bytes (to tell a format) and reading it from the start
 * afterwards. Unlike a rewind this works on sockets, and it keeps the source's ability to
 * lend its chunks (see ChunkLendingSource), which a plain read-and-replay wrapper would hide.
 */
import { concatBytes } from '../bytes.js';
import { lendsChunks, type ChunkLendingSource } from '../reader.js';
import type { ByteSource } from '../transport.js';

/**
 * Reads at least `n` bytes of `source` (fewer only if it ends first). Resolves with them and a
 * source that yields every byte from the start: the bytes read ahead first, then the rest.
 */
export async function peekAhead(source: ByteSource, n: number): Promise<{ first: Uint8Array; source: ByteSource }> {
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    let part: Uint8Array;
    if (lendsChunks(source)) {
      part = await source.readView();
    } else {
      const into = new Uint8Array(n - got);
      part = into.subarray(0, await source.read(into));
    }
    if (part.length === 0) break;
    parts.push(part);
    got += part.length;
  }
  const ahead = parts.length === 1 ? parts[0]! : concatBytes(parts, got);
  return { first: ahead.subarray(0, Math.min(n, got)), source: got === 0 ? source : prefixed(ahead, source) };
}

/** `prefix`, then `inner`. */
function prefixed(prefix: Uint8Array, inner: ByteSource): ByteSource {
  let rest: Uint8Array | undefined = prefix;
  const base: ByteSource = {
    async read(into: Uint8Array): Promise<number> {
      if (rest === undefined) return inner.read(into);
      const k = Math.min(into.length, rest.length);
      into.set(rest.subarray(0, k));
      rest = k === rest.length ? undefined : rest.subarray(k);
      return k;
    },
    close: () => inner.close(),
    ...(inner.size !== undefined ? { size: inner.size } : {}),
  };
  if (!lendsChunks(inner)) return base;
  const lending: ChunkLendingSource = {
    ...base,
    async readView(): Promise<Uint8Array> {
      if (rest === undefined) return inner.readView();
      const v = rest;
      rest = undefined;
      return v;
    },
  };
  return lending;
}

