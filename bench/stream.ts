/**
 * Stream layer throughput on the benchmark stream (1 GiB guest, 512 MiB of random RAM, made by
 * `node dist/tools/qemu-streams.js --bench PATH` and cached in a temp dir):
 *  - `vmstream info` wall time, next to QEMU 7.2's scripts/analyze-migration.py (taken from
 *    `apt-get source qemu` as in spec §6.3 into the same cache; skipped with a note if unavailable);
 *  - a full read of every byte through the event reader (goal ≥ 1 GB/s);
 *  - a byte-identical rewrite to a file (goal ≥ 600 MB/s). MB = 10^6 bytes here.
 *
 *   npm run build && node dist/bench/stream.js [--cache DIR]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChannelWriter } from '../src/channel/writer.js';
import { CLI_READER, openInput, openOutput } from '../src/cli/util.js';
import { readStream } from '../src/stream/reader.js';
import { StreamWriter } from '../src/stream/writer.js';

export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

export interface StreamBenchOptions {
  /** Cache directory for the bench stream and QEMU's source. Defaults to $TMPDIR/vmstream-bench-cache. */
  readonly cacheDir?: string;
  /** Log progress lines. Defaults to console.log. */
  readonly log?: (s: string) => void;
}

export const name = 'stream';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TOOL = fileURLToPath(new URL('../tools/qemu-streams.js', import.meta.url));

function benchStream(cache: string, log: (s: string) => void): string | undefined {
  const path = join(cache, 'bench.mig');
  if (existsSync(path) && statSync(path).size > 0) return path;
  log(`making the bench stream in ${path} (QEMU, about half a minute)`);
  const r = spawnSync(process.execPath, [TOOL, '--bench', path], { stdio: 'inherit' });
  return r.status === 0 && existsSync(path) ? path : undefined;
}

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

function timeCommand(cmd: string, args: readonly string[]): { ms: number; status: number | null; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, status: r.status, stderr: r.stderr.toString().slice(-300) };
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function run(opts: StreamBenchOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const cache = opts.cacheDir ?? join(tmpdir(), 'vmstream-bench-cache');
  mkdirSync(cache, { recursive: true });
  const rows: BenchRow[] = [];
  const add = (r: BenchRow): void => {
    rows.push(r);
    log(`${r.name.padEnd(40)} ${r.value.toFixed(r.unit === 'ms' ? 0 : 1).padStart(9)} ${r.unit}${r.note !== undefined ? `  (${r.note})` : ''}`);
  };
  const path = benchStream(cache, log);
  if (path === undefined) {
    add({ name: 'stream bench', value: 0, unit: 'skipped', note: 'could not make the bench stream (QEMU missing?)' });
    return rows;
  }
  const size = statSync(path).size;
  log(`bench stream: ${path}, ${(size / 1e6).toFixed(0)} MB`);

  // 1. vmstream info vs analyze-migration.py (whole processes, wall time).
  timeCommand(process.execPath, [CLI, 'info', path]); // warm the page cache
  const info = timeCommand(process.execPath, [CLI, 'info', path]);
  add({ name: 'vmstream info', value: info.ms, unit: 'ms', ...(info.status !== 0 ? { note: `exit ${info.status}: ${info.stderr}` } : {}) });
  const dump = timeCommand(process.execPath, [CLI, 'dump', path]);
  add({ name: "vmstream dump (all device fields)", value: dump.ms, unit: "ms", ...(dump.status !== 0 ? { note: `exit ${dump.status}: ${dump.stderr}` } : {}) });
  const script = analyzeScript(cache, log);
  if (script.path !== undefined) {
    const py = timeCommand('python3', [script.path, '-f', path]);
    add({ name: 'analyze-migration.py -f (QEMU 7.2)', value: py.ms, unit: 'ms', ...(py.status !== 0 ? { note: `exit ${py.status}: ${py.stderr}` } : {}) });
  } else {
    add({ name: 'analyze-migration.py -f (QEMU 7.2)', value: 0, unit: 'skipped', note: script.note! });
  }

  // 2. Full read of every byte: page contents handed to the visitor and touched.
  let touched = 0;
  const t1 = performance.now();
  await readStream(
    openInput(path),
    {
      deviceFields: () => undefined,
      ramPage: (p) => {
        touched += p.wire.length === 0 ? 0 : p.wire[p.wire.length - 1]! + 1;
      },
    },
    { reader: CLI_READER },
  );
  const readMs = performance.now() - t1;
  add({ name: 'full read (every page to the visitor)', value: size / 1e3 / readMs, unit: 'MB/s', note: `goal ≥ 1000; ${readMs.toFixed(0)} ms` });

  // 3. Byte-identical rewrite: to a null sink (our code alone), then to a file (on tmpfs when
  // there is one, so the disk's write speed is not what we measure).
  const nullSink = { write: async (): Promise<void> => undefined, close: async (): Promise<void> => undefined, destroy: (): void => undefined };
  const t3 = performance.now();
  const wn = new ChannelWriter(nullSink, { chunkSize: 1 << 20 });
  await readStream(openInput(path), new StreamWriter(wn), { reader: CLI_READER });
  await wn.close();
  const nullMs = performance.now() - t3;
  add({ name: 'rewrite to a null sink', value: size / 1e3 / nullMs, unit: 'MB/s', note: `goal ≥ 600; ${nullMs.toFixed(0)} ms` });
  const outDir = existsSync('/dev/shm') ? '/dev/shm' : cache;
  const out = join(outDir, `vmstream-bench-rewrite-${process.pid}.mig`);
  try {
    const t2 = performance.now();
    const w = new ChannelWriter(openOutput(out), { chunkSize: 1 << 20 });
    await readStream(openInput(path), new StreamWriter(w), { reader: CLI_READER });
    await w.close();
    const writeMs = performance.now() - t2;
    const same = statSync(out).size === size && (await sha256(out)) === (await sha256(path));
    add({
      name: `rewrite to a file (${outDir === '/dev/shm' ? 'tmpfs' : 'disk'})`,
      value: size / 1e3 / writeMs,
      unit: 'MB/s',
      note: `goal ≥ 600; ${writeMs.toFixed(0)} ms; ${same ? 'byte-identical' : 'DIFFERS'}`,
    });
  } finally {
    rmSync(out, { force: true });
  }
  // 4. The same two without file I/O (the stream in memory): what our own code costs.
  const bytes = new Uint8Array(readFileSync(path));
  const t4 = performance.now();
  await readStream(bytes, {
    deviceFields: () => undefined,
    ramPage: (p) => {
      touched += p.wire.length === 0 ? 0 : p.wire[0]! + 1;
    },
  });
  const memReadMs = performance.now() - t4;
  add({ name: 'full read from memory', value: size / 1e3 / memReadMs, unit: 'MB/s', note: `${memReadMs.toFixed(0)} ms` });
  const t5 = performance.now();
  const wm = new ChannelWriter(nullSink, { chunkSize: 1 << 20 });
  await readStream(bytes, new StreamWriter(wm));
  await wm.close();
  const memWriteMs = performance.now() - t5;
  add({ name: 'rewrite from memory to a null sink', value: size / 1e3 / memWriteMs, unit: 'MB/s', note: `${memWriteMs.toFixed(0)} ms` });
  void touched;
  return rows;
}

/** The bench module for bench/run.ts. */
export const streamBench = { name, run };
export default streamBench;

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--cache');
  await run(i > 0 && process.argv[i + 1] !== undefined ? { cacheDir: process.argv[i + 1]! } : {});
}
