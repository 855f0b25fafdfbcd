/**
 * Helpers the bench modules share: the row shape bench/run.ts collects, the cached 1 GiB bench
 * stream, CPU-time measurement and file hashing.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ByteSink } from '../src/channel/transport.js';

/** One measurement, in the shape bench/run.ts collects from every bench module. */
export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

const TOOL = fileURLToPath(new URL('../tools/qemu-streams.js', import.meta.url));

/** The cache directory for bench inputs (made if missing). Defaults to $TMPDIR/vmstream-bench-cache. */
export function benchCache(dir?: string): string {
  const cache = dir ?? join(tmpdir(), 'vmstream-bench-cache');
  mkdirSync(cache, { recursive: true });
  return cache;
}

/**
 * The bench stream (1 GiB guest, 512 MiB of random RAM) in `cache`, made with
 * `node dist/tools/qemu-streams.js --bench PATH` when missing; undefined when it cannot be made.
 */
export function benchStream(cache: string, log: (s: string) => void): string | undefined {
  const path = join(cache, 'bench.mig');
  if (existsSync(path) && statSync(path).size > 0) return path;
  log(`making the bench stream in ${path} (QEMU, about half a minute)`);
  const r = spawnSync(process.execPath, [TOOL, '--bench', path], { stdio: 'inherit' });
  return r.status === 0 && existsSync(path) ? path : undefined;
}

/** What a bench over the bench stream starts with: its rows and logger, and the stream (path undefined: a skipped row says why). */
export function startStreamBench(bench: string, opts: { readonly cacheDir?: string; readonly log?: (s: string) => void }): {
  readonly rows: BenchRow[];
  readonly add: (r: BenchRow) => void;
  readonly log: (s: string) => void;
  readonly cache: string;
  readonly path: string | undefined;
  readonly size: number;
} {
  const log = opts.log ?? ((s: string) => console.log(s));
  const cache = benchCache(opts.cacheDir);
  const rows: BenchRow[] = [];
  const add = rowAdder(rows, log);
  const path = benchStream(cache, log);
  if (path === undefined) {
    add({ name: `${bench} bench`, value: 0, unit: 'skipped', note: 'could not make the bench stream (QEMU missing?)' });
    return { rows, add, log, cache, path, size: 0 };
  }
  const size = statSync(path).size;
  log(`bench stream: ${path}, ${(size / 1e6).toFixed(0)} MB`);
  return { rows, add, log, cache, path, size };
}

export const cpuMsOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** Wall time and CPU time (user + system) of one in-process run. */
export async function measure(body: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const c = process.cpuUsage();
  const t0 = performance.now();
  await body();
  return { ms: performance.now() - t0, cpuMs: cpuMsOf(process.cpuUsage(c)) };
}

export async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A sink that drops what it is given: the cost of our own code, no I/O. */
export const NULL_SINK: ByteSink = { write: async () => undefined, close: async () => undefined, destroy: () => undefined };

/** Collects rows into `rows` and logs each as a line: name, value (ms whole, ratios and % to 2 places), unit, note. */
export function rowAdder(rows: BenchRow[], log: (s: string) => void): (r: BenchRow) => void {
  return (r) => {
    rows.push(r);
    const digits = r.unit === 'ms' ? 0 : r.unit === 'x' || r.unit === '%' ? 2 : 1;
    log(`${r.name.padEnd(40)} ${r.value.toFixed(digits).padStart(9)} ${r.unit}${r.note !== undefined ? `  (${r.note})` : ''}`);
  };
}

/** `--cache DIR` from the command line of a bench run on its own. */
export function cacheArg(argv: readonly string[]): { cacheDir?: string } {
  const i = argv.indexOf('--cache');
  return i > 0 && argv[i + 1] !== undefined ? { cacheDir: argv[i + 1]! } : {};
}
