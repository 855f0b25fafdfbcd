/**
 * The committed fixture set (`test/fixtures/qemu/`): generating it, describing it in
 * `manifest.json`, and checking that QEMU still produces the same bytes.
 */

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadIntoQemu, type LoadResult } from './incoming.js';
import { QEMU_BINARY, type QemuHandle } from './launch.js';
import { DIR_PLACEHOLDER, MACHINES, resolveArgs, writeInputs, type InputFile, type MachineConfig } from './machines.js';
import { framingFreeDigest, scanRam, type RamBlockInfo, type RamRecordCounts } from './ram-scan.js';
import { saveStream, sha256File, saveUri } from './save.js';

export const MANIFEST_NAME = 'manifest.json';

export interface ManifestEntry {
  readonly name: string;
  readonly file: string;
  readonly description: string;
  /** True when a regeneration must give the same sha256 (checked by `--check`). */
  readonly deterministic: boolean;
  readonly bytes: number;
  readonly sha256: string;
  /** Machine arguments; `@DIR@` is the directory holding the generated `inputs`. */
  readonly machineArgs: readonly string[];
  readonly inputs: readonly InputFile[];
  readonly capabilities: Readonly<Record<string, boolean>>;
  /** The full QEMU command line used to save (the socket path is under `@DIR@` too). */
  readonly commandLine: string;
  /** The QMP commands sent to the saving QEMU, in order. */
  readonly qmp: readonly string[];
  /** HMP `info migrate` on the source once it completed. */
  readonly infoMigrate: string;
  /** What a walk of the RAM sections found (see tools/qemu/ram-scan.ts). */
  readonly ram: {
    readonly machine: string | null;
    readonly configurationSubsections: readonly string[];
    readonly capabilities: readonly string[];
    readonly blocks: readonly RamBlockInfo[];
    readonly records: RamRecordCounts;
    readonly footers: boolean;
    /** Offset of the first device (FULL) section. */
    readonly deviceSectionsOffset: number;
  };
  readonly xbzrleCache?: Record<string, unknown>;
}

export interface Manifest {
  readonly about: string;
  readonly qemu: string;
  readonly regenerate: string;
  readonly check: string;
  readonly streams: ManifestEntry[];
}

/** `qemu-system-x86_64 --version`, first line. */
export function qemuVersion(): string {
  return execFileSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
}

export function readManifest(dir: string): Manifest | undefined {
  const path = join(dir, MANIFEST_NAME);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

export function writeManifest(dir: string, manifest: Manifest): void {
  writeFileSync(join(dir, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
}

/** Looks a configuration up by name. */
export function machineNamed(name: string): MachineConfig {
  const m = MACHINES.find((x) => x.name === name);
  if (m === undefined) throw new Error(`unknown configuration ${name}; known: ${MACHINES.map((x) => x.name).join(', ')}`);
  return m;
}

/** Saves `config` into `outDir/NAME.mig` and describes it. */
export async function generateFixture(config: MachineConfig, outDirGiven: string): Promise<ManifestEntry> {
  const outDir = resolve(outDirGiven);
  const file = `${config.name}.mig`;
  const path = join(outDir, file);
  const saved = await saveStream(config, path);
  const scan = scanRam(readFileSync(path));
  if (config.capabilities['xbzrle'] === true && scan.records.xbzrle === 0) {
    throw new Error(`${config.name}: QEMU sent no XBZRLE (0x40) records; the guest did not keep pages changing`);
  }
  const entry: ManifestEntry = {
    name: config.name,
    file,
    description: config.description,
    deterministic: config.deterministic,
    bytes: saved.bytes,
    sha256: saved.sha256,
    machineArgs: config.args,
    inputs: config.inputs,
    capabilities: config.capabilities,
    commandLine: [QEMU_BINARY, ...config.args, '-display', 'none', '-nodefaults', '-qmp', `unix:${DIR_PLACEHOLDER}/qmp.sock,server=on,wait=off`].join(' '),
    qmp: saved.qmpCommands.map((c) => c.split(outDir).join('@OUT@')),
    infoMigrate: saved.infoMigrate,
    ram: {
      machine: scan.machine ?? null,
      configurationSubsections: scan.configurationSubsections,
      capabilities: scan.capabilities,
      blocks: scan.blocks,
      records: scan.records,
      footers: scan.footers,
      deviceSectionsOffset: scan.stopOffset,
    },
  };
  return saved.xbzrleCache === undefined ? entry : { ...entry, xbzrleCache: saved.xbzrleCache };
}

/** Generates the fixtures named in `only` (all when empty) into `outDir`, merging into its manifest. */
export async function generateFixtures(outDir: string, only: readonly string[] = [], log: (s: string) => void = () => undefined): Promise<Manifest> {
  const configs = only.length === 0 ? MACHINES : only.map(machineNamed);
  const old = readManifest(outDir);
  const entries = new Map<string, ManifestEntry>((old?.streams ?? []).map((e) => [e.name, e]));
  for (const config of configs) {
    const entry = await generateFixture(config, outDir);
    const r = entry.ram.records;
    log(`${entry.name}: ${entry.bytes} bytes, sha256 ${entry.sha256.slice(0, 16)}…, RAM records zero ${r.zero} page ${r.page} xbzrle ${r.xbzrle}`);
    entries.set(entry.name, entry);
  }
  const manifest: Manifest = {
    about:
      'Migration streams saved from a real QEMU by tools/qemu-streams.ts. @DIR@ stands for a directory holding the generated inputs ' +
      '(random files from a seed, a boot sector), @OUT@ for the output directory. Deterministic streams must regenerate byte-identically.',
    qemu: qemuVersion(),
    regenerate: 'npm run build && node dist/tools/qemu-streams.js --out test/fixtures/qemu [--only NAME]',
    check: 'npm run build && node dist/tools/qemu-streams.js --check',
    streams: MACHINES.map((m) => entries.get(m.name)).filter((e): e is ManifestEntry => e !== undefined),
  };
  writeManifest(outDir, manifest);
  return manifest;
}

export interface CheckResult {
  readonly name: string;
  /** A regeneration gave exactly the manifest's sha256. */
  readonly ok: boolean;
  /**
   * No attempt was byte-identical, but the last one differs from the committed file only in
   * where QEMU split RAM into sections (a wall-clock limit; happens on an overloaded machine).
   */
  readonly framingOnly: boolean;
  /** Saves made (a timing-split stream is retried, up to `attempts`). */
  readonly attempts: number;
  readonly expected: string;
  readonly actual: string;
  /** The committed file itself still matches the manifest. */
  readonly committedOk: boolean;
  /** Where a regenerated stream that differs was kept, for comparing. */
  readonly keptAt: string | undefined;
}

/**
 * Regenerates every deterministic fixture listed in `fixturesDir`'s manifest (or those in
 * `only`) into a temp dir and compares sha256 with the manifest and the committed file.
 * A stream that differs is saved again, up to `attempts` times in all, because QEMU may
 * split its RAM sections differently when the machine is busy; see {@link CheckResult}.
 */
export async function checkFixtures(fixturesDir: string, only: readonly string[] = [], attempts = 3): Promise<CheckResult[]> {
  const manifest = readManifest(fixturesDir);
  if (manifest === undefined) throw new Error(`no ${MANIFEST_NAME} in ${fixturesDir}`);
  const tmp = mkdtempSync(join(tmpdir(), 'vmstream-check-'));
  try {
    const results: CheckResult[] = [];
    for (const entry of manifest.streams) {
      if (!entry.deterministic || (only.length > 0 && !only.includes(entry.name))) continue;
      const out = join(tmp, entry.file);
      const committed = join(fixturesDir, entry.file);
      const committedOk = existsSync(committed) && sha256File(committed) === entry.sha256;
      let actual = '';
      let tries = 0;
      while (tries < attempts) {
        tries++;
        actual = (await saveStream(machineNamed(entry.name), out)).sha256;
        if (actual === entry.sha256) break;
      }
      const ok = actual === entry.sha256;
      let keptAt: string | undefined;
      let framingOnly = false;
      if (!ok) {
        keptAt = join(tmpdir(), `vmstream-check-${entry.name}-${actual.slice(0, 8)}.mig`);
        copyFileSync(out, keptAt);
        framingOnly = existsSync(committed) && framingFreeDigest(readFileSync(out)) === framingFreeDigest(readFileSync(committed));
      }
      results.push({ name: entry.name, ok, framingOnly, attempts: tries, expected: entry.sha256, actual, committedOk, keptAt });
      rmSync(out, { force: true });
    }
    return results;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Loads a stream into QEMU with the machine arguments and capabilities of `entry` (inputs
 * such as the boot sector are regenerated in a temp dir). `streamPath` defaults to the
 * committed file; pass another (e.g. a truncated copy) to see QEMU reject it.
 */
export async function loadFixture<T = undefined>(
  fixturesDir: string,
  entry: ManifestEntry,
  streamPath: string = join(fixturesDir, entry.file),
  inspect?: (qemu: QemuHandle) => Promise<T>,
): Promise<LoadResult<T>> {
  const config = machineNamed(entry.name);
  const inputDir = mkdtempSync(join(tmpdir(), `vmstream-load-${entry.name}-`));
  try {
    writeInputs(config, inputDir);
    return await loadIntoQemu(streamPath, resolveArgs(entry.machineArgs, inputDir), { capabilities: entry.capabilities }, inspect);
  } finally {
    rmSync(inputDir, { recursive: true, force: true });
  }
}

/** The migration URI a save uses, exported for documentation in the CLI's help. */
export const SAVE_URI_EXAMPLE = saveUri('OUT.mig');
