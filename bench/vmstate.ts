/**
 * VMState throughput: save and load of a description with 1,000 mixed fields, and of one
 * 64 MiB buffer, through the memory and file transports, in MB/s (1 MB = 2^20 bytes).
 *
 *   npm run build && node dist/bench/vmstate.js [bufferMiB]      (default 64)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChannelReader } from '../src/channel/reader.js';
import { ChannelWriter } from '../src/channel/writer.js';
import type { ByteSink } from '../src/channel/transport.js';
import { MemorySink, MemorySource } from '../src/channel/transports/memory.js';
import { FileSink, FileSource } from '../src/channel/transports/file.js';
import { BinaryInputVisitor, BinaryOutputVisitor } from '../src/format/binary/index.js';
import { array, bool, buffer, emptyState, int32, int64, load, save, struct, uint16, uint32, uint64, uint8, vmstate } from '../src/vmstate/index.js';
import type { AnyVmsd, Field, StateOf } from '../src/vmstate/index.js';
import type { BenchRow } from './common.js';

export type { BenchRow } from './common.js';

export interface VmstateBenchOptions {
  /** Smaller inputs and shorter runs (CI smoke run): an 8 MiB buffer, 100 ms. Defaults to false. */
  readonly quick?: boolean;
  /** Size of the big buffer in MiB. Defaults to 64 (8 when quick). */
  readonly bufferMiB?: number;
  /** Minimum time per measurement in ms (repeats until reached). Defaults to 400 (100 when quick). */
  readonly minMs?: number;
}

export const name = 'vmstate';

/** 1,000 fields: scalars of every width, small arrays and a nested struct, cycled. */
function mixedDescription(): AnyVmsd {
  const inner = vmstate({ name: 'mixed/inner', fields: { a: uint32(), b: uint16(), c: bool() } });
  const kinds: (() => Field<unknown>)[] = [
    () => uint8(),
    () => uint16(),
    () => uint32(),
    () => uint64(),
    () => int32(),
    () => int64(),
    () => bool(),
    () => array(uint32(), 4),
    () => struct(inner),
    () => buffer(16),
  ];
  const fields: Record<string, Field<unknown>> = {};
  for (let i = 0; i < 1000; i++) fields[`f${i}`] = kinds[i % kinds.length]!();
  return vmstate({ name: 'mixed', version: 1, fields });
}

function mixedState(desc: AnyVmsd): Record<string, unknown> {
  const s = emptyState(desc) as Record<string, unknown>;
  let i = 0;
  for (const [k, v] of Object.entries(s)) {
    i++;
    if (typeof v === 'number') s[k] = i & 0x7f;
    else if (typeof v === 'bigint') s[k] = BigInt(i) * 0x10001n;
    else if (typeof v === 'boolean') s[k] = (i & 1) === 1;
  }
  return s;
}

async function timed(minMs: number, once: () => Promise<number>): Promise<{ bytes: number; ms: number; runs: number }> {
  let bytes = 0;
  let runs = 0;
  const t0 = performance.now();
  let ms = 0;
  do {
    bytes += await once();
    runs++;
    ms = performance.now() - t0;
  } while (ms < minMs);
  return { bytes, ms, runs };
}

const mbps = (bytes: number, ms: number): number => Math.round((bytes / (1 << 20) / (ms / 1000)) * 10) / 10;

export async function run(opts: VmstateBenchOptions = {}): Promise<BenchRow[]> {
  const minMs = opts.minMs ?? (opts.quick === true ? 100 : 400);
  const bufferMiB = opts.bufferMiB ?? (opts.quick === true ? 8 : 64);
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-bench-vmstate-'));
  try {
    const mixed = mixedDescription();
    const big = vmstate({ name: 'big', version: 1, fields: { data: buffer(bufferMiB << 20) } });
    const data = new Uint8Array(bufferMiB << 20);
    for (let i = 0; i < data.length; i += 4096) data[i] = i >>> 12;
    // `reps` states per measured run (each followed by the EOF byte), so a run is large enough
    // that creating writers and readers does not dominate.
    const cases: { label: string; desc: AnyVmsd; state: Record<string, unknown>; reps: number; minMs: number }[] = [
      { label: '1000 mixed fields', desc: mixed, state: mixedState(mixed), reps: 200, minMs },
      { label: `${bufferMiB} MiB buffer`, desc: big, state: { data } satisfies StateOf<typeof big>, reps: 1, minMs: 0 },
    ];

    for (const c of cases) {
      const saveAll = async (sink: ByteSink): Promise<number> => {
        const w = new ChannelWriter(sink);
        const out = new BinaryOutputVisitor(w);
        for (let i = 0; i < c.reps; i++) {
          save(c.desc, c.state, out);
          // Something always follows a section (a footer, EOF); the loader peeks one byte past
          // the state for subsections, so give it the QEMU_VM_EOF byte.
          w.u8(0);
          if (w.needsDrain) await w.drain();
        }
        await w.close();
        return w.bytesPut;
      };
      const loadAll = (r: ChannelReader): void => {
        const inp = new BinaryInputVisitor(r);
        const target = emptyState(c.desc);
        for (let i = 0; i < c.reps; i++) {
          load(c.desc, inp, target);
          r.u8();
        }
      };
      const memory = new MemorySink();
      await saveAll(memory);
      const wire = memory.bytes();
      const note = `${wire.length / c.reps - 1} bytes per state, ${c.reps} per run`;

      // Memory transport: MemorySink (copies each chunk) and MemorySource.
      const saveMem = await timed(c.minMs, () => saveAll(new MemorySink()));
      rows.push({ name: `save ${c.label} (memory)`, value: mbps(saveMem.bytes, saveMem.ms), unit: 'MB/s', note: `${note}, ${saveMem.runs} runs` });
      const loadMem = await timed(c.minMs, async () => {
        const r = new ChannelReader(new MemorySource(wire), { bufferSize: Math.min(wire.length, 1 << 20) });
        await r.fill(wire.length);
        loadAll(r);
        return wire.length;
      });
      rows.push({ name: `load ${c.label} (memory)`, value: mbps(loadMem.bytes, loadMem.ms), unit: 'MB/s', note: `${note}, ${loadMem.runs} runs` });

      const path = join(dir, `${c.desc.name}.bin`);
      const saveFile = await timed(c.minMs, async () => saveAll(await FileSink.open(path)));
      rows.push({ name: `save ${c.label} (file)`, value: mbps(saveFile.bytes, saveFile.ms), unit: 'MB/s', note: `${note}, ${saveFile.runs} runs` });
      const loadFile = await timed(c.minMs, async () => {
        const r = new ChannelReader(await FileSource.open(path));
        // Pull the bytes in first, then decode synchronously (no NEED_MORE retries).
        await r.fill(wire.length);
        loadAll(r);
        await r.close();
        return wire.length;
      });
      rows.push({ name: `load ${c.label} (file)`, value: mbps(loadFile.bytes, loadFile.ms), unit: 'MB/s', note: `${note}, ${loadFile.runs} runs` });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bufferMiB = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  for (const row of await run({ bufferMiB })) {
    console.log(`${row.name.padEnd(36)} ${String(row.value).padStart(10)} ${row.unit}${row.note === undefined ? '' : `  (${row.note})`}`);
  }
}
