/**
 * BER conversion throughput on the benchmark stream (1 GiB guest, 512 MiB of random RAM, made by
 * `node dist/tools/qemu-streams.js --bench PATH` and cached in a temp dir), file to file:
 *  - QEMU → BER (goal ≥ 500 MB/s of input), and the BER size against the input;
 *  - BER → QEMU (goal ≥ 500 MB/s of input), checked byte-identical to the original;
 *  - the binary rewrite QEMU → QEMU beside them, for scale. MB = 10^6 bytes, GB = 10^9 here.
 * Each runs `vmstream convert`'s code (runConvert) and has a CPU row (ms per GB of input)
 * beside the wall rate: on a shared machine wall time follows the load, CPU time much less.
 *
 *   npm run build && node dist/bench/ber-convert.js [--cache DIR]
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemorySink } from '../src/channel/transports/memory.js';
import { ChannelWriter } from '../src/channel/writer.js';
import { runConvert } from '../src/cli/commands/convert.js';
import { readAnyStream } from '../src/stream/ber/any.js';
import { qemuToBer } from '../src/stream/ber/convert.js';
import { StreamWriter } from '../src/stream/writer.js';
import { NULL_SINK, cacheArg, measure, sha256, startStreamBench, type BenchRow } from './common.js';

export type { BenchRow } from './common.js';

export interface BerConvertBenchOptions {
  /** Cache directory holding the bench stream. Defaults to $TMPDIR/vmstream-bench-cache. */
  readonly cacheDir?: string;
  /** Log progress lines. Defaults to console.log. */
  readonly log?: (s: string) => void;
}

export const name = 'ber-convert';

export async function run(opts: BerConvertBenchOptions = {}): Promise<BenchRow[]> {
  const { rows, add, cache, path, size } = startStreamBench('ber-convert', opts);
  if (path === undefined) return rows;
  // Outputs go to tmpfs when there is one, so the disk's write-back is not what we measure;
  // each is removed before its timed run (truncating a big file costs time of its own).
  const outDir = existsSync('/dev/shm') ? '/dev/shm' : cache;
  const where = outDir === '/dev/shm' ? 'tmpfs' : 'disk';
  const ber = join(outDir, `vmstream-bench-${process.pid}.ber`);
  const back = join(outDir, `vmstream-bench-${process.pid}-back.mig`);
  const rewrite = join(outDir, `vmstream-bench-${process.pid}-rewrite.mig`);
  const GB = 1e9;
  /** A rate row (wall MB/s of input) and its CPU row (ms of CPU per GB of input). */
  const rate = (label: string, inBytes: number, t: { ms: number; cpuMs: number }, extra: string): void => {
    add({ name: label, value: inBytes / 1e3 / t.ms, unit: 'MB/s', note: `${extra}${t.ms.toFixed(0)} ms wall, ${t.cpuMs.toFixed(0)} ms CPU` });
    add({ name: `${label}, CPU`, value: (t.cpuMs * GB) / inBytes, unit: 'ms/GB', note: `${(inBytes / 1e3 / t.cpuMs).toFixed(0)} MB/s of CPU time` });
  };
  try {
    // Warm the page cache and the JIT on a first pass that is not timed.
    await runConvert(path, { output: ber, to: 'ber' });
    rmSync(ber, { force: true });

    // `vmstream convert` as users run it, file to file.
    const toBer = await measure(() => runConvert(path, { output: ber, to: 'ber' }));
    const berSize = statSync(ber).size;
    rate(`QEMU -> BER (to ${where})`, size, toBer, 'goal ≥ 500; ');
    add({ name: 'BER size / QEMU size', value: (berSize / size) * 100, unit: '%', note: `${berSize} vs ${size} bytes` });

    const toQemu = await measure(() => runConvert(ber, { output: back, to: 'qemu' }));
    const same = statSync(back).size === size && (await sha256(back)) === (await sha256(path));
    rate(`BER -> QEMU (to ${where})`, berSize, toQemu, `goal ≥ 500 of BER input; ${same ? 'identical' : 'DIFFERS'}; `);

    rate(`QEMU -> QEMU rewrite (to ${where}, for scale)`, size, await measure(() => runConvert(path, { output: rewrite, to: 'qemu' })), '');
    await deviceHeavyRows(add);
  } finally {
    rmSync(ber, { force: true });
    rmSync(back, { force: true });
    rmSync(rewrite, { force: true });
  }
  return rows;
}

const DEVICE_FIXTURE = fileURLToPath(new URL('../../test/fixtures/qemu/pc-devices.mig', import.meta.url));

/**
 * The device-heavy side: a fixture whose bytes are mostly device sections (38 sections),
 * read in memory into a null sink, BER beside QEMU's binary format as the anchor. Rates are
 * of CPU time per pass, best of 3 rounds of 20 passes.
 */
async function deviceHeavyRows(add: (r: BenchRow) => void): Promise<void> {
  if (!existsSync(DEVICE_FIXTURE)) {
    add({ name: 'device-heavy BER -> QEMU', value: 0, unit: 'skipped', note: `no ${DEVICE_FIXTURE}` });
    return;
  }
  const qemu = new Uint8Array(readFileSync(DEVICE_FIXTURE));
  const berSink = new MemorySink();
  await qemuToBer(qemu, berSink);
  const ber = berSink.bytes();
  const perPass = async (input: Uint8Array): Promise<number> => {
    let bestCpu = Infinity;
    for (let round = 0; round < 3; round++) {
      const t = await measure(async () => {
        for (let i = 0; i < 20; i++) {
          const w = new ChannelWriter(NULL_SINK);
          await readAnyStream(input, new StreamWriter(w));
          await w.close();
        }
      });
      bestCpu = Math.min(bestCpu, t.cpuMs / 20);
    }
    return bestCpu;
  };
  const berMs = await perPass(ber);
  const qemuMs = await perPass(qemu);
  add({ name: 'device-heavy BER -> QEMU, CPU', value: ber.length / 1e3 / berMs, unit: 'MB/s', note: `pc-devices fixture, ${ber.length} bytes of BER, ${berMs.toFixed(2)} ms CPU per pass` });
  add({ name: 'device-heavy QEMU -> QEMU, CPU (anchor)', value: qemu.length / 1e3 / qemuMs, unit: 'MB/s', note: `${qemu.length} bytes, ${qemuMs.toFixed(2)} ms CPU per pass` });
}

/** The bench module for bench/run.ts. */
export const berConvertBench = { name, run };
export default berConvertBench;

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await run(cacheArg(process.argv));
