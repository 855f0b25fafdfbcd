/**
 * Stream layer throughput on the benchmark stream (1 GiB guest, 512 MiB of random RAM, made by
 * `node dist/tools/qemu-streams.js --bench PATH` and cached in a temp dir):
 *  - `vmstream info` wall time, next to QEMU 7.2's scripts/analyze-migration.py (taken from
 *    `apt-get source qemu` as in spec §6.3 into the same cache; skipped with a note if unavailable);
 *  - a full read of every byte through the event reader (goal ≥ 1 GB/s);
 *  - a byte-identical rewrite to a file (goal ≥ 600 MB/s). MB = 10^6 bytes, GB = 10^9 here.
 * Every row has a CPU figure beside the wall time: on a shared machine wall time follows the
 * load, CPU time (user + system) much less.
 *
 *   npm run build && node dist/bench/stream.js [--cache DIR]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChannelWriter } from '../src/channel/writer.js';
import { runConvert } from '../src/cli/commands/convert.js';
import { CLI_READER, openInput } from '../src/cli/util.js';
import { readStream } from '../src/stream/reader.js';
import { StreamWriter } from '../src/stream/writer.js';
import { NULL_SINK, cacheArg, measure, sha256, startStreamBench, type BenchRow } from './common.js';

export type { BenchRow } from './common.js';

export interface StreamBenchOptions {
  /** Cache directory for the bench stream and QEMU's source. Defaults to $TMPDIR/vmstream-bench-cache. */
  readonly cacheDir?: string;
  /** Log progress lines. Defaults to console.log. */
  readonly log?: (s: string) => void;
}

export const name = 'stream';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** QEMU 7.2's analyze-migration.py from the Debian source package, or a reason it is missing. */
function analyzeScript(cache: string, log: (s: string) => void): { path?: string; note?: string } {
  const dir = join(cache, 'qsrc');
  const script = join(dir, 'qemu-7.2.0', 'scripts', 'analyze-migration.py');
  if (existsSync(script)) return { path: script };
  mkdirSync(join(dir, 'parts'), { recursive: true });
  mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
  const sources = '/etc/apt/sources.list.d/debian.sources';
  if (!existsSync(sources)) return { note: 'no Debian apt sources to fetch QEMU 7.2 source from' };
  const src = readFileSync(sources, 'utf8').replace(/^Types: deb$/gm, 'Types: deb-src');
  spawnSync('sh', ['-c', `cat > ${JSON.stringify(join(dir, 'parts', 'src.sources'))}`], { input: src });
  const o = ['-o', 'Dir::Etc::SourceList=/dev/null', '-o', `Dir::Etc::SourceParts=${join(dir, 'parts')}`, '-o', `Dir::State::Lists=${join(dir, 'lists')}`];
  if (!readdirSync(dir).some((f) => f.endsWith('.orig.tar.xz'))) {
    log('fetching the QEMU 7.2 source package (apt-get source --download-only qemu) for analyze-migration.py');
    spawnSync('apt-get', [...o, 'update'], { cwd: dir, stdio: 'ignore' });
    spawnSync('apt-get', [...o, 'source', '--download-only', 'qemu'], { cwd: dir, stdio: 'ignore' });
  }
  const orig = readdirSync(dir).find((f) => /^qemu_7\.2.*\.orig\.tar\.xz$/.test(f));
  if (orig === undefined) return { note: 'QEMU 7.2 source package not available (apt-get source qemu failed)' };
  spawnSync('tar', ['-xf', orig, 'qemu-7.2.0/scripts/analyze-migration.py'], { cwd: dir });
  return existsSync(script) ? { path: script } : { note: `analyze-migration.py not found in ${orig}` };
}

/**
 * Runs a command to completion and measures its wall time and its CPU time (user + system,
 * the children's total from bash's `times`, so the figure does not depend on the load from
 * other processes as wall time does). CPU is undefined when bash is not there.
 */
function timeCommand(cmd: string, args: readonly string[]): { ms: number; cpuMs?: number; status: number | null; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync('bash', ['-c', '"$@" >/dev/null; s=$?; times >&2; exit $s', 'bench', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  const err = r.error === undefined ? r.stderr.toString() : '';
  // `times` prints the shell's user/system line, then its children's: "0m0.412s 0m0.190s".
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(err);
  const cpuMs = m === null ? undefined : (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
  const stderr = (m === null ? err : err.slice(0, m.index)).replace(/\d+m[\d.]+s \d+m[\d.]+s\s*$/, '').slice(-300);
  return { ms, ...(cpuMs !== undefined ? { cpuMs } : {}), status: r.status, stderr };
}

export async function run(opts: StreamBenchOptions = {}): Promise<BenchRow[]> {
  const { rows, add, log, cache, path, size } = startStreamBench('stream', opts);
  if (path === undefined) return rows;

  const GB = 1e9;
  const cpuNote = (cpuMs: number | undefined): string => (cpuMs === undefined ? 'CPU n/a' : `${cpuMs.toFixed(0)} ms CPU, ${((cpuMs * GB) / size).toFixed(0)} ms CPU/GB`);
  /** A throughput row (wall MB/s) and its CPU row (ms of CPU per GB, the figure that load does not move much). */
  const rate = (label: string, t: { ms: number; cpuMs: number }, extra: string): void => {
    add({ name: label, value: size / 1e3 / t.ms, unit: 'MB/s', note: `${extra}${t.ms.toFixed(0)} ms wall, ${cpuNote(t.cpuMs)}` });
    add({ name: `${label}, CPU`, value: (t.cpuMs * GB) / size, unit: 'ms/GB', note: `${(size / 1e3 / t.cpuMs).toFixed(0)} MB/s of CPU time` });
  };
  /** The better of `n` runs (lowest wall, lowest CPU): other processes only ever add time. */
  const best = <T extends { ms: number; cpuMs?: number }>(runs: T[]): T & { cpuMs?: number } => {
    const ok = runs.reduce((x, y) => (y.ms < x.ms ? y : x));
    const cpus = runs.map((r) => r.cpuMs).filter((c): c is number => c !== undefined);
    return { ...ok, ...(cpus.length > 0 ? { cpuMs: Math.min(...cpus) } : {}) };
  };

  // 1. vmstream info vs analyze-migration.py (whole processes, same file, same run, interleaved).
  const script = analyzeScript(cache, log);
  timeCommand(process.execPath, [CLI, 'info', path]); // warm the page cache
  const infoRuns: ReturnType<typeof timeCommand>[] = [];
  const pyRuns: ReturnType<typeof timeCommand>[] = [];
  for (let i = 0; i < 3; i++) {
    infoRuns.push(timeCommand(process.execPath, [CLI, 'info', path]));
    if (script.path !== undefined) pyRuns.push(timeCommand('python3', [script.path, '-f', path]));
  }
  const info = best(infoRuns);
  add({ name: 'vmstream info', value: info.ms, unit: 'ms', note: info.status !== 0 ? `exit ${info.status}: ${info.stderr}` : `best of 3; ${cpuNote(info.cpuMs)}` });
  if (script.path !== undefined) {
    const py = best(pyRuns);
    add({ name: 'analyze-migration.py -f (QEMU 7.2)', value: py.ms, unit: 'ms', note: py.status !== 0 ? `exit ${py.status}: ${py.stderr}` : `best of 3; ${cpuNote(py.cpuMs)}` });
    add({ name: 'info / analyze-migration.py, wall', value: info.ms / py.ms, unit: 'x', note: 'goal ≤ 0.5' });
    if (info.cpuMs !== undefined && py.cpuMs !== undefined) add({ name: 'info / analyze-migration.py, CPU', value: info.cpuMs / py.cpuMs, unit: 'x', note: 'goal ≤ 0.5' });
  } else {
    add({ name: 'analyze-migration.py -f (QEMU 7.2)', value: 0, unit: 'skipped', note: script.note! });
  }
  const dump = timeCommand(process.execPath, [CLI, 'dump', path]);
  add({ name: 'vmstream dump (all device fields)', value: dump.ms, unit: 'ms', note: dump.status !== 0 ? `exit ${dump.status}: ${dump.stderr}` : cpuNote(dump.cpuMs) });

  // 2. Full read of every byte: page contents handed to the visitor and touched.
  let touched = 0;
  const reader = { deviceFields: () => undefined, ramPage: (p: { wire: Uint8Array }) => void (touched += p.wire.length === 0 ? 0 : p.wire[p.wire.length - 1]! + 1) };
  rate('full read (every page to the visitor)', await measure(async () => void (await readStream(openInput(path), reader, { reader: CLI_READER }))), 'goal ≥ 1000; ');

  // 3. Byte-identical rewrite: to a null sink (our code alone), then to a file (on tmpfs when
  // there is one, so the disk's write speed is not what we measure), as `vmstream convert` does it.
  rate(
    'rewrite to a null sink',
    await measure(async () => {
      const wn = new ChannelWriter(NULL_SINK, { chunkSize: 1 << 20 });
      await readStream(openInput(path), new StreamWriter(wn), { reader: CLI_READER });
      await wn.close();
    }),
    'goal ≥ 600; ',
  );
  const outDir = existsSync('/dev/shm') ? '/dev/shm' : cache;
  const out = join(outDir, `vmstream-bench-rewrite-${process.pid}.mig`);
  try {
    const t = await measure(() => runConvert(path, { output: out, to: 'qemu' }));
    const same = statSync(out).size === size && (await sha256(out)) === (await sha256(path));
    rate(`rewrite to a file (${outDir === '/dev/shm' ? 'tmpfs' : 'disk'}), vmstream convert`, t, `goal ≥ 600; ${same ? 'byte-identical' : 'DIFFERS'}; `);
  } finally {
    rmSync(out, { force: true });
  }
  // 4. The same two without file I/O (the stream in memory): what our own code costs.
  const bytes = new Uint8Array(readFileSync(path));
  rate('full read from memory', await measure(async () => void (await readStream(bytes, reader))), '');
  rate(
    'rewrite from memory to a null sink',
    await measure(async () => {
      const wm = new ChannelWriter(NULL_SINK, { chunkSize: 1 << 20 });
      await readStream(bytes, new StreamWriter(wm));
      await wm.close();
    }),
    '',
  );
  void touched;
  return rows;
}

/** The bench module for bench/run.ts. */
export const streamBench = { name, run };
export default streamBench;

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await run(cacheArg(process.argv));
