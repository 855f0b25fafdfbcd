#!/usr/bin/env node
/**
 * Saves migration streams from the real QEMU installed here.
 *
 *   node dist/tools/qemu-streams.js [--out DIR] [--only NAME]...   write NAME.mig + manifest.json (default test/fixtures/qemu)
 *   node dist/tools/qemu-streams.js --check [--out DIR] [--only NAME]  regenerate the deterministic ones, compare sha256
 *   node dist/tools/qemu-streams.js --bench FILE                      the large benchmark stream (not committed)
 *   node dist/tools/qemu-streams.js --list                            the configurations
 */

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isVmsError } from '../src/errors.js';
import { checkFixtures, generateFixtures, SAVE_URI_EXAMPLE } from './qemu/fixtures.js';
import { BENCH_MACHINE, MACHINES } from './qemu/machines.js';
import { saveStream } from './qemu/save.js';

const DEFAULT_OUT = 'test/fixtures/qemu';

interface Options {
  out: string;
  only: string[];
  check: boolean;
  bench: string | undefined;
  list: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { out: DEFAULT_OUT, only: [], check: false, bench: undefined, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--out') o.out = value();
    else if (a === '--only') o.only.push(...value().split(','));
    else if (a === '--check') o.check = true;
    else if (a === '--bench') o.bench = value();
    else if (a === '--list') o.list = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: qemu-streams [--out DIR] [--only NAME[,NAME]] [--check] [--bench FILE] [--list]\n' +
          `Streams are saved with QMP migrate to "${SAVE_URI_EXAMPLE}".\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  if (o.list) {
    for (const m of [...MACHINES, BENCH_MACHINE]) process.stdout.write(`${m.name.padEnd(18)} ${m.deterministic ? 'deterministic' : 'varies       '} ${m.description}\n`);
    return 0;
  }
  if (o.bench !== undefined) {
    const path = resolve(o.bench);
    mkdirSync(dirname(path), { recursive: true });
    log(`saving the benchmark stream (${BENCH_MACHINE.description}) to ${path}`);
    const r = await saveStream(BENCH_MACHINE, path, { timeoutMs: 600_000 });
    log(`${r.bytes} bytes in ${r.durationMs} ms, sha256 ${r.sha256}`);
    return 0;
  }
  if (o.check) {
    const results = await checkFixtures(o.out, o.only);
    let bad = 0;
    for (const r of results) {
      const tries = r.attempts > 1 ? ` after ${r.attempts} saves` : '';
      let state: string;
      if (!r.committedOk) state = 'committed file does not match the manifest';
      else if (r.ok) state = `same${tries}`;
      else if (r.framingOnly) state = `differs only in RAM section framing (QEMU timing)${tries}, kept at ${r.keptAt ?? '?'}`;
      else state = `DIFFERS (manifest ${r.expected.slice(0, 16)}…, now ${r.actual.slice(0, 16)}…), kept at ${r.keptAt ?? '?'}`;
      if (!(r.ok && r.committedOk)) bad++;
      log(`${r.name}: ${state}`);
    }
    if (results.length === 0) log('no deterministic fixtures to check');
    return bad === 0 && results.length > 0 ? 0 : 1;
  }
  mkdirSync(o.out, { recursive: true });
  await generateFixtures(o.out, o.only, log);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`qemu-streams: ${isVmsError(err) || err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
