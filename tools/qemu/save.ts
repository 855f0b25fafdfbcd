/**
 * Saves one machine configuration's migration stream from a real QEMU: start it, set the
 * capabilities, `migrate` to `exec:cat > FILE`, wait, record what QEMU said.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmsError } from '../../src/errors.js';
import { launchQemu, QEMU_BINARY, shellQuote, type QemuHandle } from './launch.js';
import { resolveArgs, writeInputs, type MachineConfig } from './machines.js';

export interface SaveResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** HMP `info migrate` on the source after completion. */
  readonly infoMigrate: string;
  /** The QMP commands sent, in order, as JSON text (for the manifest). */
  readonly qmpCommands: readonly string[];
  /** `xbzrle-cache` statistics from the final `query-migrate`, when xbzrle was on. */
  readonly xbzrleCache: Record<string, unknown> | undefined;
  readonly durationMs: number;
}

/** sha256 of a file, hex. */
export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The shell command used as the migration target: write to a side file, rename when complete. */
export function saveUri(path: string): string {
  // QEMU reports `completed` before its `cat` child has necessarily flushed; the rename marks the end.
  return `exec:cat > ${shellQuote(`${path}.part`)} && mv ${shellQuote(`${path}.part`)} ${shellQuote(path)}`;
}

/** Runs QEMU for `config` and saves its stream to `outPath`. */
export async function saveStream(config: MachineConfig, outFile: string, options: { timeoutMs?: number } = {}): Promise<SaveResult> {
  const outPath = resolve(outFile); // QEMU runs in its own temp dir
  const started = Date.now();
  const inputDir = mkdtempSync(join(tmpdir(), `vmstream-${config.name}-`));
  const qmpCommands: string[] = [];
  let qemu: QemuHandle | undefined;
  try {
    writeInputs(config, inputDir);
    rmSync(outPath, { force: true });
    qemu = await launchQemu({ args: resolveArgs(config.args, inputDir) });
    const run = async (command: string, args?: Record<string, unknown>): Promise<unknown> => {
      qmpCommands.push(JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }));
      return qemu!.qmp.execute(command, args);
    };
    const caps = Object.entries(config.capabilities).map(([capability, state]) => ({ capability, state }));
    if (caps.length > 0) await run('migrate-set-capabilities', { capabilities: caps });
    if (config.parameters !== undefined) await run('migrate-set-parameters', config.parameters);

    const live = config.live;
    if (live !== undefined) {
      await waitGuestWriting(qemu);
      await run('migrate-set-parameters', live.slowParameters);
    }
    await run('migrate', { uri: saveUri(outPath) });

    let finishing = false;
    const iterateUntil = Date.now() + (live?.maxIterateMs ?? 0);
    const outcome = await qemu.waitMigration({
      timeoutMs: options.timeoutMs ?? 120_000,
      pollMs: live === undefined ? 20 : 100,
      onPoll: async (info) => {
        if (live === undefined || finishing) return;
        const cache = info['xbzrle-cache'] as { pages?: number } | undefined;
        if ((cache?.pages ?? 0) >= live.xbzrlePagesWanted || Date.now() > iterateUntil) {
          finishing = true;
          // Stopping the guest lets the last round converge; the stream is the same format either way.
          await run('stop');
          await run('migrate-set-parameters', live.finishParameters);
        }
      },
    });
    if (outcome.status !== 'completed') {
      throw new VmsError('E_IO', `${config.name}: migration ${outcome.status}: ${outcome.error ?? qemu.stderr()}`);
    }
    await waitForFile(outPath, 10_000);
    const infoMigrate = await qemu.hmp('info migrate');
    const xbzrleCache = outcome.info?.['xbzrle-cache'] as Record<string, unknown> | undefined;
    return {
      path: outPath,
      bytes: statSync(outPath).size,
      sha256: sha256File(outPath),
      infoMigrate: infoMigrate.replace(/\r\n/g, '\n'),
      qmpCommands,
      xbzrleCache,
      durationMs: Date.now() - started,
    };
  } finally {
    await qemu?.quit();
    rmSync(inputDir, { recursive: true, force: true });
  }
}

/** Waits until the boot-sector guest has started changing memory (SeaBIOS boot takes a moment under TCG). */
async function waitGuestWriting(qemu: QemuHandle): Promise<void> {
  const deadline = Date.now() + 20_000;
  const read = async (): Promise<string> => (await qemu.hmp('xp /1wx 0x10000')).trim();
  const first = await read();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = await read();
    if (now !== first && !now.endsWith('0x00000000')) return;
  }
  throw new VmsError('E_TIMEOUT', `the test guest never started writing memory (${QEMU_BINARY} stderr: ${qemu.stderr().trim()})`);
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new VmsError('E_TIMEOUT', `migration completed but ${path} was not written within ${timeoutMs} ms`);
    await sleep(10);
  }
}
