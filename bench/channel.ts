/**
 * The channel's raw copy rate: file -> FileSource -> ChannelReader -> ChannelWriter ->
 * FileSink -> file, next to Node's createReadStream().pipe(createWriteStream()) on the same
 * file in the same run. Both read a file the page cache already holds and write into the
 * page cache, so this measures the JS-side overhead of each path. Goal: ratio >= 0.8.
 *
 *   npm run bench -- --only channel [--quick]
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { copyChannel } from '../src/channel/copy.js';
import { ChannelReader } from '../src/channel/reader.js';
import { ChannelWriter } from '../src/channel/writer.js';
import { FileSink, FileSource } from '../src/channel/transports/file.js';
import { listen, openSink } from '../src/channel/open.js';
import type { BenchRow } from './common.js';

export type { BenchRow } from './common.js';

export interface ChannelBenchOptions {
  /** File size in MiB. Defaults to 256 (32 with `quick`). */
  readonly sizeMiB?: number;
  /** Rounds per path; the best round counts. Defaults to 3 (2 with `quick`). */
  readonly rounds?: number;
  readonly quick?: boolean;
  /** Directory for the temp files. Defaults to os.tmpdir() (env VMSTREAM_BENCH_DIR overrides). */
  readonly dir?: string;
}

export const name = 'channel';

/** Read buffer and write chunk size for our path: big reads and writes, few syscalls. */
const IO_SIZE = 1 << 20;

async function generate(path: string, bytes: number): Promise<void> {
  const block = new Uint8Array(8 << 20);
  randomFillSync(block);
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < bytes; at += block.length) {
      block[0] = at & 0xff; // blocks differ, so a copy that repeats a block is caught
      await fh.write(block, 0, Math.min(block.length, bytes - at));
    }
  } finally {
    await fh.close();
  }
}

/** Our path, copying through the writer's chunks so reading overlaps writing. */
async function channelCopy(src: string, dst: string): Promise<number> {
  const r = new ChannelReader(await FileSource.open(src), { bufferSize: IO_SIZE });
  const w = new ChannelWriter(await FileSink.open(dst), { chunkSize: IO_SIZE, highWaterMark: 8 * IO_SIZE });
  const n = await copyChannel(r, w);
  await w.close();
  await r.close();
  return n;
}

/** Our path without the copy: each read buffer goes out by reference, then is awaited. */
async function channelZeroCopy(src: string, dst: string): Promise<number> {
  const r = new ChannelReader(await FileSource.open(src), { bufferSize: IO_SIZE });
  const w = new ChannelWriter(await FileSink.open(dst), { chunkSize: IO_SIZE, zeroCopyThreshold: 1 });
  const n = await r.forEachChunkToEnd((c) => {
    w.bytes(c);
    return w.flushAll();
  });
  await w.close();
  await r.close();
  return n;
}

/** ChannelWriter -> tcp loopback -> ChannelReader, both ends in this process. */
async function tcpLoopback(bytes: number): Promise<Measure> {
  const l = await listen('tcp:127.0.0.1:0');
  try {
    const block = new Uint8Array(IO_SIZE);
    randomFillSync(block);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const receive = l.accept().then(async (c) => {
      const r = new ChannelReader(c.source, { bufferSize: IO_SIZE });
      const n = await r.forEachChunkToEnd(() => {});
      await r.close();
      await c.sink.close();
      return n;
    });
    const w = new ChannelWriter(await openSink(l.uri), { chunkSize: IO_SIZE, highWaterMark: 8 * IO_SIZE });
    for (let at = 0; at < bytes; at += IO_SIZE) {
      w.bytes(block); // by reference: the block never changes
      if (w.needsDrain) await w.drain();
    }
    await w.close();
    const n = await receive;
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (n !== bytes) throw new Error(`received ${n} bytes, expected ${bytes}`);
    return { mbps: bytes / 1e6 / (ms / 1000), cpuMsPerGiB: ((cpu.user + cpu.system) / 1000) * (2 ** 30 / bytes) };
  } finally {
    await l.close();
  }
}

async function nodePipe(src: string, dst: string): Promise<number> {
  await pipeline(createReadStream(src), createWriteStream(dst));
  return (await stat(dst)).size;
}

/**
 * Times one copy into a fresh output file, after flushing earlier rounds' dirty pages, so
 * no path pays for another's writeback or for truncating a file still being written back.
 */
async function timed(bytes: number, dst: string, copy: () => Promise<number>): Promise<Measure> {
  await rm(dst, { force: true });
  spawnSync('sync');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await copy();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (n !== bytes) throw new Error(`copied ${n} bytes, expected ${bytes}`);
  return { mbps: bytes / 1e6 / (ms / 1000), cpuMsPerGiB: ((cpu.user + cpu.system) / 1000) * (2 ** 30 / bytes) };
}

/** Wall-clock rate, and CPU time (all threads of this process, including libuv's pool) per GiB. */
interface Measure {
  readonly mbps: number;
  readonly cpuMsPerGiB: number;
}

/** Best rate and least CPU over rounds (each minimum is what the path costs without interference). */
function better(a: Measure | undefined, b: Measure): Measure {
  if (a === undefined) return b;
  return { mbps: Math.max(a.mbps, b.mbps), cpuMsPerGiB: Math.min(a.cpuMsPerGiB, b.cpuMsPerGiB) };
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [fa, fb] = [await open(a, 'r'), await open(b, 'r')];
  try {
    const ba = new Uint8Array(IO_SIZE);
    const bb = new Uint8Array(IO_SIZE);
    for (let at = 0; ; at += IO_SIZE) {
      const na = (await fa.read(ba, 0, IO_SIZE, at)).bytesRead;
      const nb = (await fb.read(bb, 0, IO_SIZE, at)).bytesRead;
      if (na !== nb || !Buffer.from(ba.buffer, 0, na).equals(Buffer.from(bb.buffer, 0, nb))) return false;
      if (na === 0) return true;
    }
  } finally {
    await fa.close();
    await fb.close();
  }
}

export async function run(opts: ChannelBenchOptions = {}): Promise<BenchRow[]> {
  const sizeMiB = opts.sizeMiB ?? (opts.quick === true ? 32 : 256);
  const rounds = opts.rounds ?? (opts.quick === true ? 2 : 3);
  const bytes = sizeMiB << 20;
  const dir = await mkdtemp(join(opts.dir ?? process.env['VMSTREAM_BENCH_DIR'] ?? tmpdir(), 'vmstream-bench-channel-'));
  try {
    const src = join(dir, 'in.bin');
    const dst = join(dir, 'out.bin');
    await generate(src, bytes);
    // Warm up both paths (JIT, page cache), and check that ours copies exactly.
    await channelCopy(src, dst);
    if (!(await sameFile(src, dst))) throw new Error('channel copy differs from its input');
    await nodePipe(src, dst);
    // Interleave the paths round by round so drift in machine load hits them alike.
    let ours: Measure | undefined;
    let zero: Measure | undefined;
    let node: Measure | undefined;
    for (let i = 0; i < rounds; i++) {
      ours = better(ours, await timed(bytes, dst, () => channelCopy(src, dst)));
      zero = better(zero, await timed(bytes, dst, () => channelZeroCopy(src, dst)));
      node = better(node, await timed(bytes, dst, () => nodePipe(src, dst)));
    }
    let tcp: Measure | undefined;
    for (let i = 0; i < rounds; i++) tcp = better(tcp, await tcpLoopback(bytes));
    const note = `${sizeMiB} MiB file to file, best of ${rounds}`;
    return [
      { name: 'channel copy (copyChannel)', value: round(ours!.mbps), unit: 'MB/s', note },
      { name: 'channel copy (zero-copy, serial)', value: round(zero!.mbps), unit: 'MB/s', note },
      { name: 'node createReadStream.pipe', value: round(node!.mbps), unit: 'MB/s', note },
      { name: 'channel / node ratio', value: round(ours!.mbps / node!.mbps, 2), unit: 'x', note: 'goal >= 0.8' },
      { name: 'channel copy CPU', value: round(ours!.cpuMsPerGiB), unit: 'ms/GiB', note: 'user+sys, all threads' },
      { name: 'node pipe CPU', value: round(node!.cpuMsPerGiB), unit: 'ms/GiB', note: 'user+sys, all threads' },
      { name: 'channel over tcp loopback', value: round(tcp!.mbps), unit: 'MB/s', note: `${sizeMiB} MiB writer to reader, best of ${rounds}` },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export const channelBench = { name, run };
export default channelBench;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const row of await run({ quick: process.argv.includes('--quick') })) {
    console.log(`${row.name.padEnd(36)} ${String(row.value).padStart(10)} ${row.unit}${row.note === undefined ? '' : `  (${row.note})`}`);
  }
}
