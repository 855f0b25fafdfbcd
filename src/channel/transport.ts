/**
 * The two small interfaces every transport implements. The channel's reader and writer
 * buffer on top of them; throttling and counting are wrappers, not transport features.
 */

/** Where bytes come from (QEMU: the read side of a QIOChannel). */
export interface ByteSource {
  /**
   * Reads up to `into.length` bytes into `into` and resolves with how many it read;
   * 0 means the stream has ended. Never resolves with 0 while more bytes may come.
   */
  read(into: Uint8Array): Promise<number>;
  /** Total size in bytes, when the source knows it (a file, a block window). */
  readonly size?: number;
  /**
   * Moves the read position to an absolute offset (seekable sources only). Lets a reader
   * skip page contents, or read a trailer after EOF, without reading the bytes between.
   */
  seek?(position: number): void;
  /** Releases the source (closes the file, ends the socket, reaps the child). */
  close(): Promise<void>;
}

/** Where bytes go (QEMU: the write side of a QIOChannel). */
export interface ByteSink {
  /**
   * Writes the whole chunk. Resolves when the transport has taken it and the caller may
   * reuse the memory; rejects with the transport's error. Calls are never overlapped by
   * the channel writer: it awaits each write before starting the next.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes the stream gracefully (flushes, half-closes a socket, waits for a child). */
  close(): Promise<void>;
  /** Aborts: drops what is queued and releases the transport at once. */
  destroy(err?: Error): void;
}
