/** Files through fs FileHandles, reading and writing straight from/to the caller's buffers. */
import { open, type FileHandle } from 'node:fs/promises';
import { VmsError } from '../../errors.js';
import { ioError } from '../io-error.js';
import type { ByteSink, ByteSource } from '../transport.js';

/** Reads a file. Regular files are seekable and know their size; FIFOs and devices are read in order. */
export class FileSource implements ByteSource {
  private position = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    readonly size: number | undefined,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw ioError(e, `opening ${path}`);
    }
    try {
      const st = await fh.stat();
      return new FileSource(fh, path, st.isFile() ? st.size : undefined);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw ioError(e, `opening ${path}`);
    }
  }

  async read(into: Uint8Array): Promise<number> {
    if (this.closed) throw new VmsError('E_CLOSED', `${this.path} is closed`);
    if (into.length === 0) return 0;
    try {
      // A known size means a regular file: read at our own position so seek() is free.
      const { bytesRead } = await this.fh.read(into, 0, into.length, this.size === undefined ? null : this.position);
      this.position += bytesRead;
      return bytesRead;
    } catch (e) {
      throw ioError(e, `reading ${this.path}`);
    }
  }

  seek(position: number): void {
    if (this.size === undefined) throw new VmsError('E_USAGE', `${this.path} is not seekable`);
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new VmsError('E_USAGE', 'seek position must be a non-negative integer', { actual: String(position) });
    }
    this.position = position;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

export interface FileSinkOptions {
  /** fsync before closing. Defaults to false. */
  readonly sync?: boolean;
}

/** Writes a file, created or truncated on open. */
export class FileSink implements ByteSink {
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly options: FileSinkOptions,
  ) {}

  static async open(path: string, options: FileSinkOptions = {}): Promise<FileSink> {
    try {
      return new FileSink(await open(path, 'w'), path, options);
    } catch (e) {
      throw ioError(e, `creating ${path}`);
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.closed) throw new VmsError('E_CLOSED', `${this.path} is closed`);
    await writeFully(this.fh, chunk, null, this.path);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.options.sync === true) await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.fh.close().catch(() => undefined);
  }
}

/** Writes all of `chunk` (at `position`, or the file position when null), looping over short writes. */
export async function writeFully(fh: FileHandle, chunk: Uint8Array, position: number | null, path: string): Promise<void> {
  let at = 0;
  while (at < chunk.length) {
    let n: number;
    try {
      ({ bytesWritten: n } = await fh.write(chunk, at, chunk.length - at, position === null ? null : position + at));
    } catch (e) {
      throw ioError(e, `writing ${path}`);
    }
    if (n === 0) throw new VmsError('E_IO', `writing ${path} made no progress`);
    at += n;
  }
}
