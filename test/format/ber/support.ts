/** Test helpers: encode with a BerWriter into memory, and decode into comparable event lines. */
import { ChannelReader, ChannelWriter, MemorySink, MemorySource, type ByteSource } from '../../../src/channel/index.js';
import { BerEventKind, BerReader, BerWriter, INDEFINITE, type BerReaderOptions } from '../../../src/format/ber/index.js';

export async function encode(build: (w: BerWriter) => void): Promise<Uint8Array> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink, { chunkSize: 64 });
  build(new BerWriter(out));
  await out.close();
  return sink.bytes();
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex'));

/** A source of unknown size that hands out at most `piece` bytes per read. */
export function streamSource(bytes: Uint8Array, piece = Number.MAX_SAFE_INTEGER): ByteSource {
  const src = new MemorySource(bytes, piece);
  return { read: (into) => src.read(into), close: () => src.close() };
}

export interface DecodeOptions extends BerReaderOptions {
  /** Feed the reader in pieces of this size from a source of unknown size. */
  readonly piece?: number;
  readonly bufferSize?: number;
}

/**
 * Decodes everything into one line per event; pieces of a long primitive are joined, so
 * any chunking of the same bytes yields the same lines.
 */
export async function events(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<string[]> {
  const ch =
    opts.piece === undefined
      ? new ChannelReader(bytes)
      : new ChannelReader(streamSource(bytes, opts.piece), { bufferSize: opts.bufferSize ?? 16 });
  const r = new BerReader(ch, opts);
  const out: string[] = [];
  let pending = '';
  for (;;) {
    let k = r.next();
    while (k === BerEventKind.NeedMore) {
      await r.more();
      k = r.next();
    }
    const e = r.event;
    const len = e.length === INDEFINITE ? 'inf' : String(e.length);
    if (k === BerEventKind.Done) return out;
    if (k === BerEventKind.Start) out.push(`S ${e.tagName} @${e.offset} h${e.headerLength} l=${len} d${e.depth} i${e.index}`);
    else if (k === BerEventKind.End) out.push(`E ${e.tagName} @${e.offset} end=${e.endOffset} d${e.depth}`);
    else {
      pending += hex(e.content);
      if (e.final) {
        out.push(`P ${e.tagName} @${e.offset} h${e.headerLength} l=${len} d${e.depth} i${e.index} ${pending}`);
        pending = '';
      }
    }
  }
}

/** Decodes to the end and returns the error it threw (or fails if none). */
export async function decodeError(bytes: Uint8Array | ByteSource, opts: BerReaderOptions = {}): Promise<unknown> {
  const ch = bytes instanceof Uint8Array ? new ChannelReader(bytes) : new ChannelReader(bytes, { bufferSize: 64 });
  const r = new BerReader(ch, opts);
  try {
    for (;;) if ((await r.read()) === BerEventKind.Done) break;
  } catch (e) {
    return e;
  }
  throw new Error('decoding succeeded but an error was expected');
}
