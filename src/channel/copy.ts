/** Pass-through copies from a reader to a writer (convert, tee, raw dumps). */
import type { ChannelReader } from './reader.js';
import type { ChannelWriter } from './writer.js';

/**
 * Copies `n` bytes (or, without `n`, everything up to the end of the source) from `reader`
 * to `writer`, honouring the writer's backpressure. Reading overlaps writing: each piece
 * is copied into the writer's chunks, so the reader can refill while the sink writes.
 * Does not flush or close the writer. Resolves with the number of bytes copied.
 */
export async function copyChannel(reader: ChannelReader, writer: ChannelWriter, n?: number): Promise<number> {
  const put = (chunk: Uint8Array): Promise<void> | undefined => {
    if (writer.error !== undefined) throw writer.error; // stop reading once the sink has failed
    writer.bytesCopy(chunk);
    return writer.needsDrain ? writer.drain() : undefined;
  };
  if (n === undefined) return reader.forEachChunkToEnd(put);
  await reader.forEachChunk(n, put);
  return n;
}
