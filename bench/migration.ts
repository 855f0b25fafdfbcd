/**
 * Live-migration bench (`npm run bench -- --only migration`):
 *   1. vmstream → vmstream: a 1 GiB sample guest with 512 MiB of random RAM, migrated over
 *      loopback TCP into a destination child process (`vmstream receive --sample`), idle;
 *   2. the same with the workload dirtying 50 MB/s: does it converge within the downtime limit;
 *   3. QEMU → QEMU with the same RAM contents: two `qemu-system-x86_64 -M pc -m 1024 -S`, the
 *      random bytes loaded with `-device loader`, max-bandwidth raised; and the same with
 *      `-mem-prealloc` on the destination, the like-for-like peer of our destination, which
 *      prepares its staging memory before listening (`receive --sample` defaults to --prealloc);
 *   4. a raw Node socket pump of as many bytes as vmstream sent, into a child process that
 *      counts them with 'data' events: the anchor of the throughput goal. For scale, also the
 *      same pump into a child that reads with `onread` into one buffer, as our destination does.
 * Goals: vmstream's total time ≤ 0.67 × QEMU's; its throughput ≥ 70% of the raw pump's.
 * Medians are reported with their ranges: QEMU's total time alone swings 3x between
 * back-to-back runs here (399-1451 ms measured). vmstream runs PAIRS times, each migration
 * followed by its pumps, and the throughput ratio is the median of the pairs' ratios.
 * --quick: 256 MiB guest, 128 MiB random, and no QEMU run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuplex } from '../src/channel/open.js';
import { LiveSampleMachine, fillXorshift } from '../src/migration/live-machine.js';
import { MigrationSource } from '../src/migration/source.js';
import type { MigrationStats } from '../src/migration/stats.js';
import { launchQemu, qemuAvailable } from '../tools/qemu/launch.js';

export const name = 'migration';

interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

/** Runs of each QEMU migration; the median is reported. */
const RUNS = 3;
/** vmstream migrations, each with its raw pumps beside it; medians are reported. */
const PAIRS = 5;

/** The element with the median key (the lower middle for an even count). */
function medianBy<T>(items: readonly T[], key: (t: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[(items.length - 1) >> 1]!;
}

function range(values: readonly number[], digits = 0): string {
  return `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
}

/** Where the random bytes go in guest RAM (QEMU: guest-physical = pc.ram offset below 3.5 GiB). */
const RANDOM_AT = 16 << 20;

export async function run(opts: { quick?: boolean } = {}): Promise<Row[]> {
  const ramMiB = opts.quick ? 256 : 1024;
  const randomMiB = opts.quick ? 128 : 512;
  const rows: Row[] = [];

  // Each migration is followed by a pump of the bytes it sent, and the ratio is taken per pair:
  // this machine's speed drifts over tens of seconds (single pumps swung 801-1763 MB/s), and a
  // pair measured side by side sees the same drift. The goal is on the median of the pairs.
  const idleRuns: { stats: MigrationStats; cpuMsPerGiB: number }[] = [];
  const pumps: { mbps: number; cpuMsPerGiB: number }[] = [];
  const fastPumps: { mbps: number; cpuMsPerGiB: number }[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const m = await vmstreamMigration(ramMiB, randomMiB, 0);
    idleRuns.push(m);
    pumps.push(await rawPump(m.stats.transferredBytes));
    // For scale, not a goal: the same pump into a receiver that reads into one reused buffer
    // (Node's onread, as vmstream's destination does), without Node's per-read costs.
    fastPumps.push(await rawPump(m.stats.transferredBytes, true));
  }
  const { stats: idle, cpuMsPerGiB } = medianBy(idleRuns, (r) => r.stats.totalTimeMs);
  const ratios = idleRuns.map((r, i) => r.stats.throughputMBps / pumps[i]!.mbps);
  const pump = medianBy(pumps, (p) => p.mbps);
  const fastPump = medianBy(fastPumps, (p) => p.mbps);
  rows.push(
    { name: `vmstream ${ramMiB} MiB guest (${randomMiB} random), total`, value: idle.totalTimeMs, unit: 'ms', note: `median of ${PAIRS}, ${range(idleRuns.map((r) => r.stats.totalTimeMs))}; downtime ${idle.downtimeMs?.toFixed(0)} ms` },
    { name: 'vmstream throughput', value: idle.throughputMBps, unit: 'MB/s', note: `${(idle.transferredBytes / 1e6).toFixed(0)} MB sent` },
    { name: 'raw socket pump, same bytes', value: pump.mbps, unit: 'MB/s', note: `median of ${PAIRS}, ${range(pumps.map((p) => p.mbps))}` },
    // CPU time is steadier than wall-clock on a shared machine: the sending process's user+system per GiB moved.
    { name: 'vmstream source CPU per GiB sent', value: cpuMsPerGiB, unit: 'ms' },
    { name: 'raw pump sender CPU per GiB', value: pump.cpuMsPerGiB, unit: 'ms' },
    { name: 'vmstream / raw pump throughput', value: medianBy(ratios, (r) => r), unit: 'ratio', note: `median of ${PAIRS} side-by-side pairs, ${range(ratios, 2)}; goal ≥ 0.70` },
    { name: 'raw pump into an onread receiver (for scale)', value: fastPump.mbps, unit: 'MB/s', note: `median of ${PAIRS}, ${range(fastPumps.map((p) => p.mbps))}; vmstream is ${(idle.throughputMBps / fastPump.mbps).toFixed(2)} of it` },
  );

  const { stats: busy } = await vmstreamMigration(ramMiB, randomMiB, 50);
  rows.push({
    name: 'vmstream with 50 MB/s dirtying, downtime',
    value: busy.downtimeMs ?? NaN,
    unit: 'ms',
    note: `limit ${busy.downtimeLimitMs} ms, expected ${busy.expectedDowntimeMs.toFixed(0)} ms (fixed ${busy.switchoverMs.toFixed(0)} ms), ${busy.iterations} passes, total ${busy.totalTimeMs.toFixed(0)} ms, ${busy.status}`,
  });

  if (!opts.quick && (await qemuAvailable())) {
    for (const prealloc of [false, true]) {
      const runs: { totalMs: number; downtimeMs: number; mbps: number }[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await qemuMigration(ramMiB, randomMiB, prealloc));
      const q = medianBy(runs, (r) => r.totalMs);
      const label = prealloc ? 'QEMU → QEMU, destination -mem-prealloc' : 'QEMU → QEMU same RAM';
      rows.push({ name: `${label}, total`, value: q.totalMs, unit: 'ms', note: `median of ${RUNS}, ${range(runs.map((r) => r.totalMs))}; downtime ${q.downtimeMs} ms` });
      rows.push({ name: `vmstream / ${prealloc ? 'QEMU -mem-prealloc' : 'QEMU'} total time`, value: idle.totalTimeMs / q.totalMs, unit: 'ratio', note: 'goal ≤ 0.67' });
    }
  }
  return rows;
}

/** Migrates a sample machine into a `vmstream receive --sample` child process; checks the hash. */
async function vmstreamMigration(ramMiB: number, randomMiB: number, dirtyRate: number): Promise<{ stats: MigrationStats; cpuMsPerGiB: number }> {
  const url = new URL('../src/cli/commands/receive.js', import.meta.url).href;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); await m.receiveCommand().parseAsync(process.argv.slice(1), { from: 'user' });`, 'tcp:127.0.0.1:0', '--sample', '--ram', String(ramMiB), '--announce', '--json'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const uri = await firstLine(child.stdout).then((l) => (JSON.parse(l) as { listening: string }).listening);
    const machine = new LiveSampleMachine({ ramMiB });
    fillAt(machine, randomMiB);
    machine.startWorkload(dirtyRate);
    const conn = await openDuplex(uri);
    const cpu0 = process.cpuUsage();
    const r = await new MigrationSource(machine).migrate({ sink: conn.sink, reverse: conn.source });
    const cpu = process.cpuUsage(cpu0);
    machine.stopWorkload();
    const hash = await machine.hash();
    if ((r.report as { hash?: string } | undefined)?.hash !== hash) throw new Error('destination differs from the source');
    return { stats: r.stats, cpuMsPerGiB: (cpu.user + cpu.system) / 1000 / (r.stats.transferredBytes / 2 ** 30) };
  } finally {
    // Wait until it is gone: the kernel freeing its 2 GiB would otherwise slow whatever runs next.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/** The bench's RAM: `randomMiB` of xorshift bytes at RANDOM_AT (seed 1), as QEMU's loader puts them. */
function fillAt(m: LiveSampleMachine, randomMiB: number): void {
  m.load(0, RANDOM_AT, randomBytes(randomMiB));
}

let cached: { mib: number; bytes: Uint8Array } | undefined;
function randomBytes(mib: number): Uint8Array {
  if (cached?.mib === mib) return cached.bytes;
  const words = new Uint32Array((mib << 20) >>> 2);
  fillXorshift(words, 1);
  cached = { mib, bytes: new Uint8Array(words.buffer) };
  return cached.bytes;
}

/**
 * Sends `bytes` over loopback TCP with plain socket.write into a child that counts them (MB/s).
 * The child reads with 'data' events, or with `onread` into one reused 1 MiB buffer. The child
 * connects to us, since Node offers `onread` only on sockets it opens.
 */
async function rawPump(bytes: number, onreadReceiver = false): Promise<{ mbps: number; cpuMsPerGiB: number }> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  if (!onreadReceiver) server.close();
  const receiver = onreadReceiver
    ? `let n=0;const b=Buffer.allocUnsafe(1<<20);const c=require('net').connect({port:${port},host:'127.0.0.1',allowHalfOpen:true,onread:{buffer:b,callback:(k)=>{n+=k;}}});c.on('end',()=>c.end(String(n)));`
    : `const s=require('net').createServer(c=>{let n=0;c.on('data',b=>n+=b.length);c.on('end',()=>{c.end(String(n));s.close();});});s.listen(${port},'127.0.0.1',()=>console.log('up'));`;
  const child = spawn(process.execPath, ['-e', receiver], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let sock: Socket;
    if (onreadReceiver) {
      sock = await new Promise<Socket>((r) => server.once('connection', r));
    } else {
      await firstLine(child.stdout);
      sock = connect(port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
    }
    const chunk = Buffer.alloc(256 << 10, 0x5a);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      const part = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
      if (!sock.write(part)) await new Promise((r) => sock.once('drain', r));
    }
    sock.end();
    await new Promise((r) => sock.once('data', r));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    sock.destroy();
    return { mbps: bytes / 1e3 / ms, cpuMsPerGiB: (cpu.user + cpu.system) / 1000 / (bytes / 2 ** 30) };
  } finally {
    child.kill('SIGKILL');
    server.close();
  }
}

/** QEMU → QEMU with the same random bytes at RANDOM_AT; total and downtime as QEMU reports them. */
async function qemuMigration(ramMiB: number, randomMiB: number, prealloc: boolean): Promise<{ totalMs: number; downtimeMs: number; mbps: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-bench-qemu-'));
  const file = join(dir, 'random.bin');
  writeFileSync(file, randomBytes(randomMiB));
  const machine = ['-M', 'pc', '-m', String(ramMiB), '-S'];
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  const src = await launchQemu({ args: [...machine, '-device', `loader,file=${file},addr=${RANDOM_AT}`] });
  const dst = await launchQemu({ args: [...machine, ...(prealloc ? ['-mem-prealloc'] : []), '-incoming', `tcp:127.0.0.1:${port}`] });
  try {
    await src.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 100 * 1024 ** 3 });
    // -S keeps the CPU at reset; `system_reset` has run the loader, so the bytes are in RAM.
    await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    const out = await src.waitMigration({ timeoutMs: 600_000 });
    if (out.status !== 'completed') throw new Error(`QEMU migration ${out.status}: ${out.error}`);
    const info = out.info as { 'total-time'?: number; downtime?: number; ram?: { mbps?: number } };
    return { totalMs: info['total-time'] ?? NaN, downtimeMs: info.downtime ?? NaN, mbps: info.ram?.mbps ?? NaN };
  } finally {
    await src.quit();
    await dst.quit();
    rmSync(dir, { recursive: true, force: true });
  }
}

function firstLine(out: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    out.setEncoding('utf8');
    out.on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    out.once('end', () => reject(new Error('child ended before its first line')));
  });
}

export default { name, run };
