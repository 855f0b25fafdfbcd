/**
 * block:PATH@OFFSET+LENGTH, a window into a file or block device. Reads stop at the window's
 * end; a write that would run past it writes what fits and fails with E_LIMIT, so nothing
 * past the window is ever touched.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { VmsError } from '../../errors.js';
import { ioError } from '../io-error.js';
import type { ByteSink, ByteSource } from '../transport.js';
import { writeFully } from './file.js';

export interface BlockWindow {
  readonly path: string;
  /** Byte offset of the window in the file. */
  readonly offset: number;
  /** Window length in bytes. */
  readonly length: number;
}

function checkWindow(w: BlockWindow): void {
  for (const [what, v] of [['offset', w.offset], ['length', w.length]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new VmsError('E_USAGE', `block window ${what} must be a non-negative integer`, { actual: String(v) });
    }
  }
  if (!Number.isSafeInteger(w.offset + w.length)) throw new VmsError('E_USAGE', 'block window ends past 2^53');
}

/** Reads the window; `size` is its length (a shorter file ends the stream early). */
export class BlockSource implements ByteSource {
  private position = 0;
  private closed = false;
  readonly size: number;

  private constructor(
    private readonly fh: FileHandle,
    private readonly window: BlockWindow,
  ) {
    this.size = window.length;
  }

  static async open(window: BlockWindow): Promise<BlockSource> {
    checkWindow(window);
    try {
      return new BlockSource(await open(window.path, 'r'), window);
    } catch (e) {
      throw ioError(e, `opening ${window.path}`);
    }
  }

  async read(into: Uint8Array): Promise<number> {
    if (this.closed) throw new VmsError('E_CLOSED', `${this.window.path} is closed`);
    const n = Math.min(into.length, this.window.length - this.position);
    if (n <= 0) return 0;
    try {
      const { bytesRead } = await this.fh.read(into, 0, n, this.window.offset + this.position);
      this.position += bytesRead;
      return bytesRead;
    } catch (e) {
      throw ioError(e, `reading ${this.window.path}`);
    }
  }

  seek(position: number): void {
    if (!Number.isSafeInteger(position) || position < 0 || position > this.window.length) {
      throw new VmsError('E_USAGE', 'seek outside the block window', {
        expected: `0..${this.window.length}`,
        actual: String(position),
      });
    }
    this.position = position;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Writes into the window (the file is created if missing, never truncated). */
export class BlockSink implements ByteSink {
  private position = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly window: BlockWindow,
  ) {}

  static async open(window: BlockWindow): Promise<BlockSink> {
    checkWindow(window);
    try {
      return new BlockSink(await open(window.path, constants.O_WRONLY | constants.O_CREAT), window);
    } catch (e) {
      throw ioError(e, `opening ${window.path}`);
    }
  }

  /** Bytes written into the window so far. */
  get written(): number {
    return this.position;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.closed) throw new VmsError('E_CLOSED', `${this.window.path} is closed`);
    const room = this.window.length - this.position;
    const fits = Math.min(room, chunk.length);
    if (fits > 0) {
      await writeFully(this.fh, fits === chunk.length ? chunk : chunk.subarray(0, fits), this.window.offset + this.position, this.window.path);
      this.position += fits;
    }
    if (fits < chunk.length) {
      throw new VmsError('E_LIMIT', 'write runs past the end of the block window', {
        offset: this.window.length,
        expected: `at most ${this.window.length} bytes`,
        actual: `${chunk.length - fits} more bytes`,
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.fh.close().catch(() => undefined);
  }
}
