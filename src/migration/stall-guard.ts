/**
 * A ByteSource wrapper that fails a read taking longer than a deadline (a stalled peer).
 * One watchdog interval checks the pending read's age, rather than a timer and a race per
 * read: reads come every few hundred microseconds on a fast link, and the per-read timers
 * showed in the destination's profile.
 */
import { lendsChunks } from '../channel/reader.js';
import type { ByteSource } from '../channel/transport.js';
import { VmsError } from '../errors.js';

export class StallGuardSource implements ByteSource {
  private received = 0;
  /** performance.now() when the pending read started; 0 when none is pending. */
  private pendingSince = 0;
  private failPending: ((e: VmsError) => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** Present when the inner source lends its chunks (see ChunkLendingSource): guarded the same way. */
  readonly readView?: () => Promise<Uint8Array>;

  constructor(
    private readonly inner: ByteSource,
    private readonly timeoutMs: number,
  ) {
    if (lendsChunks(inner)) this.readView = () => this.guard(inner.readView());
  }

  /** True while a read is pending: the consumer has taken everything delivered so far. */
  get waiting(): boolean {
    return this.pendingSince !== 0;
  }

  get size(): number | undefined {
    return this.inner.size;
  }

  read(into: Uint8Array): Promise<number> {
    return this.guard(this.inner.read(into));
  }

  /** Fails `pending` with E_TIMEOUT if it takes longer than the deadline. */
  private guard<T extends number | Uint8Array>(pending: Promise<T>): Promise<T> {
    this.arm();
    this.pendingSince = performance.now();
    return new Promise<T>((resolve, reject) => {
      this.failPending = reject;
      pending.then(
        (v) => {
          this.settle();
          this.received += typeof v === 'number' ? v : v.length;
          resolve(v);
        },
        (e: unknown) => {
          this.settle();
          reject(e);
        },
      );
    });
  }

  close(): Promise<void> {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    this.watchdog = undefined;
    return this.inner.close();
  }

  private settle(): void {
    this.pendingSince = 0;
    this.failPending = undefined;
  }

  /** Starts the watchdog if it is not running; it checks a few times per timeout. */
  private arm(): void {
    if (this.watchdog !== undefined) return;
    const step = Math.max(5, Math.min(1000, this.timeoutMs / 4));
    this.watchdog = setInterval(() => {
      if (this.pendingSince === 0) {
        // No read pending: stop, so an idle or abandoned source keeps no timer alive.
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      if (performance.now() - this.pendingSince < this.timeoutMs) return;
      const fail = this.failPending;
      this.settle();
      fail?.(new VmsError('E_TIMEOUT', `peer stalled: no bytes for ${this.timeoutMs} ms`, { offset: this.received }));
    }, step);
  }
}
