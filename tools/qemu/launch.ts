/**
 * Starts qemu-system-x86_64 with a QMP socket in a private temp dir and hands back a
 * handle. Every child is reaped: `quit()` asks politely then kills, and an exit hook
 * kills whatever is still running if the Node process ends first (a failed test included).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmsError } from '../../src/errors.js';
import { QmpClient } from './qmp.js';

/** The QEMU binary: `$QEMU` or `qemu-system-x86_64` from PATH. */
export const QEMU_BINARY = process.env['QEMU'] ?? 'qemu-system-x86_64';

export interface LaunchOptions {
  /** Machine and device arguments; `-display none -nodefaults -qmp ...` are added. */
  readonly args: readonly string[];
  /** Deadline for the QMP socket to appear and answer, in ms. Defaults to 15000. */
  readonly startTimeoutMs?: number;
  /** Work directory; a fresh temp dir (removed by `quit()`) when absent. */
  readonly dir?: string;
  /** QEMU binary; defaults to {@link QEMU_BINARY}. */
  readonly binary?: string;
}

/** What `query-migrate` said when migration stopped, plus the exit code if QEMU died. */
export interface MigrationOutcome {
  /** `completed`, `failed`, `cancelled`, or `exited` when QEMU ended (how a failed incoming QEMU reports). */
  readonly status: string;
  /** `error-desc` from QMP, or QEMU's stderr when it exited. */
  readonly error: string | undefined;
  /** The last full `query-migrate` reply. */
  readonly info: Record<string, unknown> | undefined;
  readonly exitCode: number | null | undefined;
}

export interface QemuHandle {
  readonly qmp: QmpClient;
  /** The temp (or given) work directory; the QMP socket lives here. */
  readonly dir: string;
  /** The full argument list QEMU was started with. */
  readonly argv: readonly string[];
  readonly pid: number;
  /** Everything QEMU wrote to stderr so far. */
  stderr(): string;
  /** Runs an HMP command via `human-monitor-command`. */
  hmp(commandLine: string): Promise<string>;
  /** Polls `query-migrate` until completed / failed / cancelled, or until QEMU exits. */
  waitMigration(options?: { timeoutMs?: number; pollMs?: number; onPoll?: (info: Record<string, unknown>) => Promise<void> | void }): Promise<MigrationOutcome>;
  /** Resolves with the exit code once QEMU has ended. */
  readonly exited: Promise<number | null>;
  /** Sends `quit`, waits up to `timeoutMs` (default 5000) then kills; removes a temp dir. */
  quit(timeoutMs?: number): Promise<number | null>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that surely works here.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  // A signal skips 'exit': kill the children, then die of the same signal as before.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.kill(process.pid, signal);
    });
  }
}

const FINAL_STATES = new Set(['completed', 'failed', 'cancelled']);

/** Starts QEMU; rejects with its stderr if it exits or does not answer QMP in time. */
export async function launchQemu(options: LaunchOptions): Promise<QemuHandle> {
  installExitHook();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'vmstream-qemu-'));
  const socketPath = join(dir, 'qmp.sock');
  const argv = [...options.args, '-display', 'none', '-nodefaults', '-qmp', `unix:${socketPath},server=on,wait=off`];
  const child = spawn(options.binary ?? QEMU_BINARY, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 1 << 20) stderr += s;
  });
  child.stdout.resume(); // nothing useful there, but it must not fill up
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      live.delete(child);
      resolve(code);
    });
    child.once('error', (err) => {
      stderr += `${err.message}\n`;
      exitCode = null;
      live.delete(child);
      resolve(null);
    });
  });
  const cleanup = (): void => {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  let qmp: QmpClient;
  try {
    qmp = await connectWhenReady(socketPath, options.startTimeoutMs ?? 15_000, () => exitCode !== undefined, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    cleanup();
    const why = stderr.trim() === '' ? (err instanceof Error ? err.message : String(err)) : stderr.trim();
    throw new VmsError('E_IO', `QEMU did not start: ${why}`, { cause: err });
  }

  const handle: QemuHandle = {
    qmp,
    dir,
    argv,
    pid: child.pid ?? -1,
    stderr: () => stderr,
    hmp: (cmd) => qmp.hmp(cmd),
    exited,
    async waitMigration(opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
      const pollMs = opts.pollMs ?? 50;
      let info: Record<string, unknown> | undefined;
      for (;;) {
        if (exitCode !== undefined) return { status: 'exited', error: stderr.trim(), info, exitCode };
        try {
          info = await qmp.execute<Record<string, unknown>>('query-migrate');
        } catch (err) {
          // QEMU exiting mid-poll closes the socket: report the exit, not the socket.
          await Promise.race([exited, sleep(1000)]);
          if (exitCode !== undefined) return { status: 'exited', error: stderr.trim(), info, exitCode };
          throw err;
        }
        const status = typeof info['status'] === 'string' ? info['status'] : 'none';
        if (FINAL_STATES.has(status)) {
          const desc = info['error-desc'];
          return { status, error: typeof desc === 'string' ? desc : undefined, info, exitCode };
        }
        if (opts.onPoll !== undefined) await opts.onPoll(info);
        if (Date.now() > deadline) {
          throw new VmsError('E_TIMEOUT', `migration still ${status} after ${opts.timeoutMs ?? 60_000} ms`);
        }
        await sleep(pollMs);
      }
    },
    async quit(timeoutMs = 5000) {
      if (exitCode === undefined && !qmp.closed) {
        // QEMU may close the socket before replying to quit; either way it is leaving.
        await qmp.execute('quit', undefined, { timeoutMs }).catch(() => undefined);
      }
      const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
      qmp.close();
      cleanup();
      return exitCode ?? null;
    },
  };
  return handle;
}

async function connectWhenReady(socketPath: string, timeoutMs: number, hasExited: () => boolean, stderr: () => string): Promise<QmpClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited()) throw new VmsError('E_IO', 'QEMU exited before its QMP socket was ready');
    const exists = await access(socketPath).then(
      () => true,
      () => false,
    );
    if (exists) {
      try {
        return await QmpClient.connect(socketPath, { timeoutMs: Math.max(1000, deadline - Date.now()), describeClose: stderr });
      } catch (err) {
        // QEMU binds the socket file a moment before it listens: refused means "not yet".
        if (!isNotListeningYet(err)) throw err;
      }
    }
    if (Date.now() > deadline) throw new VmsError('E_TIMEOUT', `QMP socket ${socketPath} did not accept connections within ${timeoutMs} ms`);
    await sleep(20);
  }
}

function isNotListeningYet(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  return cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOENT';
}

/** True when the QEMU binary can be run at all (for the interop tests' skip/fail decision). */
export async function qemuAvailable(binary: string = QEMU_BINARY): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(binary, ['--version'], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
}

/** Single-quotes `s` for /bin/sh, as `exec:` migration URIs are run through it. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
