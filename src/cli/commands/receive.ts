/**
 * `vmstream receive URI`: the incoming side. With `-o FILE` it accepts a migration from QEMU
 * (or anything) and writes the stream as it arrives (`--to ber`: converted to BER on the
 * fly), then checks the file; with `--sample`
 * it receives a live migration into a sample machine, answers the source with an ACK and a
 * hash of the RAM and devices it committed. With `--sample`, `--prealloc` (the default)
 * allocates and touches the staging copy of guest RAM before listening, so incoming pages
 * cost no page faults on the migration's clock; `--no-prealloc` allocates it as pages arrive.
 * It also receives a small scratch migration first, so V8 has compiled the receiving code
 * when the real stream comes (`--no-warm-up` skips that).
 */
import { Command, Option } from 'commander';
import { listen, openSink, openSource } from '../../channel/open.js';
import { ChannelReader } from '../../channel/reader.js';
import type { ByteSink, ByteSource } from '../../channel/transport.js';
import { parseChannelUri } from '../../channel/uri.js';
import { ChannelWriter } from '../../channel/writer.js';
import { VmsError } from '../../errors.js';
import { MigrationDestination } from '../../migration/destination.js';
import { warmUpReceiving } from '../../migration/warm-up.js';
import { LiveSampleMachine } from '../../migration/live-machine.js';
import { StallGuardSource } from '../../migration/stall-guard.js';
import { readAnyStream } from '../../stream/ber/any.js';
import { BerStreamWriter } from '../../stream/ber/writer.js';
import { readStream } from '../../stream/reader.js';
import { action, toJson, usageExits } from '../util.js';
import { intArg, mib, tlsOptions } from './migrate.js';

/** Unread socket bytes queued before the incoming socket is paused (4 MiB; measured with bench/migration.ts). */
const INCOMING_MAX_QUEUED = 4 << 20;

export interface ReceiveOptions {
  readonly output?: string;
  readonly to: 'qemu' | 'ber';
  readonly sample: boolean;
  readonly ram: number;
  readonly prealloc: boolean;
  readonly warmUp: boolean;
  readonly tlsCreds?: string;
  readonly announce: boolean;
  readonly stallTimeout: number;
  readonly check: boolean;
  readonly json: boolean;
}

/** The incoming connection: accepted on tcp:/unix:/tls:, opened for exec:/file:/-. */
async function incoming(uri: string, o: ReceiveOptions): Promise<{ source: ByteSource; reply?: ByteSink; close(): Promise<void> }> {
  const a = parseChannelUri(uri);
  if (a.kind === 'tcp' || a.kind === 'unix' || a.kind === 'tls') {
    if (a.kind === 'tls' && o.tlsCreds === undefined) {
      throw new VmsError('E_USAGE', 'a tls: listener needs --tls-creds DIR', { expected: 'ca-cert.pem, server-cert.pem, server-key.pem' });
    }
    // A deeper socket queue than the 1 MiB default lets the kernel keep data flowing while we copy pages.
    const listener = await listen(a, { maxQueued: INCOMING_MAX_QUEUED, ...(a.kind === 'tls' ? tlsOptions(o.tlsCreds, 'server') : {}) });
    if (o.announce) process.stdout.write(`${JSON.stringify({ listening: listener.uri })}\n`);
    else process.stderr.write(`vmstream: listening on ${listener.uri}\n`);
    try {
      const conn = await listener.accept();
      return { source: conn.source, reply: conn.sink, close: async () => conn.sink.destroy() };
    } finally {
      await listener.close();
    }
  }
  const source = await openSource(a);
  return { source, close: () => source.close() };
}

/** Converts the incoming QEMU stream to BER as it arrives and writes it to `path`; returns the bytes written. */
async function toBer(source: ByteSource, path: string, stallTimeoutMs: number): Promise<number> {
  const w = new ChannelWriter(await openSink(parseChannelUri(path)));
  try {
    await readStream(new StallGuardSource(source, stallTimeoutMs), new BerStreamWriter(w));
    await w.close();
    return w.bytesPut;
  } catch (e) {
    w.destroy(e);
    throw e;
  }
}

/** Writes the incoming stream to `path` as it arrives; returns the byte count. */
async function passThrough(source: ByteSource, path: string, stallTimeoutMs: number): Promise<number> {
  const r = new ChannelReader(new StallGuardSource(source, stallTimeoutMs));
  const w = new ChannelWriter(await openSink(parseChannelUri(path)));
  try {
    const magic = await r.retry(() => r.u32());
    if (magic !== 0x5145564d) {
      throw new VmsError('E_FORMAT', 'not a QEMU migration stream', { offset: 0, expected: 'magic 51 45 56 4d', actual: `0x${magic.toString(16)}` });
    }
    w.u32(magic);
    const n = await r.forEachChunkToEnd(async (chunk) => {
      w.bytesCopy(chunk);
      if (w.needsDrain) await w.drain();
    });
    await w.close();
    return n + 4;
  } catch (e) {
    w.destroy(e);
    throw e;
  }
}

export function receiveCommand(): Command {
  const cmd = new Command('receive')
    .description('accept an incoming migration on URI: write it to a file (-o), or load it into the sample machine (--sample)')
    .argument('<uri>', 'tcp:HOST:PORT, unix:PATH, tls:HOST:PORT (listen), or exec:CMD, file:PATH, - (read)')
    .option('-o, --output <file>', 'write the stream to FILE (- = stdout)')
    .addOption(new Option('--to <format>', 'format of the written stream').choices(['qemu', 'ber']).default('qemu'))
    .option('--sample', 'receive into the built-in sample machine (a `vmstream migrate` source)', false)
    .option('--ram <MiB>', 'with --sample: guest RAM in MiB (must match the source)', intArg, 256)
    .option(
      '--prealloc',
      'with --sample: before listening, allocate and touch a staging copy of guest RAM, so incoming pages cost no page faults (as QEMU -mem-prealloc)',
      true,
    )
    .option('--no-prealloc', 'with --sample: allocate staging memory as pages arrive instead')
    .option('--no-warm-up', 'with --sample: do not receive a small scratch migration before listening (it has V8 compile the receiving code first)')
    .option('--tls-creds <dir>', 'for tls:, a directory with ca-cert.pem, server-cert.pem, server-key.pem (clients must present a certificate signed by the CA)')
    .option('--stall-timeout <ms>', 'fail when no byte arrives for this long', intArg, 10_000)
    .option('--no-check', 'with -o: do not walk the written file afterwards')
    .option('--announce', 'print {"listening": URI} on stdout once listening (for scripts)', false)
    .option('--json', 'print the result as JSON', false);
  return usageExits(cmd).action(
    action(
      async (uri: string, o: ReceiveOptions) => {
        if ((o.output === undefined) === !o.sample) {
          throw new VmsError('E_USAGE', 'give exactly one of -o FILE and --sample');
        }
        // The machine, its staging memory and the compiled receiving code are ready before we
        // listen: not on the migration's clock.
        const machine = o.sample ? new LiveSampleMachine({ ramMiB: o.ram }) : undefined;
        const dest =
          machine === undefined
            ? undefined
            : new MigrationDestination(machine, {
                stallTimeoutMs: o.stallTimeout,
                prealloc: o.prealloc,
                afterCommit: async () => ({ hash: await machine.hash() }),
              });
        if (dest !== undefined && o.warmUp) await warmUpReceiving();
        const conn = await incoming(uri, o);
        const started = performance.now();
        try {
          if (dest !== undefined) {
            const r = await dest.receive({ source: conn.source, ...(conn.reply !== undefined ? { reply: conn.reply } : {}) });
            const out = { status: 'completed', bytes: r.bytes, ramPages: r.ramPages, devices: r.devices, elapsedMs: Math.round(r.elapsedMs), ...(r.report as object) };
            process.stdout.write(o.json ? `${toJson(out)}\n` : `received ${mib(r.bytes)} in ${Math.round(r.elapsedMs)} ms: ${r.ramPages} pages, ${r.devices} devices; committed\n`);
            return;
          }
          const bytes = o.to === 'ber' ? await toBer(conn.source, o.output!, o.stallTimeout) : await passThrough(conn.source, o.output!, o.stallTimeout);
          const ms = performance.now() - started;
          let sections: number | undefined;
          if (o.check && o.output !== '-') {
            sections = 0;
            await readAnyStream(await openSource(parseChannelUri(o.output!)), { sectionEnd: () => void sections!++ }, { pageData: false });
          }
          const out = { status: 'completed', bytes, elapsedMs: Math.round(ms), throughputMBps: Math.round((bytes / 1e3 / ms) * 100) / 100, checked: o.check, sections };
          process.stderr.write(o.json ? '' : `received ${mib(bytes)} in ${Math.round(ms)} ms${sections !== undefined ? `, ${sections} sections checked` : ''}\n`);
          if (o.json) process.stdout.write(`${toJson(out)}\n`);
        } finally {
          await conn.close().catch(() => undefined);
        }
      },
      (_u: string, o: ReceiveOptions) => o.json,
    ),
  );
}
