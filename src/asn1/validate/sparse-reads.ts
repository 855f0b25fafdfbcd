/**
 * A seekable ByteSource whose reads start small after each seek and double while reading on.
 *
 * The validator seeks past OCTET STRING contents that nothing needs to see (RAM pages, when no
 * XER is written). A channel reader fills its whole buffer on every read, so after a seek it
 * would read megabytes of the very contents it is about to skip again; with this wrapper it
 * reads a few KiB (the headers up to the next long value), while a region without seeks (device
 * state) soon gets full-size reads again.
 */
import type { ByteSource } from '../../channel/transport.js';

/** First read after a seek, in bytes. */
export const SPARSE_FIRST_READ = 4 << 10;

/** `source` with small reads at first and after each seek; a source that cannot seek is returned as it is. */
export function sparseReads(source: ByteSource, firstRead = SPARSE_FIRST_READ): ByteSource {
  const seek = source.seek;
  if (seek === undefined || source.size === undefined) return source;
  // Small from the start too: the first long value may begin near the top of the file.
  let window = firstRead;
  return {
    size: source.size,
    read(into: Uint8Array): Promise<number> {
      if (into.length <= window) return source.read(into);
      const n = window;
      window *= 2;
      return source.read(into.subarray(0, n));
    },
    seek(position: number): void {
      seek.call(source, position);
      window = firstRead;
    },
    close(): Promise<void> {
      return source.close();
    },
  };
}
