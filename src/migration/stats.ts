/** Live statistics of a migration, shaped like QEMU's `query-migrate` reply. */

export type MigrationStatus = 'none' | 'setup' | 'active' | 'device' | 'completed' | 'failed' | 'cancelled';

export interface RamStats {
  /** Guest RAM in bytes. */
  readonly total: number;
  /** Bytes put on the channel so far (all sections). */
  readonly transferred: number;
  /** Bytes of pages still to send, as last estimated. */
  readonly remaining: number;
  /** Pages sent as ZERO records (QEMU "duplicate"). */
  readonly zeroPages: number;
  /** Pages sent whole (QEMU "normal"). */
  readonly normalPages: number;
  readonly normalBytes: number;
  /** Dirty pages per second between the last two syncs. */
  readonly dirtyPagesRate: number;
  /** Dirty-log syncs (QEMU dirty-sync-count). */
  readonly dirtySyncCount: number;
  /** `bandwidth` in megabits per second (QEMU "mbps"). */
  readonly mbps: number;
  readonly pageSize: number;
}

export interface MigrationStats {
  readonly status: MigrationStatus;
  /** Milliseconds since the migration started (final once finished). */
  readonly totalTimeMs: number;
  readonly setupTimeMs: number;
  /** The downtime a switch-over now would cost: remaining bytes / bandwidth (ms). */
  readonly expectedDowntimeMs: number;
  /** Measured: machine stopped until the destination confirmed (or the stream was flushed). */
  readonly downtimeMs: number | undefined;
  /**
   * The switch-over's fixed cost (stop, device sections, commit, ACK) beyond moving the bytes:
   * measured at each switch-over and used for the next migration's downtime estimate.
   */
  readonly switchoverMs: number;
  readonly downtimeLimitMs: number;
  /** Bandwidth limit in bytes/second; 0 = unlimited. */
  readonly maxBandwidth: number;
  /** Bytes the channel has taken. */
  readonly transferredBytes: number;
  /**
   * Measured bandwidth in bytes/second: over the last window while migrating; once completed,
   * the average over the transfer time (total minus setup), as QEMU's final `mbps`.
   */
  readonly bandwidth: number;
  /** Average throughput over the whole migration, MB/s (10^6). */
  readonly throughputMBps: number;
  /** Iterations: RAM passes ended by a dirty-log sync (= dirtySyncCount). */
  readonly iterations: number;
  readonly ram: RamStats;
  /** Why it failed (status failed/cancelled). */
  readonly error?: { readonly code: string; readonly message: string };
}
