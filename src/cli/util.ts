/**
 * Shared CLI helpers: exit statuses, error printing, JSON output, and opening the files a
 * command names (`-` = stdin/stdout). The library never prints; commands do, through here.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { VmsError, formatPath, isVmsError } from '../errors.js';

/** Reader settings for the CLI: 4 MiB reads (fewer syscalls on big streams; measured in bench/stream.ts). */
export const CLI_READER = { bufferSize: 4 << 20 } as const;

/** Exit statuses: 0 ok, 1 the stream is bad, 2 usage or I/O error. */
export const EXIT_OK = 0;
export const EXIT_BAD_STREAM = 1;
export const EXIT_USAGE = 2;

/** The exit status for an error: usage and I/O problems are 2, anything about the stream 1. */
export function exitStatusFor(e: unknown): number {
  if (!isVmsError(e)) return EXIT_USAGE;
  return e.code === 'E_USAGE' || e.code === 'E_IO' || e.code === 'E_CLOSED' ? EXIT_USAGE : EXIT_BAD_STREAM;
}

/** One line naming what went wrong and where: the byte offset, the section and the field path. */
export function describeError(e: unknown): string {
  if (!isVmsError(e)) {
    const err = e as { code?: unknown; message?: unknown };
    return typeof err?.message === 'string' ? err.message : String(e);
  }
  const parts = [`${e.code}: ${e.reason}`];
  if (e.expected !== undefined) parts.push(`expected ${e.expected}`);
  if (e.actual !== undefined) parts.push(`found ${e.actual}`);
  let line = parts.join('; ');
  if (e.offset !== undefined) line += ` at byte ${e.offset} (0x${e.offset.toString(16)})`;
  if (e.path.length > 0) line += ` in ${formatPath(e.path)}`;
  return line;
}

/**
 * Runs a command's action: prints errors (as JSON when `json`), and sets the exit status.
 * Commander calls the returned function.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>, json?: (...args: A) => boolean): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode ??= EXIT_OK;
    } catch (e) {
      const asJson = json?.(...args) ?? false;
      if (asJson) process.stderr.write(toJson({ error: isVmsError(e) ? e.toJSON() : { message: describeError(e) } }) + '\n');
      else process.stderr.write(`vmstream: ${describeError(e)}\n`);
      process.exitCode = exitStatusFor(e);
    }
  };
}

/** Sets up a command so usage errors exit with 2 (commander's default is 1). */
export function usageExits(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(EXIT_OK);
    process.exit(EXIT_USAGE);
  });
}

/** JSON with bigints as numbers when exact (else strings) and byte arrays as hex. */
export function toJson(v: unknown, indent?: number): string {
  return JSON.stringify(v, jsonReplacer, indent);
}

export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return hex(v);
  return v;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Opens a file (or `-` for stdin) as a ByteSource; files are seekable and know their size. */
export function openInput(path: string): ByteSource {
  if (path === '-') return stdinSource();
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(`cannot open ${path}`, e);
  }
  const size = fstatSync(fd).size;
  let position = 0;
  return {
    size,
    async read(into: Uint8Array): Promise<number> {
      try {
        const n = readSync(fd, into, 0, into.length, position);
        position += n;
        return n;
      } catch (e) {
        throw ioError(`cannot read ${path}`, e);
      }
    },
    seek(p: number): void {
      position = p;
    },
    async close(): Promise<void> {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}

function stdinSource(): ByteSource {
  const it = process.stdin[Symbol.asyncIterator]();
  let pending: Uint8Array | undefined;
  return {
    async read(into: Uint8Array): Promise<number> {
      if (pending === undefined || pending.length === 0) {
        const r = await it.next();
        if (r.done === true) return 0;
        pending = r.value as Uint8Array;
      }
      const n = Math.min(into.length, pending.length);
      into.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
    async close(): Promise<void> {
      process.stdin.pause();
    },
  };
}

/** Opens a file (or `-` for stdout) as a ByteSink. */
export function openOutput(path: string): ByteSink {
  let fd: number;
  if (path === '-') fd = 1;
  else {
    try {
      fd = openSync(path, 'w');
    } catch (e) {
      throw ioError(`cannot create ${path}`, e);
    }
  }
  const toStdout = path === '-';
  return {
    async write(chunk: Uint8Array): Promise<void> {
      try {
        if (toStdout) {
          if (!process.stdout.write(chunk)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
          return;
        }
        let at = 0;
        while (at < chunk.length) at += writeSync(fd, chunk, at, chunk.length - at);
      } catch (e) {
        throw ioError(`cannot write ${path}`, e);
      }
    },
    async close(): Promise<void> {
      if (!toStdout && fd >= 0) closeSync(fd);
      fd = -1;
    },
    destroy(): void {
      if (!toStdout && fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}

/**
 * Output piped into `head` and the like: when the reader goes away (EPIPE), stop quietly as
 * other command-line tools do, instead of dying on an unhandled 'error' event.
 */
export function exitQuietlyOnClosedStdout(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw e;
  });
}

/** Writes text to stdout, waiting when the pipe is full (so huge dumps stream). */
export class TextOut {
  constructor() {
    exitQuietlyOnClosedStdout();
  }
  private buf: string[] = [];
  private size = 0;
  line(s: string): void | Promise<void> {
    this.buf.push(s, '\n');
    this.size += s.length + 1;
    if (this.size >= 1 << 16) return this.flush();
  }
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const text = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }
}

function ioError(reason: string, e: unknown): VmsError {
  return new VmsError('E_IO', `${reason}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
