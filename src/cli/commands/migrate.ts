/**
 * `vmstream migrate URI`: live-migrates the built-in sample machine (with a workload dirtying
 * pages) to a destination: another vmstream (`vmstream receive URI --sample`) or anything
 * that accepts a QEMU stream. Also home of the live demo's driver (`runLiveDemo`), which
 * `vmstream demo` runs: a destination child process on loopback, a migration into it, and a
 * check that the destination's RAM and devices equal the source's at switch-over.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { openDuplex, openSink, type OpenOptions } from '../../channel/open.js';
import { parseChannelUri } from '../../channel/uri.js';
import { VmsError } from '../../errors.js';
import { LiveSampleMachine } from '../../migration/live-machine.js';
import { MigrationSource, type MigrationConnection } from '../../migration/source.js';
import type { MigrationStats } from '../../migration/stats.js';
import { action, toJson, usageExits } from '../util.js';

/** TLS credentials in QEMU's tls-creds-x509 directory layout. */
export function tlsOptions(dir: string | undefined, side: 'client' | 'server', hostname?: string): OpenOptions {
  if (dir === undefined) return {};
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (e) {
      throw new VmsError('E_USAGE', `cannot read ${join(dir, name)}`, { cause: e, expected: `${side}-cert.pem, ${side}-key.pem and ca-cert.pem in ${dir}` });
    }
  };
  return {
    ca: read('ca-cert.pem'),
    cert: read(`${side}-cert.pem`),
    key: read(`${side}-key.pem`),
    ...(side === 'server' ? { requireClientCert: true } : {}),
    ...(hostname !== undefined ? { servername: hostname } : {}),
  };
}

/** Numbers of a MigrationStats snapshot, for --json and the final summary. */
export function statsJson(s: MigrationStats): Record<string, unknown> {
  return {
    status: s.status,
    totalTimeMs: round(s.totalTimeMs),
    setupTimeMs: round(s.setupTimeMs),
    downtimeMs: s.downtimeMs === undefined ? null : round(s.downtimeMs),
    expectedDowntimeMs: Number.isFinite(s.expectedDowntimeMs) ? round(s.expectedDowntimeMs) : null,
    downtimeLimitMs: s.downtimeLimitMs,
    transferredBytes: s.transferredBytes,
    throughputMBps: round(s.throughputMBps),
    bandwidthMBps: round(s.bandwidth / 1e6),
    iterations: s.iterations,
    ram: {
      total: s.ram.total,
      transferred: s.ram.transferred,
      remaining: s.ram.remaining,
      zeroPages: s.ram.zeroPages,
      normalPages: s.ram.normalPages,
      dirtyPagesRate: Math.round(s.ram.dirtyPagesRate),
      pageSize: s.ram.pageSize,
    },
    ...(s.error !== undefined ? { error: s.error } : {}),
  };
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** One progress line (written with \r on a terminal). */
export function progressLine(s: MigrationStats): string {
  const pct = s.ram.total > 0 ? Math.min(100, (s.ram.transferred / s.ram.total) * 100) : 0;
  const exp = Number.isFinite(s.expectedDowntimeMs) ? `${Math.round(s.expectedDowntimeMs)} ms` : '-';
  return (
    `${s.status.padEnd(9)} ${mib(s.transferredBytes).padStart(9)} sent (${pct.toFixed(0).padStart(3)}% of RAM)  ` +
    `${(s.bandwidth / 1e6).toFixed(0).padStart(5)} MB/s  pass ${s.iterations}  ` +
    `dirty ${((s.ram.dirtyPagesRate * s.ram.pageSize) / 1e6).toFixed(1)} MB/s  expected downtime ${exp}   `
  );
}

export const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;

export interface MigrateOptions {
  readonly ram: number;
  readonly random: number;
  readonly dirtyRate: number;
  readonly maxBandwidth: number;
  readonly downtimeLimit: number;
  readonly maxIterations: number;
  readonly stallTimeout: number;
  readonly tlsCreds?: string;
  readonly tlsHostname?: string;
  readonly json: boolean;
  readonly progress: boolean;
  readonly ack: boolean;
  /** Wire format; a vmstream destination detects it. */
  readonly format?: 'qemu' | 'ber';
}

/** Connects to `uri` (both ways when it can carry an ACK). */
export async function connectForMigration(uri: string, o: Pick<MigrateOptions, 'tlsCreds' | 'tlsHostname' | 'ack'>): Promise<MigrationConnection> {
  const a = parseChannelUri(uri);
  const tls = a.kind === 'tls' ? tlsOptions(o.tlsCreds, 'client', o.tlsHostname) : {};
  if (a.kind === 'tls' && o.tlsCreds === undefined) {
    throw new VmsError('E_USAGE', 'a tls: migration needs --tls-creds DIR', { expected: 'ca-cert.pem, client-cert.pem, client-key.pem' });
  }
  if (o.ack && (a.kind === 'tcp' || a.kind === 'unix' || a.kind === 'tls')) {
    const d = await openDuplex(a, tls);
    return { sink: d.sink, reverse: d.source };
  }
  return { sink: await openSink(a, tls) };
}

/** Runs one migration of `machine` to `uri`, drawing a progress line on stderr. */
export async function migrateMachine(machine: LiveSampleMachine, uri: string, o: MigrateOptions): Promise<{ stats: MigrationStats; report: unknown }> {
  const source = new MigrationSource(machine, {
    downtimeLimitMs: o.downtimeLimit,
    maxBandwidth: o.maxBandwidth * 1e6,
    maxIterations: o.maxIterations,
    stallTimeoutMs: o.stallTimeout,
    format: o.format ?? 'qemu',
  });
  const tty = process.stderr.isTTY === true;
  const draw = o.progress || tty;
  if (draw) {
    source.on('progress', (s: MigrationStats) => {
      process.stderr.write(tty ? `\r${progressLine(s)}` : `${progressLine(s)}\n`);
    });
  }
  const onSignal = (): void => source.cancel();
  process.once('SIGINT', onSignal);
  try {
    const conn = await connectForMigration(uri, o);
    return await source.migrate(conn);
  } finally {
    process.off('SIGINT', onSignal);
    if (draw && tty) process.stderr.write('\n');
  }
}

export function addMachineOptions(cmd: Command): Command {
  return cmd
    .option('--ram <MiB>', 'guest RAM of the sample machine in MiB', intArg, 256)
    .option('--random <MiB>', 'MiB of that RAM filled with random bytes (the rest stays zero)', intArg, 64)
    .option('--seed <n>', 'seed of the random contents', intArg, 1);
}

export function migrateCommand(): Command {
  const cmd = new Command('migrate')
    .description('live-migrate the sample machine (with a page-dirtying workload) to URI (tcp:, unix:, tls:, exec:, file:)')
    .argument('<uri>', 'destination, e.g. tcp:127.0.0.1:4444 (a `vmstream receive URI --sample` or a QEMU with -incoming)');
  addMachineOptions(cmd)
    .option('--dirty-rate <MB/s>', 'pages the workload dirties per second, in MB', numArg, 0)
    .option('--max-bandwidth <MB/s>', 'bandwidth limit in MB/s (0 = unlimited)', numArg, 0)
    .option('--downtime-limit <ms>', 'longest acceptable downtime', numArg, 300)
    .option('--max-iterations <n>', 'switch over after this many passes even if not converged (0 = never)', intArg, 0)
    .option('--stall-timeout <ms>', 'fail when the destination takes nothing for this long', intArg, 10_000)
    .option('--tls-creds <dir>', 'for tls:, a directory with ca-cert.pem, client-cert.pem, client-key.pem')
    .option('--tls-hostname <name>', "name to check the destination's certificate against")
    .option('--no-ack', 'do not wait for a vmstream destination to confirm')
    .addOption(new Option('--format <format>', 'wire format (a vmstream destination detects it)').choices(['qemu', 'ber']).default('qemu'))
    .option('--progress', 'print progress lines even when stderr is not a terminal', false)
    .option('--json', 'print the final statistics as JSON', false);
  return usageExits(cmd).action(
    action(
      async (uri: string, o: MigrateOptions & { seed: number }) => {
        const machine = new LiveSampleMachine({ ramMiB: o.ram });
        machine.fillRandom(o.random, o.seed);
        machine.startWorkload(o.dirtyRate);
        try {
          const { stats, report } = await migrateMachine(machine, uri, o);
          const out = { ...statsJson(stats), ...(report !== undefined ? { destination: report } : {}) };
          process.stdout.write(o.json ? `${toJson(out, 2)}\n` : summary(stats));
        } finally {
          machine.stopWorkload();
        }
      },
      (_u: string, o: MigrateOptions) => o.json,
    ),
  );
}

export function summary(s: MigrationStats): string {
  return [
    `status:             ${s.status}`,
    `total time:         ${s.totalTimeMs.toFixed(0)} ms`,
    `downtime:           ${s.downtimeMs === undefined ? '-' : `${s.downtimeMs.toFixed(1)} ms`} (limit ${s.downtimeLimitMs} ms)`,
    `transferred:        ${mib(s.transferredBytes)} (${s.ram.normalPages} normal pages, ${s.ram.zeroPages} zero pages)`,
    `throughput:         ${s.throughputMBps.toFixed(1)} MB/s`,
    `passes:             ${s.iterations}`,
    '',
  ].join('\n');
}

export function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new VmsError('E_USAGE', `not a non-negative integer: ${v}`);
  return n;
}

export function numArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new VmsError('E_USAGE', `not a non-negative number: ${v}`);
  return n;
}

// ---- the live demo -------------------------------------------------------------------------

export interface LiveDemoOptions {
  readonly ram: number;
  readonly random: number;
  readonly dirtyRate: number;
  readonly maxBandwidth?: number;
  readonly downtimeLimit?: number;
  readonly maxIterations?: number;
  readonly json: boolean;
  readonly progress?: boolean;
  readonly format?: 'qemu' | 'ber';
}

export interface LiveDemoResult {
  readonly stats: MigrationStats;
  readonly sourceHash: string;
  readonly destinationHash: string | undefined;
  readonly verified: boolean;
}

/**
 * The demo: starts `vmstream receive tcp:127.0.0.1:0 --sample` as a child process, migrates a
 * running sample machine into it, and compares the destination's hash of RAM + devices (sent
 * back after commit) with the source's own at switch-over (the source stays stopped after a
 * successful migration, so hashing it afterwards sees the switch-over state).
 */
export async function runLiveDemo(o: LiveDemoOptions): Promise<LiveDemoResult> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(new URL('./receive.js', import.meta.url).href)}); await m.receiveCommand().parseAsync(process.argv.slice(1), { from: 'user' });`,
      'tcp:127.0.0.1:0',
      '--sample',
      '--ram',
      String(o.ram),
      '--announce',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  try {
    const uri = await announcedUri(child.stdout, exited);
    const machine = new LiveSampleMachine({ ramMiB: o.ram });
    machine.fillRandom(o.random, 1);
    machine.startWorkload(o.dirtyRate);
    let result: { stats: MigrationStats; report: unknown };
    try {
      result = await migrateMachine(machine, uri, {
        ram: o.ram,
        random: o.random,
        dirtyRate: o.dirtyRate,
        maxBandwidth: o.maxBandwidth ?? 0,
        downtimeLimit: o.downtimeLimit ?? 300,
        maxIterations: o.maxIterations ?? 0,
        stallTimeout: 10_000,
        json: o.json,
        progress: o.progress ?? false,
        ack: true,
        format: o.format ?? 'qemu',
      });
    } finally {
      machine.stopWorkload();
    }
    const sourceHash = await machine.hash();
    const report = result.report as { hash?: unknown } | undefined;
    const destinationHash = typeof report?.hash === 'string' ? report.hash : undefined;
    await exited;
    return { stats: result.stats, sourceHash, destinationHash, verified: destinationHash === sourceHash };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Reads the child's `{"listening": URI}` line. */
async function announcedUri(out: NodeJS.ReadableStream, exited: Promise<number | null>): Promise<string> {
  let buf = '';
  const line = new Promise<string>((resolve, reject) => {
    out.setEncoding('utf8');
    out.on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    out.once('end', () => reject(new VmsError('E_IO', 'the destination process ended before listening')));
  });
  const code = exited.then((c) => {
    throw new VmsError('E_IO', `the destination process exited (${c}) before listening`);
  });
  const first = await Promise.race([line, code]);
  const parsed = JSON.parse(first) as { listening?: unknown };
  if (typeof parsed.listening !== 'string') throw new VmsError('E_IO', 'the destination process did not say where it listens', { actual: first });
  return parsed.listening;
}

/** The demo's printed outcome. */
export function demoOutput(r: LiveDemoResult, json: boolean): string {
  if (json) {
    return `${toJson({ ...statsJson(r.stats), verified: r.verified, sourceHash: r.sourceHash, destinationHash: r.destinationHash ?? null }, 2)}\n`;
  }
  return `${summary(r.stats)}verified:           ${r.verified ? 'destination RAM and devices equal the source at switch-over' : 'MISMATCH'} (sha256 ${r.sourceHash.slice(0, 16)}…)\n`;
}

export function demoLiveCommand(): Command {
  const cmd = new Command('demo')
    .description('live-migrate a running sample machine into a destination process on loopback and verify it');
  addMachineOptions(cmd)
    .option('--dirty-rate <MB/s>', 'pages the workload dirties per second, in MB', numArg, 50)
    .option('--max-bandwidth <MB/s>', 'bandwidth limit in MB/s (0 = unlimited)', numArg, 0)
    .option('--downtime-limit <ms>', 'longest acceptable downtime', numArg, 300)
    .option('--json', 'print the final statistics as JSON', false)
    .addOption(new Option('--progress', 'print progress lines even when stderr is not a terminal').default(false));
  return usageExits(cmd).action(
    action(
      async (o: LiveDemoOptions & { maxBandwidth: number }) => {
        const r = await runLiveDemo(o);
        process.stdout.write(demoOutput(r, o.json));
        if (!r.verified) process.exitCode = 1;
      },
      (o: LiveDemoOptions) => o.json,
    ),
  );
}
