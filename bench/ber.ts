/**
 * BER throughput: BerWriter generating a RAM-like stream (4 KiB OCTET STRING pages in
 * indefinite SEQUENCEs), BerReader and the X.690 check reading it back from a file, and
 * asn1js decoding the same bytes (value by value, since it builds a whole tree per call).
 *
 *   npm run build && node dist/bench/ber.js [sizeMiB]      (default 256)
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import { ChannelReader } from '../src/channel/reader.js';
import { ChannelWriter } from '../src/channel/writer.js';
import type { ByteSink, ByteSource } from '../src/channel/transport.js';
import { BerEventKind, BerReader, BerWriter, TagClass, UniversalTag, berTag, integerSize, tlvSize } from '../src/format/ber/index.js';
import { checkX690 } from '../src/asn1/x690/check.js';
import type { BenchRow } from './common.js';

export interface BerBenchOptions {
  /** Size of the generated stream in MiB. Defaults to 256. */
  readonly sizeMiB?: number;
  /** asn1js decodes only this many MiB of the stream (it runs near 10 MB/s). Defaults to 64. */
  readonly asn1jsMiB?: number;
  /** Where progress lines go. Defaults to console.log. */
  readonly log?: (line: string) => void;
}

export type { BenchRow } from './common.js';

export const name = 'ber';

interface BenchResult {
  readonly name: string;
  readonly bytes: number;
  readonly ms: number;
  readonly mbPerSec: number;
}

const PAGE = 4096;
const PAGES_PER_BATCH = 256;
const PAGE_TAG = berTag(TagClass.Application, 9040); // Dave Gilbert's FullPage {addr, data}

/** Writes `size` bytes' worth of pages: top-level indefinite SEQUENCEs of 256 definite page records. */
async function generate(path: string, sizeBytes: number, zeroCopyPages: boolean): Promise<BenchResult> {
  const fd = openSync(path, 'w');
  const sink: ByteSink = {
    write: async (chunk) => {
      let at = 0;
      while (at < chunk.length) at += writeSync(fd, chunk, at, chunk.length - at);
    },
    close: async () => closeSync(fd),
    destroy: () => closeSync(fd),
  };
  const out = new ChannelWriter(sink, zeroCopyPages ? { chunkSize: 1 << 20, zeroCopyThreshold: PAGE } : { chunkSize: 1 << 20 });
  const w = new BerWriter(out);
  // A few distinct pages, reused: the writer sends them by reference, so they must not change
  // until drained, and here they never do.
  const pages = Array.from({ length: 16 }, (_, i) => new Uint8Array(PAGE).fill(i * 17 + 1));
  const t0 = performance.now();
  let addr = 0;
  while (out.bytesPut < sizeBytes) {
    w.startIndefinite(UniversalTag.Sequence);
    for (let i = 0; i < PAGES_PER_BATCH; i++, addr += PAGE) {
      const inner = tlvSize(UniversalTag.Integer, integerSize(addr)) + tlvSize(UniversalTag.OctetString, PAGE);
      w.startDefinite(PAGE_TAG, inner).integer(addr).octetString(pages[i & 15]!).end();
    }
    w.end();
    if (out.needsDrain) await out.drain();
  }
  await out.close();
  const ms = performance.now() - t0;
  const bytes = statSync(path).size;
  return { name: `BerWriter -> file${zeroCopyPages ? ' (0-copy)' : ''}`, bytes, ms, mbPerSec: bytes / 1e6 / (ms / 1000) };
}

function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let pos = 0;
  return {
    size: statSync(path).size,
    read: async (into) => {
      const n = readSync(fd, into, 0, into.length, pos);
      pos += n;
      return n;
    },
    seek: (p) => void (pos = p),
    close: async () => closeSync(fd),
  };
}

async function readAll(path: string): Promise<BenchResult> {
  const src = fileSource(path);
  const r = new BerReader(new ChannelReader(src, { bufferSize: 1 << 20 }));
  const t0 = performance.now();
  let primitives = 0;
  let contentBytes = 0;
  for (;;) {
    let k = r.next();
    while (k === BerEventKind.NeedMore) {
      await r.more();
      k = r.next();
    }
    if (k === BerEventKind.Done) break;
    if (k === BerEventKind.Primitive) {
      primitives++;
      contentBytes += r.event.end - r.event.start;
    }
  }
  const ms = performance.now() - t0;
  await src.close();
  if (contentBytes === 0 || primitives === 0) throw new Error('bench read nothing');
  return { name: 'BerReader <- file', bytes: src.size!, ms, mbPerSec: src.size! / 1e6 / (ms / 1000) };
}

/** The parser alone: the whole stream already in memory, events carry views into it. */
function readInMemory(bytes: Uint8Array): BenchResult {
  const r = new BerReader(new ChannelReader(bytes));
  const t0 = performance.now();
  let primitives = 0;
  for (let k = r.next(); k !== BerEventKind.Done; k = r.next()) if (k === BerEventKind.Primitive) primitives++;
  const ms = performance.now() - t0;
  if (primitives === 0) throw new Error('bench read nothing');
  return { name: 'BerReader <- memory', bytes: bytes.length, ms, mbPerSec: bytes.length / 1e6 / (ms / 1000) };
}

async function check(path: string): Promise<BenchResult> {
  const src = fileSource(path);
  const t0 = performance.now();
  const report = await checkX690(new ChannelReader(src, { bufferSize: 1 << 20 }));
  const ms = performance.now() - t0;
  await src.close();
  if (!report.valid) throw new Error('bench stream does not pass the X.690 check');
  return { name: 'X.690 check <- file', bytes: src.size!, ms, mbPerSec: src.size! / 1e6 / (ms / 1000) };
}

/** asn1js takes whole values: read 16 MiB windows and decode one top-level batch at a time. */
function asn1jsAll(path: string, limit: number): BenchResult {
  const fd = openSync(path, 'r');
  const size = Math.min(limit, statSync(path).size);
  const window = new Uint8Array(16 << 20);
  let filled = 0;
  let pos = 0;
  let values = 0;
  const t0 = performance.now();
  for (;;) {
    const n = readSync(fd, window, filled, Math.min(window.length - filled, size - pos), pos);
    pos += n;
    filled += n;
    let at = 0;
    while (at < filled) {
      // No input copy and no OCTET STRING sniffing: the settings most favourable to asn1js.
      const res = asn1js.fromBER(window.subarray(at, filled), { maxNodes: 1e7, copyInput: false, parseEmbedded: false });
      if (res.offset === -1) break; // incomplete value: read more
      at += res.offset;
      values++;
    }
    window.copyWithin(0, at, filled);
    filled -= at;
    if (n === 0) break;
  }
  const ms = performance.now() - t0;
  closeSync(fd);
  if (values === 0) throw new Error('asn1js decoded nothing');
  const bytes = size - filled; // a cut-off batch at the limit is not counted
  return { name: 'asn1js fromBER <- file', bytes, ms, mbPerSec: bytes / 1e6 / (ms / 1000) };
}

export async function run(opts: BerBenchOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? console.log;
  const sizeBytes = (opts.sizeMiB ?? 256) << 20;
  const dir = mkdtempSync(join(tmpdir(), 'vms-bench-ber-'));
  const path = join(dir, 'pages.ber');
  const results: BenchRow[] = [];
  try {
    const steps = [
      () => generate(path, sizeBytes, false),
      () => readAll(path),
      async () => {
        // Writer and streaming reader so far: memory must not grow with the stream.
        log(`peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (writer, reader from file)`);
        return readInMemory(readFileSync(path));
      },
      () => check(path),
      async () => asn1jsAll(path, (opts.asn1jsMiB ?? 64) << 20),
      // Pages by reference: today each one makes the channel ship its partly filled chunk and
      // start a fresh one, so this is slow; kept small, and last, to track that.
      () => generate(path, Math.min(sizeBytes, 8 << 20), true),
    ];
    for (const step of steps) {
      const r = await step();
      results.push({ name: r.name, value: Math.round(r.mbPerSec), unit: 'MB/s', note: `${(r.bytes / (1 << 20)).toFixed(0)} MiB in ${r.ms.toFixed(0)} ms` });
      log(`${r.name.padEnd(26)} ${(r.bytes / (1 << 20)).toFixed(0).padStart(5)} MiB  ${r.ms.toFixed(0).padStart(7)} ms  ${r.mbPerSec.toFixed(0).padStart(6)} MB/s`);
    }
    log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (includes the in-memory copy)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const size = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  await run(size === undefined ? {} : { sizeMiB: size });
}
