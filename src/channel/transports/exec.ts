/**
 * exec:COMMAND as in QEMU: the command runs under `/bin/sh -c`. A source reads the child's
 * stdout (its stdin is /dev/null); a sink writes its stdin (its stdout is /dev/null). Its
 * stderr is ours. A non-zero exit is an E_IO error: at the end of a source's stream (so a
 * failed `exec:cat missing` is reported as such, not as a truncated stream), and from a
 * sink's `close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { VmsError } from '../../errors.js';
import { ioError } from '../io-error.js';
import type { ByteSink, ByteSource } from '../transport.js';
import { ReadableSource, WritableSink } from './node-stream.js';

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function start(command: string, direction: 'source' | 'sink'): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: direction === 'source' ? ['ignore', 'pipe', 'inherit'] : ['pipe', 'ignore', 'inherit'],
  });
  const exit = new Promise<Exit>((resolve, reject) => {
    child.once('error', (e) => reject(ioError(e, `running exec:${command}`)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  exit.catch(() => {}); // observed later by read/close; avoid an unhandled rejection meanwhile
  return { child, exit };
}

function exitError(command: string, exit: Exit): VmsError | undefined {
  if (exit.code === 0) return undefined;
  const how = exit.code !== null ? `status ${exit.code}` : `signal ${exit.signal}`;
  return new VmsError('E_IO', `command exited with ${how}`, { path: [`exec:${command}`], expected: 'status 0', actual: how });
}

/** Reads a command's stdout. */
export class ExecSource implements ByteSource {
  private readonly inner: ReadableSource;
  private readonly child: ChildProcess;
  private readonly exit: Promise<Exit>;
  private reachedEnd = false;
  private closed = false;

  constructor(
    private readonly command: string,
    options: { maxQueued?: number } = {},
  ) {
    const { child, exit } = start(command, 'source');
    this.child = child;
    this.exit = exit;
    this.inner = new ReadableSource(child.stdout!, { maxQueued: options.maxQueued, name: `exec:${command}` });
  }

  async read(into: Uint8Array): Promise<number> {
    const n = await this.inner.read(into);
    if (n > 0) return n;
    this.reachedEnd = true;
    const err = exitError(this.command, await this.exit);
    if (err !== undefined) throw err;
    return 0;
  }

  /** Waits for the child. Closed before the end of its output, the child is stopped (SIGTERM) and its status ignored. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.reachedEnd) {
      await this.inner.close();
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
      await this.exit.catch(() => undefined);
      return;
    }
    const err = exitError(this.command, await this.exit);
    if (err !== undefined) throw err;
  }
}

/** Writes a command's stdin. */
export class ExecSink implements ByteSink {
  private readonly inner: WritableSink;
  private readonly child: ChildProcess;
  private readonly exit: Promise<Exit>;

  constructor(private readonly command: string) {
    const { child, exit } = start(command, 'sink');
    this.child = child;
    this.exit = exit;
    this.inner = new WritableSink(child.stdin!, { name: `exec:${command}` });
  }

  async write(chunk: Uint8Array): Promise<void> {
    try {
      await this.inner.write(chunk);
    } catch (e) {
      // EPIPE means the child is gone: its exit status says more than the pipe does.
      const exit = await Promise.race([this.exit, new Promise<undefined>((r) => setTimeout(r, 200, undefined))]).catch(() => undefined);
      throw (exit !== undefined ? exitError(this.command, exit) : undefined) ?? e;
    }
  }

  /** Ends the child's stdin and waits for it to exit; a non-zero exit is E_IO. */
  async close(): Promise<void> {
    let endError: unknown;
    try {
      await this.inner.close();
    } catch (e) {
      endError = e;
    }
    const err = exitError(this.command, await this.exit);
    if (err !== undefined) throw err;
    if (endError !== undefined) throw endError;
  }

  /** Aborts: closes the pipe and kills the child. */
  destroy(err?: Error): void {
    this.inner.destroy(err);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}
