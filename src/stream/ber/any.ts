/**
 * Reading a stream in either format: the first four bytes decide between QEMU's binary
 * reader and the BER reader, which emit the same StreamVisitor events. The bytes looked at
 * are replayed to the chosen reader, so pipes work as well as files.
 */
import type { ByteSource } from '../../channel/transport.js';
import { VmsError } from '../../errors.js';
import type { StreamVisitor } from '../events.js';
import { readStream, type StreamReaderOptions, type StreamSummary } from '../reader.js';
import { detectFormat, type StreamFormat } from './detect.js';
import { readBerStream, type BerStreamReaderOptions } from './reader.js';

export interface AnyStreamSummary extends StreamSummary {
  readonly format: StreamFormat;
}

/** Reads a QEMU or BER stream, whichever `source` holds, calling `visitor` for each item. */
export async function readAnyStream(
  source: ByteSource | Uint8Array,
  visitor: StreamVisitor,
  options: StreamReaderOptions & { readonly ber?: BerStreamReaderOptions } = {},
): Promise<AnyStreamSummary> {
  const { first, source: replay } = await peekSource(source, 4);
  const format = detectFormat(first);
  if (format === 'ber') {
    // The channel settings (read size, limits) apply to either format unless BER has its own.
    const s = await readBerStream(replay, visitor, {
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      ...(options.reader !== undefined ? { reader: options.reader } : {}),
      ...options.ber,
    });
    return { format, ...s };
  }
  if (format === undefined && first.length >= 4) {
    throw new VmsError('E_FORMAT', 'not a migration stream', { offset: 0, expected: 'QEVM (51 45 56 4D) or BER (7F D6 CD 53)', actual: hexBytes(first) });
  }
  // QEMU's reader reports its own errors for short or unknown input.
  return { format: 'qemu', ...(await readStream(replay, visitor, options)) };
}

/**
 * The first `n` bytes of `source` (fewer if it is shorter), and a source that yields every
 * byte from the start: a seekable source is rewound, any other replays what was read.
 */
export async function peekSource(source: ByteSource | Uint8Array, n: number): Promise<{ first: Uint8Array; source: ByteSource | Uint8Array }> {
  if (source instanceof Uint8Array) return { first: source.subarray(0, n), source };
  const head = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await source.read(head.subarray(got));
    if (k === 0) break;
    got += k;
  }
  const first = head.subarray(0, got);
  if (source.seek !== undefined) {
    source.seek(0);
    return { first, source };
  }
  let replayed = 0;
  const wrapped: ByteSource = {
    async read(into: Uint8Array): Promise<number> {
      if (replayed < got) {
        const k = Math.min(into.length, got - replayed);
        into.set(first.subarray(replayed, replayed + k));
        replayed += k;
        return k;
      }
      return source.read(into);
    },
    close: () => source.close(),
    ...(source.size !== undefined ? { size: source.size } : {}),
  };
  return { first, source: wrapped };
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
