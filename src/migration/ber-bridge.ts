/**
 * The BER wire format for live migration, bridged through the stream layer: the source
 * still writes QEMU's binary stream, which is converted to BER (schema/migration.asn1) on
 * its way to the transport; the destination converts an incoming BER stream back before
 * its loader sees it. Both conversions run concurrently with the migration, through an
 * in-memory pipe, with memory bounded by the pipe and the converters' page runs.
 */
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { ChannelWriter } from '../channel/writer.js';
import { readAnyStream } from '../stream/ber/any.js';
import { BerStreamWriter } from '../stream/ber/writer.js';
import { readStream } from '../stream/reader.js';
import { StreamWriter } from '../stream/writer.js';
import { createPipe } from './pipe.js';

/** A sink taking QEMU's binary stream and writing it to `sink` as BER. Its close() waits for the conversion. */
export function berEncodingSink(sink: ByteSink): ByteSink {
  const pipe = createPipe();
  const out = new ChannelWriter(sink);
  const done = readStream(pipe.source, new BerStreamWriter(out)).then(
    () => out.close(),
    (e: unknown) => {
      out.destroy(e);
      pipe.sink.destroy(e instanceof Error ? e : undefined);
      throw e;
    },
  );
  // Seen through write/close; keep an unobserved rejection from crashing the process.
  done.catch(() => undefined);
  return {
    write: (chunk) => pipe.sink.write(chunk),
    async close() {
      await pipe.sink.close();
      await done;
    },
    destroy(err) {
      pipe.sink.destroy(err);
      out.destroy(err);
    },
  };
}

/** A source yielding QEMU's binary stream, converted from the BER stream `source` carries. */
export function berDecodingSource(source: ByteSource): ByteSource {
  const pipe = createPipe();
  const w = new ChannelWriter(pipe.sink);
  void readAnyStream(source, new StreamWriter(w)).then(
    () => w.close(),
    (e: unknown) => {
      w.destroy(e);
      pipe.sink.destroy(e instanceof Error ? e : undefined);
    },
  );
  return {
    read: (into) => pipe.source.read(into),
    async close() {
      await pipe.source.close();
      await source.close();
    },
  };
}
