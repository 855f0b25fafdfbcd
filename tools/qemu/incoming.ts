/**
 * Loads a stream into a real QEMU as the migration destination and reports whether QEMU
 * accepted it. QEMU is started with `-incoming defer` so capabilities can be set first
 * (a destination must match the source's xbzrle / x-ignore-shared settings), then
 * `migrate-incoming exec:cat FILE`. A failed load makes QEMU exit with status 1; that is
 * reported as status `exited` with its stderr as the error.
 */

import { launchQemu, shellQuote, type QemuHandle } from './launch.js';

export interface LoadOptions {
  /** Capabilities to set before loading (must match the source's). */
  readonly capabilities?: Readonly<Record<string, boolean>>;
  /** Add `-S` so the guest stays paused after loading (default true: values stay put for reading). */
  readonly paused?: boolean;
  /** Deadline for the load, in ms. Defaults to 60000. */
  readonly timeoutMs?: number;
  /** Keep QEMU running and return its handle; the caller must `quit()` it. */
  readonly keep?: boolean;
}

export interface LoadResult<T> {
  /** `completed` on success; `failed` or `exited` (QEMU quit on a bad stream) otherwise. */
  readonly status: string;
  /** QEMU's error text (`error-desc` or stderr), when it failed. */
  readonly error: string | undefined;
  /** What `inspect` returned (only when the load completed). */
  readonly values: T | undefined;
  /** The running destination, when `keep` was set and QEMU is still alive. */
  readonly handle: QemuHandle | undefined;
  /** HMP `info migrate` on the destination (when it completed). */
  readonly infoMigrate: string | undefined;
}

/**
 * Starts QEMU with `machineArgs`, loads `streamPath` into it, and waits for `completed` or
 * failure. If it completes, `inspect` may read values back (HMP `info registers`,
 * `info pci`, `qom-get`, `pmemsave`...) before QEMU quits.
 */
export async function loadIntoQemu<T = undefined>(
  streamPath: string,
  machineArgs: readonly string[],
  options: LoadOptions = {},
  inspect?: (qemu: QemuHandle) => Promise<T>,
): Promise<LoadResult<T>> {
  const args = [...machineArgs];
  if ((options.paused ?? true) && !args.includes('-S')) args.push('-S');
  args.push('-incoming', 'defer');
  const qemu = await launchQemu({ args });
  let keep = false;
  try {
    const caps = Object.entries(options.capabilities ?? {}).map(([capability, state]) => ({ capability, state }));
    if (caps.length > 0) await qemu.qmp.execute('migrate-set-capabilities', { capabilities: caps });
    await qemu.qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(streamPath)}` });
    const outcome = await qemu.waitMigration({ timeoutMs: options.timeoutMs ?? 60_000, pollMs: 20 });
    if (outcome.status !== 'completed') {
      return { status: outcome.status, error: outcome.error ?? qemu.stderr().trim(), values: undefined, handle: undefined, infoMigrate: undefined };
    }
    const infoMigrate = (await qemu.hmp('info migrate')).replace(/\r\n/g, '\n');
    const values = inspect === undefined ? undefined : await inspect(qemu);
    keep = options.keep === true;
    return { status: 'completed', error: undefined, values, handle: keep ? qemu : undefined, infoMigrate };
  } finally {
    if (!keep) await qemu.quit();
  }
}
