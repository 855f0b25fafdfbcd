/**
 * BER conversion throughput on the benchmark stream (1 GiB guest, 512 MiB of random RAM, made by
 * `node dist/tools/qemu-streams.js --bench PATH` and cached in a temp dir), file to file:
 *  - QEMU → BER (goal ≥ 500 MB/s of input), and the BER size against the input;
 *  - BER → QEMU (goal ≥ 500 MB/s of input), checked byte-identical to the original;
 *  - the binary rewrite QEMU → QEMU beside them, for scale. MB = 10^6 bytes here.
 *
 *   npm run build && node dist/bench/ber-convert.js [--cache DIR]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChannelWriter } from '../src/channel/writer.js';
import { openInput, openOutput } from '../src/cli/util.js';
import { berToQemu, qemuToBer } from '../src/stream/ber/convert.js';
import { readStream } from '../src/stream/reader.js';
import { StreamWriter } from '../src/stream/writer.js';

export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

export interface BerConvertBenchOptions {
  /** Cache directory holding the bench stream. Defaults to $TMPDIR/vmstream-bench-cache. */
  readonly cacheDir?: string;
  /** Log progress lines. Defaults to console.log. */
  readonly log?: (s: string) => void;
}

export const name = 'ber-convert';

const TOOL = fileURLToPath(new URL('../tools/qemu-streams.js', import.meta.url));

function benchStream(cache: string, log: (s: string) => void): string | undefined {
  const path = join(cache, 'bench.mig');
  if (existsSync(path) && statSync(path).size > 0) return path;
  log(`making the bench stream in ${path} (QEMU, about half a minute)`);
  const r = spawnSync(process.execPath, [TOOL, '--bench', path], { stdio: 'inherit' });
  return r.status === 0 && existsSync(path) ? path : undefined;
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function run(opts: BerConvertBenchOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const cache = opts.cacheDir ?? join(tmpdir(), 'vmstream-bench-cache');
  mkdirSync(cache, { recursive: true });
  const rows: BenchRow[] = [];
  const add = (r: BenchRow): void => {
    rows.push(r);
    log(`${r.name.padEnd(40)} ${r.value.toFixed(r.unit === '%' ? 2 : 1).padStart(9)} ${r.unit}${r.note !== undefined ? `  (${r.note})` : ''}`);
  };
  const path = benchStream(cache, log);
  if (path === undefined) {
    add({ name: 'ber-convert bench', value: 0, unit: 'skipped', note: 'could not make the bench stream (QEMU missing?)' });
    return rows;
  }
  const size = statSync(path).size;
  log(`bench stream: ${path}, ${(size / 1e6).toFixed(0)} MB`);
  const ber = join(cache, 'ber-convert.ber');
  const back = join(cache, 'ber-convert.mig');
  const rewrite = join(cache, 'ber-convert-rewrite.mig');
  try {
    // Warm the page cache and the JIT on a first pass that is not timed.
    await qemuToBer(openInput(path), openOutput(ber));

    // Wall time is what the goal is about; CPU time shows the rate on a machine that is shared.
    let c = process.cpuUsage();
    const t1 = performance.now();
    await qemuToBer(openInput(path), openOutput(ber));
    const toBerMs = performance.now() - t1;
    const toBerCpu = cpuMs(process.cpuUsage(c));
    const berSize = statSync(ber).size;
    add({ name: 'QEMU -> BER', value: size / 1e3 / toBerMs, unit: 'MB/s', note: `goal ≥ 500; ${toBerMs.toFixed(0)} ms wall, ${(size / 1e3 / toBerCpu).toFixed(0)} MB/s of CPU time` });
    add({ name: 'BER size / QEMU size', value: (berSize / size) * 100, unit: '%', note: `${berSize} vs ${size} bytes` });

    c = process.cpuUsage();
    const t2 = performance.now();
    await berToQemu(openInput(ber), openOutput(back));
    const toQemuMs = performance.now() - t2;
    const toQemuCpu = cpuMs(process.cpuUsage(c));
    const same = statSync(back).size === size && (await sha256(back)) === (await sha256(path));
    add({
      name: 'BER -> QEMU',
      value: berSize / 1e3 / toQemuMs,
      unit: 'MB/s',
      note: `goal ≥ 500 (of BER input); ${toQemuMs.toFixed(0)} ms wall, ${(berSize / 1e3 / toQemuCpu).toFixed(0)} MB/s of CPU time; ${same ? 'identical' : 'DIFFERS'}`,
    });

    const t3 = performance.now();
    const w = new ChannelWriter(openOutput(rewrite));
    await readStream(openInput(path), new StreamWriter(w));
    await w.close();
    const rewriteMs = performance.now() - t3;
    add({ name: 'QEMU -> QEMU rewrite (for scale)', value: size / 1e3 / rewriteMs, unit: 'MB/s', note: `${rewriteMs.toFixed(0)} ms` });
  } finally {
    rmSync(ber, { force: true });
    rmSync(back, { force: true });
    rmSync(rewrite, { force: true });
  }
  return rows;
}

/** The bench module for bench/run.ts. */
export const berConvertBench = { name, run };
export default berConvertBench;

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--cache');
  await run(i > 0 && process.argv[i + 1] !== undefined ? { cacheDir: process.argv[i + 1]! } : {});
}
