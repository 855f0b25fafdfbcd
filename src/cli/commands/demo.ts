/**
 * `vmstream demo`: the README's main command. By default a live migration: a destination
 * child process listens on loopback, a running sample machine (with a workload dirtying
 * pages at --dirty-rate) migrates into it with a live progress line, the destination's hash
 * of RAM and devices is checked against the source's at switch-over, and the statistics are
 * printed (--json: totalTimeMs, downtimeMs, transferredBytes, throughputMBps, iterations,
 * status...). Exits 1 on a mismatch.
 *
 * `--file` keeps the earlier demo: save the sample machine to a file (device sections with
 * the binary VMState visitor, RAM as pages), load it into a fresh machine, and compare.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { ChannelReader } from '../../channel/reader.js';
import { ChannelWriter } from '../../channel/writer.js';
import { FileSink, FileSource } from '../../channel/transports/file.js';
import { VmsError } from '../../errors.js';
import { freshMachine, generateMachine, loadMachine, machineDifferences, saveMachine } from '../../sample/index.js';
import { EXIT_BAD_STREAM, action, toJson, usageExits } from '../util.js';
import { demoOutput, intArg, numArg, runLiveDemo } from './migrate.js';

interface DemoOptions {
  seed: string;
  ramMib: string;
  out?: string;
  json?: boolean;
}

interface LiveOptions {
  file: boolean;
  ram: number;
  random: number;
  dirtyRate: number;
  maxBandwidth: number;
  downtimeLimit: number;
  maxIterations: number;
  progress: boolean;
  format: 'qemu' | 'ber';
  json?: boolean;
}

export function demoCommand(): Command {
  const cmd = new Command('demo')
    .description('live-migrate a running sample machine into a destination process on loopback and verify it (--file: save/load through a file)')
    .option('--ram <MiB>', 'live: guest RAM in MiB', intArg, 256)
    .option('--random <MiB>', 'live: MiB of that RAM filled with random bytes (the rest stays zero)', intArg, 128)
    .option('--dirty-rate <MB/s>', 'live: pages the running workload dirties per second, in MB', numArg, 50)
    .option('--max-bandwidth <MB/s>', 'live: bandwidth limit in MB/s (0 = unlimited)', numArg, 0)
    .option('--downtime-limit <ms>', 'live: longest acceptable downtime', numArg, 300)
    .option('--max-iterations <n>', 'live: switch over after this many passes even if not converged (0 = never)', intArg, 0)
    .option('--progress', 'live: print progress lines even when stderr is not a terminal', false)
    .addOption(new Option('--format <format>', 'live: wire format, QEMU binary or BER (the destination detects it)').choices(['qemu', 'ber']).default('qemu'))
    .option('--file', 'the file demo: save the sample machine to a file, load it back and compare', false)
    .option('--seed <n>', '--file: seed of the generated machine', '1')
    .option('--ram-mib <n>', '--file: size of the main RAM block in MiB', '4')
    .option('-o, --out <file>', '--file: keep the image at this path (default: a temporary file, removed)')
    .option('--json', 'print the result as JSON')
    .action(action(dispatch, (o: DemoOptions) => o.json === true));
  return usageExits(cmd);
}

async function dispatch(o: DemoOptions & LiveOptions): Promise<void> {
  if (o.file) return run(o);
  const r = await runLiveDemo({
    ram: o.ram,
    random: o.random,
    dirtyRate: o.dirtyRate,
    maxBandwidth: o.maxBandwidth,
    downtimeLimit: o.downtimeLimit,
    maxIterations: o.maxIterations,
    progress: o.progress,
    format: o.format,
    json: o.json === true,
  });
  process.stdout.write(o.json === true ? demoOutput(r, true) : colour(demoOutput(r, false), r.verified));
  if (!r.verified || r.stats.status !== 'completed') process.exitCode = EXIT_BAD_STREAM;
}

function colour(text: string, ok: boolean): string {
  return text.replace(/^verified: .*$/m, (line) => (ok ? pc.green(line) : pc.red(line)));
}

async function run(o: DemoOptions): Promise<void> {
  const seed = Number(o.seed);
  const ramMiB = Number(o.ramMib);
  if (!Number.isInteger(seed) || !Number.isInteger(ramMiB) || ramMiB < 1 || ramMiB > 4096) {
    throw new VmsError('E_USAGE', '--seed must be an integer and --ram-mib 1..4096');
  }
  const dir = o.out === undefined ? await mkdtemp(join(tmpdir(), 'vmstream-demo-')) : undefined;
  const path = o.out ?? join(dir!, 'machine.img');
  try {
    const source = generateMachine(seed, { ramMiB });
    const t0 = performance.now();
    const w = new ChannelWriter(await FileSink.open(path));
    const stats = await saveMachine(source, w);
    await w.close();
    const t1 = performance.now();
    const r = new ChannelReader(await FileSource.open(path));
    const loaded = await loadMachine(r, freshMachine({ ramMiB }));
    await r.close();
    const t2 = performance.now();
    const differences = machineDifferences(source, loaded);
    const mbps = (ms: number): number => Math.round((stats.bytes / (1 << 20) / (ms / 1000)) * 10) / 10;
    const ramBytes = source.ram.reduce((n, b) => n + b.bytes.length, 0);
    const result = {
      file: o.out ?? null,
      seed,
      bytes: stats.bytes,
      ramBytes,
      devices: stats.devices,
      pages: { zero: stats.zeroPages, raw: stats.rawPages },
      save: { ms: Math.round(t1 - t0), mbPerSecond: mbps(t1 - t0) },
      load: { ms: Math.round(t2 - t1), mbPerSecond: mbps(t2 - t1) },
      equal: differences.length === 0,
      differences,
    };
    if (o.json === true) {
      process.stdout.write(toJson(result, 2) + '\n');
    } else {
      const lines = [
        `sample machine (seed ${seed}): ${stats.devices.length} devices, ${source.ram.length} RAM blocks, ${(ramBytes / (1 << 20)).toFixed(1)} MiB`,
        ...stats.devices.map((d) => `  device ${d.idstr.padEnd(8)} ${d.bytes} bytes`),
        `  pages: ${stats.zeroPages} zero, ${stats.rawPages} raw`,
        `saved ${stats.bytes} bytes in ${result.save.ms} ms (${result.save.mbPerSecond} MB/s)${o.out === undefined ? '' : ` to ${o.out}`}`,
        `loaded into a fresh machine in ${result.load.ms} ms (${result.load.mbPerSecond} MB/s)`,
        result.equal ? pc.green('equal: the loaded machine matches') : pc.red(`MISMATCH:\n  ${differences.join('\n  ')}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    if (!result.equal) process.exitCode = EXIT_BAD_STREAM;
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
