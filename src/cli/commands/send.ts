/**
 * `vmstream send FILE URI`: migrates a saved stream into a destination, e.g. a QEMU started
 * with `-incoming tcp:HOST:PORT`. The bytes go as they are (after a check of the magic).
 */
import { Command } from 'commander';
import { openSink, openSource } from '../../channel/open.js';
import { ChannelReader } from '../../channel/reader.js';
import { parseChannelUri } from '../../channel/uri.js';
import { ChannelWriter } from '../../channel/writer.js';
import { VmsError } from '../../errors.js';
import { action, toJson, usageExits } from '../util.js';
import { mib, numArg, tlsOptions } from './migrate.js';

export interface SendResult {
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly throughputMBps: number;
}

/** Copies a stream file into `uri`, optionally at most `bandwidth` bytes/second. */
export async function sendFile(file: string, uri: string, o: { tlsCreds?: string; bandwidth?: number } = {}): Promise<SendResult> {
  const a = parseChannelUri(uri);
  const r = new ChannelReader(await openSource(parseChannelUri(file)));
  const started = performance.now();
  try {
    const magic = await r.retry(() => r.u32());
    if (magic !== 0x5145564d && magic !== 0x7fd6cd53) {
      throw new VmsError('E_FORMAT', `${file} is not a migration stream`, { offset: 0, expected: 'magic 51 45 56 4d or 7f d6 cd 53', actual: `0x${magic.toString(16)}` });
    }
    const sink = await openSink(a, a.kind === 'tls' ? tlsOptions(o.tlsCreds, 'client') : {});
    const w = new ChannelWriter(sink, { bandwidth: o.bandwidth ?? 0 });
    try {
      w.u32(magic);
      const n = await r.forEachChunkToEnd(async (chunk) => {
        w.bytesCopy(chunk);
        if (w.needsDrain) await w.drain();
      });
      await w.close();
      const ms = performance.now() - started;
      return { bytes: n + 4, elapsedMs: ms, throughputMBps: (n + 4) / 1e3 / ms };
    } catch (e) {
      w.destroy(e);
      throw e;
    }
  } finally {
    await r.close();
  }
}

export function sendCommand(): Command {
  const cmd = new Command('send')
    .description('migrate a saved stream FILE into URI (e.g. a QEMU started with -incoming tcp:HOST:PORT)')
    .argument('<file>', 'the stream (- = stdin)')
    .argument('<uri>', 'tcp:HOST:PORT, unix:PATH, tls:HOST:PORT, exec:CMD or file:PATH')
    .option('--max-bandwidth <MB/s>', 'bandwidth limit in MB/s (0 = unlimited)', numArg, 0)
    .option('--tls-creds <dir>', 'for tls:, a directory with ca-cert.pem, client-cert.pem, client-key.pem')
    .option('--json', 'print the result as JSON', false);
  return usageExits(cmd).action(
    action(
      async (file: string, uri: string, o: { maxBandwidth: number; tlsCreds?: string; json: boolean }) => {
        const r = await sendFile(file, uri, { bandwidth: o.maxBandwidth * 1e6, ...(o.tlsCreds !== undefined ? { tlsCreds: o.tlsCreds } : {}) });
        if (o.json) process.stdout.write(`${toJson({ status: 'completed', ...r })}\n`);
        else process.stderr.write(`sent ${mib(r.bytes)} in ${Math.round(r.elapsedMs)} ms (${r.throughputMBps.toFixed(1)} MB/s)\n`);
      },
      (_f: string, _u: string, o: { json: boolean }) => o.json,
    ),
  );
}
