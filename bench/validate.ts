/**
 * Schema validation and XER output on a BER stream of more than 1 GiB, each tool run as a child
 * process under /usr/bin/time for its wall time and peak RSS. MB = 10^6 bytes.
 *
 * The stream: the bench stream (1 GiB guest, 512 MiB random RAM, `node dist/tools/qemu-streams.js
 * --bench`), converted to BER, with its record list repeated until the file passes 1 GiB (the
 * stream and its records use indefinite lengths, so the copy is still one valid MigrationStream).
 * With --quick: the pc-basic fixture's records repeated to about 64 MB. Both are cached in the
 * temp dir.
 *
 *  - vmstream validate (schema MigrationStream)       vs  asn1c's converter -iber -onull
 *    On the file, vmstream seeks past OCTET STRING contents no check looks into (RAM pages) and
 *    reads about 2% of the bytes; from a pipe (`cat FILE | vmstream validate -`, also timed) it
 *    reads them all. asn1c and asn1js read every byte either way. vmstream's compiled schema comes
 *    from its schema cache, filled before timing (as asn1c's converter is compiled before timing).
 *  - asn1js fromBER (schema-free decode; it takes whole buffers only, so the child reads and
 *    decodes the stream one record at a time, from an index of record offsets made beforehand,
 *    with its size caps lifted and embedded OCTET STRING parsing off)
 *  - vmstream validate --xer /dev/null                 vs  asn1c -iber -oxer > /dev/null
 *
 *   npm run build && node dist/bench/validate.js [--quick]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChannelReader } from '../src/channel/reader.js';
import { loadSchemaCached } from '../src/asn1/validate/schema-cache.js';
import { openInput, openOutput } from '../src/cli/util.js';
import { BerEventKind, BerReader } from '../src/format/ber/reader.js';
import { qemuToBer } from '../src/stream/ber/convert.js';

export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

export interface ValidateBenchOptions {
  /** A synthetic stream of about 64 MB instead of the 1 GiB one. */
  readonly quick?: boolean;
  /** Cache directory. Defaults to $TMPDIR/vmstream-bench-cache. */
  readonly cacheDir?: string;
  readonly log?: (s: string) => void;
}

export const name = 'validate';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const TOOL = fileURLToPath(new URL('../tools/qemu-streams.js', import.meta.url));

/** Where the records' contents start and end, and each record's [start, end) within the file. */
interface Layout {
  readonly recordsStart: number;
  readonly recordsEnd: number;
  readonly records: [number, number][];
}

/** Walks the stream once (untimed) to find the record list and its records. */
async function layoutOf(path: string): Promise<Layout> {
  const r = new BerReader(new ChannelReader(openInput(path), { bufferSize: 4 << 20 }));
  const ev = r.event;
  let recordsStart = -1;
  let recordsEnd = -1;
  const records: [number, number][] = [];
  let recStart = -1;
  let inRecords = false;
  for (;;) {
    let k = r.next();
    while (k === BerEventKind.NeedMore) {
      await r.more();
      k = r.next();
    }
    if (k === BerEventKind.Done) break;
    const d = ev.depth;
    if (d === 1 && ev.number === 1 && k === BerEventKind.Start) {
      recordsStart = ev.offset + ev.headerLength;
      inRecords = true;
    } else if (d === 1 && ev.number === 1 && k === BerEventKind.End) {
      recordsEnd = ev.endOffset - (ev.length === -1 ? 2 : 0);
      inRecords = false;
    } else if (inRecords && d === 2) {
      // A record: a constructed value (Start .. End) or a primitive (eof), possibly in pieces.
      if (k === BerEventKind.Start || (k === BerEventKind.Primitive && ev.contentOffset === 0)) recStart = ev.offset;
      if (k === BerEventKind.End) records.push([recStart, ev.endOffset]);
      else if (k === BerEventKind.Primitive && ev.final) records.push([recStart, ev.offset + ev.headerLength + ev.length]);
    }
  }
  r.release();
  return { recordsStart, recordsEnd, records };
}

/** Writes `dst`: `src` with its record list repeated until the file holds at least `minBytes`. */
async function replicate(src: string, dst: string, minBytes: number): Promise<void> {
  const { recordsStart, recordsEnd } = await layoutOf(src);
  const all = readFileSync(src);
  if (recordsStart < 0 || recordsEnd < 0 || all[recordsStart - 1] !== 0x80) throw new Error('bench stream records are not of indefinite length');
  const body = all.subarray(recordsStart, recordsEnd);
  const copies = Math.max(1, Math.ceil((minBytes - all.length) / body.length) + 1);
  const tmp = `${dst}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, all.subarray(0, recordsStart));
    for (let i = 0; i < copies; i++) writeSync(fd, body);
    writeSync(fd, all.subarray(recordsEnd));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, dst);
}

async function benchBer(cache: string, quick: boolean, log: (s: string) => void): Promise<string | undefined> {
  const out = join(cache, quick ? 'validate-quick.ber' : 'validate-1g.ber');
  if (existsSync(out)) return out;
  let mig: string;
  if (quick) mig = join(ROOT, 'test/fixtures/qemu/pc-basic.mig');
  else {
    mig = join(cache, 'bench.mig');
    if (!existsSync(mig)) {
      log(`making the bench stream in ${mig} (QEMU, about half a minute)`);
      const r = spawnSync(process.execPath, [TOOL, '--bench', mig], { stdio: 'inherit' });
      if (r.status !== 0 || !existsSync(mig)) return undefined;
    }
  }
  const once = join(cache, `${basename(out)}.once`);
  await qemuToBer(openInput(mig), openOutput(once));
  await replicate(once, out, quick ? 64e6 : 2 ** 30 + 1);
  rmSync(once, { force: true });
  return out;
}

/** asn1c's converter for our schema, shared with the interop tests' cache (same key). */
function asn1cConverter(log: (s: string) => void): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v asn1c && command -v make && command -v cc']).status !== 0) return undefined;
  const schema = readFileSync(join(ROOT, 'schema/migration.asn1'));
  const r = spawnSync('asn1c', ['-v'], { encoding: 'utf8' });
  const version = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const dir = join(tmpdir(), `vmstream-asn1c-${createHash('sha256').update(schema).update(version).digest('hex').slice(0, 16)}`);
  const progname = join(dir, 'progname');
  if (existsSync(progname)) return progname;
  log('building asn1c\'s converter for schema/migration.asn1');
  const work = mkdtempSync(join(tmpdir(), 'vmstream-asn1c-build-'));
  writeFileSync(join(work, 'migration.asn1'), schema);
  if (spawnSync('asn1c', ['-fcompound-names', 'migration.asn1'], { cwd: work }).status !== 0) return undefined;
  if (spawnSync('make', ['-f', 'Makefile.am.sample', 'CFLAGS+=-DPDU=MigrationStream -I.', '-j2'], { cwd: work }).status !== 0) return undefined;
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true });
  }
  return progname;
}

interface Timed {
  readonly ok: boolean;
  readonly seconds: number;
  /** User + system time of the command and its children (for the pipe row: cat's too). */
  readonly cpuSeconds: number;
  readonly maxRssMiB: number;
  readonly output: string;
}

/** Runs a command under /usr/bin/time (stdout discarded) and reads its wall time, CPU time and peak RSS. */
function timed(cmd: string, args: readonly string[]): Timed {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-bench-time-'));
  const file = join(dir, 'time');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', file, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const [kb, user, sys] = (readFileSync(file, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
    return { ok: r.status === 0, seconds, cpuSeconds: user! + sys!, maxRssMiB: kb! / 1024, output: (r.stderr ?? '').slice(-500) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(opts: ValidateBenchOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const quick = opts.quick === true;
  const cache = opts.cacheDir ?? join(tmpdir(), 'vmstream-bench-cache');
  mkdirSync(cache, { recursive: true });
  const rows: BenchRow[] = [];
  const add = (r: BenchRow): void => {
    rows.push(r);
    log(`${r.name.padEnd(44)} ${r.value.toFixed(1).padStart(9)} ${r.unit}${r.note !== undefined ? `  (${r.note})` : ''}`);
  };
  const ber = await benchBer(cache, quick, log);
  if (ber === undefined) {
    add({ name: 'validate bench', value: 0, unit: 'skipped', note: 'could not make the bench stream (QEMU missing?)' });
    return rows;
  }
  const size = statSync(ber).size;
  const mb = size / 1e6;
  log(`BER stream: ${ber}, ${mb.toFixed(0)} MB`);
  // Warm the page cache.
  spawnSync('cat', [ber], { stdio: ['ignore', 'ignore', 'ignore'] });
  // Compile the default schema into the CLI's schema cache before timing, as asn1c's converter is built before it is timed.
  const schema = await loadSchemaCached([]);
  log(`schema cache: ${schema.cache}`);

  const report = (label: string, t: Timed): number => {
    if (!t.ok) {
      add({ name: `${label}`, value: 0, unit: 'failed', note: t.output.trim().split('\n').pop() ?? '' });
      return 0;
    }
    add({ name: `${label} rate`, value: mb / t.seconds, unit: 'MB/s', note: `${t.seconds.toFixed(2)} s wall, ${t.cpuSeconds.toFixed(2)} s CPU` });
    add({ name: `${label} CPU per GB`, value: (t.cpuSeconds * 1000) / (mb / 1000), unit: 'ms' });
    add({ name: `${label} peak RSS`, value: t.maxRssMiB, unit: 'MiB' });
    return mb / t.seconds;
  };

  const ours = report('validate vmstream', timed(process.execPath, [CLI, 'validate', ber]));
  const piped = report('validate vmstream from a pipe', timed('sh', ['-c', 'cat "$1" | "$2" "$3" validate -', 'sh', ber, process.execPath, CLI]));
  const asn1c = asn1cConverter(log);
  let theirs = 0;
  if (asn1c !== undefined) theirs = report('validate asn1c -onull', timed(asn1c, ['-iber', '-onull', ber]));
  else add({ name: 'validate asn1c', value: 0, unit: 'skipped', note: 'asn1c, make or cc missing' });

  const index = join(cache, `${basename(ber)}.records.json`);
  if (!existsSync(index)) writeFileSync(index, JSON.stringify((await layoutOf(ber)).records));
  const js = report('decode asn1js (per record)', timed(process.execPath, [SELF, '--asn1js-child', ber, index]));

  const xerOurs = report('xer vmstream', timed(process.execPath, [CLI, 'validate', '--xer', '/dev/null', ber]));
  let xerTheirs = 0;
  if (asn1c !== undefined) xerTheirs = report('xer asn1c -oxer', timed(asn1c, ['-iber', '-oxer', ber]));

  if (ours > 0 && theirs > 0) add({ name: 'validate: vmstream / asn1c (goal >= 1.5)', value: ours / theirs, unit: 'x' });
  if (ours > 0 && js > 0) add({ name: 'validate: vmstream / asn1js (goal >= 5)', value: ours / js, unit: 'x' });
  if (piped > 0 && theirs > 0) add({ name: 'validate from a pipe: vmstream / asn1c', value: piped / theirs, unit: 'x' });
  if (piped > 0 && js > 0) add({ name: 'validate from a pipe: vmstream / asn1js', value: piped / js, unit: 'x' });
  if (xerOurs > 0 && xerTheirs > 0) add({ name: 'xer: vmstream / asn1c (goal >= 5)', value: xerOurs / xerTheirs, unit: 'x' });
  return rows;
}

/** The asn1js child: decodes each record of the stream with asn1js.fromBER, reading one record at a time. */
async function asn1jsChild(ber: string, indexFile: string): Promise<void> {
  const asn1js = await import('asn1js');
  const records = JSON.parse(readFileSync(indexFile, 'utf8')) as [number, number][];
  const fd = openSync(ber, 'r');
  let values = 0;
  try {
    for (const [start, end] of records) {
      const buf = new Uint8Array(end - start);
      readSync(fd, buf, 0, buf.length, start);
      // Lift asn1js's default caps (16 MiB contents, 10,000 nodes) so whole records decode, and
      // leave OCTET STRING contents unparsed, as the schema validator does.
      const r = asn1js.fromBER(buf, { maxContentLength: 2 ** 31, maxNodes: 1e9, maxDepth: 1000, parseEmbedded: false });
      if (r.offset === -1) throw new Error(`asn1js: ${r.result.error} at record ${start}`);
      values++;
    }
  } finally {
    closeSync(fd);
  }
  if (values !== records.length) process.exit(1);
}

if (process.argv[2] === '--asn1js-child') {
  await asn1jsChild(process.argv[3]!, process.argv[4]!);
} else if (process.argv[1] === SELF) {
  await run({ quick: process.argv.includes('--quick') });
}
