/** A ByteSource wrapper that fails a read taking longer than a deadline (a stalled peer). */
import type { ByteSource } from '../channel/transport.js';
import { VmsError } from '../errors.js';

export class StallGuardSource implements ByteSource {
  private received = 0;

  constructor(
    private readonly inner: ByteSource,
    private readonly timeoutMs: number,
  ) {}

  get size(): number | undefined {
    return this.inner.size;
  }

  async read(into: Uint8Array): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new VmsError('E_TIMEOUT', `peer stalled: no bytes for ${this.timeoutMs} ms`, { offset: this.received }));
      }, this.timeoutMs);
    });
    try {
      const n = await Promise.race([this.inner.read(into), stalled]);
      this.received += n;
      return n;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
