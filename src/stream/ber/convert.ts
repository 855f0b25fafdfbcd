/**
 * Conversion between QEMU's binary stream and the BER stream, both directions, in one pass:
 * the binary reader's events drive the BER writer, and the BER reader's events drive the
 * binary writer. QEMU → BER → QEMU gives back the identical bytes, trailer included.
 */
import type { ByteSink, ByteSource } from '../../channel/transport.js';
import { ChannelWriter, type WriterOptions } from '../../channel/writer.js';
import { VmsError } from '../../errors.js';
import { readStream, type StreamReaderOptions } from '../reader.js';
import { StreamWriter } from '../writer.js';
import { detectFormat, type StreamFormat } from './detect.js';
import { readBerStream, type BerStreamReaderOptions } from './reader.js';
import { BerStreamWriter, type BerStreamWriterOptions } from './writer.js';

export interface ConvertOptions {
  /** Options of the binary reader (QEMU input). */
  readonly qemu?: StreamReaderOptions;
  /** Options of the BER reader (BER input). */
  readonly berReader?: BerStreamReaderOptions;
  /** Options of the BER writer (BER output). */
  readonly berWriter?: BerStreamWriterOptions;
  readonly writer?: WriterOptions;
}

export interface ConvertResult {
  readonly from: StreamFormat;
  readonly to: StreamFormat;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** QEMU's binary stream → BER. Closes the sink when done. */
export async function qemuToBer(source: ByteSource | Uint8Array, sink: ByteSink, options: ConvertOptions = {}): Promise<ConvertResult> {
  const out = new ChannelWriter(sink, options.writer);
  const summary = await readStream(source, new BerStreamWriter(out, options.berWriter), { ...options.qemu, pageData: true });
  await out.close();
  return { from: 'qemu', to: 'ber', bytesIn: summary.bytes, bytesOut: out.bytesPut };
}

/** BER → QEMU's binary stream. Closes the sink when done. */
export async function berToQemu(source: ByteSource | Uint8Array, sink: ByteSink, options: ConvertOptions = {}): Promise<ConvertResult> {
  const out = new ChannelWriter(sink, options.writer);
  const summary = await readBerStream(source, new StreamWriter(out), options.berReader);
  await out.close();
  return { from: 'ber', to: 'qemu', bytesIn: summary.bytes, bytesOut: out.bytesPut };
}

/**
 * Converts `source` (either format, told by its first four bytes, `first`) to `to`. A
 * stream already in the target format is rewritten through its own reader and writer.
 */
export async function convertStream(
  source: ByteSource | Uint8Array,
  first: Uint8Array,
  to: StreamFormat,
  sink: ByteSink,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const from = detectFormat(first);
  if (from === undefined) {
    throw new VmsError('E_FORMAT', 'not a migration stream', { offset: 0, expected: 'QEVM (51 45 56 4D) or BER (7F D6 CD 53)', actual: hexBytes(first) });
  }
  const out = new ChannelWriter(sink, options.writer);
  const writer = to === 'ber' ? new BerStreamWriter(out, options.berWriter) : new StreamWriter(out);
  const bytesIn =
    from === 'qemu'
      ? (await readStream(source, writer, { ...options.qemu, pageData: true })).bytes
      : (await readBerStream(source, writer, options.berReader)).bytes;
  await out.close();
  return { from, to, bytesIn, bytesOut: out.bytesPut };
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
}
