/**
 * The bench runner (`npm run bench`). Runs the modules listed below in one process, prints a
 * table and writes bench/out/results.json.
 *
 *   npm run bench                      all modules
 *   npm run bench -- --only channel    one module (repeat --only for more)
 *   npm run bench -- --quick           smaller inputs, fewer rounds (CI smoke run)
 *
 * A module exports `name` and `run(opts): Promise<BenchRow[]>`; opts carries `quick`.
 * To add one, append it to MODULES. Modules load lazily, so a broken one is reported as
 * failed without stopping the others.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

export interface BenchOptions {
  /** Smaller inputs and fewer rounds. */
  readonly quick?: boolean;
}

interface BenchModule {
  readonly name: string;
  run(opts: BenchOptions): Promise<readonly BenchRow[]>;
}

/** The registry: a name and a loader per module. */
const MODULES: readonly { readonly name: string; readonly load: () => Promise<BenchModule> }[] = [
  { name: 'channel', load: async () => (await import('./channel.js')).default },
  { name: 'vmstate', load: async () => asModule(await import('./vmstate.js')) },
  { name: 'ber', load: async () => asModule(await import('./ber.js')) },
  { name: 'stream', load: async () => asModule(await import('./stream.js')) },
  { name: 'ber-convert', load: async () => asModule(await import('./ber-convert.js')) },
  { name: 'migration', load: async () => asModule(await import('./migration.js')) },
  { name: 'validate', load: async () => asModule(await import('./validate.js')) },
];

/** Modules take their own option types; each accepts at least `quick` (unknown keys are ignored). */
function asModule(m: { name: string; run: (opts?: never) => Promise<readonly BenchRow[]> }): BenchModule {
  return { name: m.name, run: (opts) => m.run(opts as never) };
}

interface ModuleResult {
  readonly rows: readonly BenchRow[];
  readonly ms: number;
  readonly error?: string;
}

function parseArgs(argv: readonly string[]): { only: string[]; quick: boolean } {
  const only: string[] = [];
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--only' && argv[i + 1] !== undefined) only.push(...argv[++i]!.split(','));
    else if (a.startsWith('--only=')) only.push(...a.slice('--only='.length).split(','));
    else throw new Error(`bench: unknown argument ${a} (use --only NAME, --quick)`);
  }
  const known = new Set(MODULES.map((m) => m.name));
  for (const n of only) if (!known.has(n)) throw new Error(`bench: no module "${n}" (have: ${[...known].join(', ')})`);
  return { only, quick };
}

function table(results: ReadonlyMap<string, ModuleResult>): string {
  const lines: string[] = [];
  const w = Math.max(20, ...[...results.values()].flatMap((r) => r.rows.map((row) => row.name.length)));
  for (const [name, r] of results) {
    lines.push(`${name}  (${(r.ms / 1000).toFixed(1)} s)${r.error === undefined ? '' : `  FAILED: ${r.error}`}`);
    for (const row of r.rows) {
      const value = Number.isInteger(row.value) ? String(row.value) : row.value.toFixed(2);
      lines.push(`  ${row.name.padEnd(w)} ${value.padStart(12)} ${row.unit.padEnd(8)}${row.note === undefined ? '' : ` ${row.note}`}`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  let args: { only: string[]; quick: boolean };
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const { only, quick } = args;
  const chosen = MODULES.filter((m) => only.length === 0 || only.includes(m.name));
  const results = new Map<string, ModuleResult>();
  let failed = 0;
  for (const entry of chosen) {
    const t0 = performance.now();
    process.stderr.write(`bench: ${entry.name}...\n`);
    try {
      const mod = await entry.load();
      const rows = await mod.run({ quick });
      results.set(entry.name, { rows, ms: performance.now() - t0 });
    } catch (e) {
      failed++;
      const error = e instanceof Error ? e.message : String(e);
      results.set(entry.name, { rows: [], ms: performance.now() - t0, error });
    }
  }
  console.log(table(results));
  const outDir = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    quick,
    modules: Object.fromEntries(results),
  };
  writeFileSync(`${outDir}results.json`, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`bench: wrote bench/out/results.json\n`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
