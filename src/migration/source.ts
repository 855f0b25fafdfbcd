/**
 * The sending side of a live migration (QEMU migration_thread, precopy).
 *
 *   setup ─► active: PART sections while pending > bandwidth × downtime limit
 *                    (when the estimate drops below, sync the dirty log and test again)
 *         ─► device: stop the machine, END + FULL device sections + EOF + vmdesc,
 *                    flush, wait for the destination's ACK ─► completed
 *   any failure or cancel ─► resume the machine ─► failed / cancelled
 *
 * The source never writes guest RAM or device state, so after a failure the machine goes
 * on exactly as it was and a new migration can start at once.
 */
import { EventEmitter } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { ChannelWriter, type WriterOptions } from '../channel/writer.js';
import { VmsError, isVmsError } from '../errors.js';
import { encodeConfiguration } from '../stream/config.js';
import { SectionType } from '../stream/constants.js';
import { encodeVmdesc, type VmdescDevice } from '../stream/vmdesc.js';
import { berEncodingSink } from './ber-bridge.js';
import { ReturnPath } from './ack.js';
import type { MigratableMachine } from './handlers.js';
import { RamSaveHandler } from './ram-save.js';
import { writeFileHeader, writeFooter, writeFullHeader, writeShortHeader } from './sections.js';
import type { MigrationStats, MigrationStatus } from './stats.js';

export interface SourceOptions {
  /** Longest acceptable downtime in ms (QEMU downtime-limit). Defaults to 300. */
  readonly downtimeLimitMs?: number;
  /** Bandwidth limit in bytes/second, 0 = unlimited (QEMU max-bandwidth). Defaults to 0. */
  readonly maxBandwidth?: number;
  /** A peer that takes no bytes (or sends no ACK) for this long fails the migration. Defaults to 10000 ms. */
  readonly stallTimeoutMs?: number;
  /**
   * Switch over after this many dirty-log syncs even if the downtime estimate is still over
   * the limit (0 = never force; QEMU keeps iterating). Defaults to 0.
   */
  readonly maxIterations?: number;
  /** Send the configuration record (QEMU send-configuration). Defaults to true. */
  readonly sendConfiguration?: boolean;
  /** Wire bytes per PART section before the driver re-checks convergence. Defaults to 4 MiB. */
  readonly sectionBytes?: number;
  readonly writer?: WriterOptions;
  /**
   * Wire format: QEMU's binary stream, or BER (schema/migration.asn1), which a vmstream
   * destination detects from the first bytes. With BER, `transferredBytes` and the
   * throughput count the BER bytes sent; `ram.transferred`, the bandwidth (and its limit)
   * and the downtime estimate work on the binary stream the BER is made from.
   * Defaults to 'qemu'.
   */
  readonly format?: 'qemu' | 'ber';
}

export const DEFAULT_DOWNTIME_LIMIT_MS = 300;
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;
export const DEFAULT_SECTION_BYTES = 4 << 20;
/**
 * First guess of a switch-over's fixed cost, the part of the downtime that the byte count
 * does not show (stopping, the device sections, the destination's commit, the ACK's trip).
 * Each switch-over measures the real figure (downtime minus bytes left / bandwidth) and the
 * source uses that from then on; on a loaded 2-core loopback it measured 30-50 ms.
 */
export const INITIAL_SWITCHOVER_MS = 50;
/**
 * Channel chunk size and queue limit for migration: big writes mean fewer sink hand-offs
 * (one write callback per chunk) and fewer driver wake-ups per GiB (bench/migration.ts).
 */
const MIGRATION_CHUNK_BYTES = 1 << 20;
const MIGRATION_HIGH_WATER = 8 << 20;
/** Bandwidth is re-measured over windows of at least this many ms (QEMU BUFFER_DELAY). */
const BANDWIDTH_WINDOW_MS = 100;
/** How often the source looks at the destination's progress while waiting for it to catch up. */
const CONSUMED_POLL_MS = 5;
/** The driver yields to the event loop (the workload's timers) at least this often. */
const YIELD_EVERY_MS = 10;

/** Where a migration goes: the stream sink, and optionally the destination's reverse channel. */
export interface MigrationConnection {
  readonly sink: ByteSink;
  /** The reverse channel (a socket's read side). With it the source waits for the ACK. */
  readonly reverse?: ByteSource;
}

export interface MigrationResult {
  readonly stats: MigrationStats;
  /** The destination's report line, if it sent one. */
  readonly report: unknown;
}

export class MigrationSource extends EventEmitter {
  private status: MigrationStatus = 'none';
  private readonly downtimeLimit: { ms: number };
  private maxBandwidth: number;
  private readonly stallTimeoutMs: number;
  private writer: ChannelWriter | undefined;
  private ram: RamSaveHandler | undefined;
  private startedAt = 0;
  private finishedAt = 0;
  private setupMs = 0;
  private downtimeMs: number | undefined;
  private bandwidth = 0;
  private expectedDowntimeMs = 0;
  /**
   * Bytes/second the destination consumed over the whole last pass (catch-up waits included).
   * Short windows overstate it right after a wait, when the destination drains its buffers
   * faster than the link delivers; the downtime estimate uses the lower of the two.
   */
  private passRate = 0;
  private passStart: { at: number; bytes: number } | undefined;
  /** Measured fixed cost of a switch-over (see INITIAL_SWITCHOVER_MS); kept across migrations. */
  private switchoverMs = INITIAL_SWITCHOVER_MS;
  private remaining = 0;
  private window: { at: number; bytes: number; progressAt?: number } = { at: 0, bytes: 0 };
  private cancelled = false;
  private failure: VmsError | undefined;
  private lastProgress = 0;
  private returnPath: ReturnPath | undefined;
  /** With BER: the bytes that reached the transport (the writer counts the binary stream). */
  private wire: { readonly bytes: number } | undefined;

  constructor(
    private readonly machine: MigratableMachine,
    private readonly options: SourceOptions = {},
  ) {
    super();
    this.downtimeLimit = { ms: options.downtimeLimitMs ?? DEFAULT_DOWNTIME_LIMIT_MS };
    this.maxBandwidth = options.maxBandwidth ?? 0;
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  }

  /** Changes the bandwidth limit (bytes/second, 0 = unlimited), also while migrating. */
  setMaxBandwidth(bytesPerSecond: number): void {
    if (!(bytesPerSecond >= 0) || !Number.isFinite(bytesPerSecond)) {
      throw new VmsError('E_USAGE', 'max bandwidth must be a non-negative number of bytes per second', { actual: String(bytesPerSecond) });
    }
    this.maxBandwidth = bytesPerSecond;
    this.writer?.setBandwidth(bytesPerSecond);
  }

  /** Changes the downtime limit (ms), also while migrating. */
  setDowntimeLimit(ms: number): void {
    if (!(ms > 0)) throw new VmsError('E_USAGE', 'downtime limit must be positive', { actual: String(ms) });
    this.downtimeLimit.ms = ms;
  }

  /** Stops a running migration; it ends 'cancelled' and the machine keeps running. */
  cancel(): void {
    if (this.status !== 'setup' && this.status !== 'active' && this.status !== 'device') return;
    this.cancelled = true;
    this.writer?.destroy(new VmsError('E_CLOSED', 'migration cancelled'));
  }

  /** A snapshot of the statistics (poll it, or listen to 'progress'). */
  stats(): MigrationStats {
    const ram = this.ram;
    const w = this.writer;
    const now = this.finishedAt > 0 ? this.finishedAt : performance.now();
    const total = this.startedAt === 0 ? 0 : now - this.startedAt;
    const written = this.wire?.bytes ?? w?.bytesWritten ?? 0;
    const c = ram?.counters;
    const ps = this.machine.memory.pageSize;
    return {
      status: this.status,
      totalTimeMs: total,
      setupTimeMs: this.setupMs,
      expectedDowntimeMs: this.expectedDowntimeMs,
      downtimeMs: this.downtimeMs,
      switchoverMs: this.switchoverMs,
      downtimeLimitMs: this.downtimeLimit.ms,
      maxBandwidth: this.maxBandwidth,
      transferredBytes: written,
      bandwidth: this.bandwidth,
      throughputMBps: total > 0 ? written / 1e6 / (total / 1000) : 0,
      iterations: c?.syncs ?? 0,
      ram: {
        total: this.machine.memory.totalBytes,
        transferred: w?.bytesPut ?? 0,
        remaining: this.remaining,
        zeroPages: c?.zeroPages ?? 0,
        normalPages: c?.normalPages ?? 0,
        normalBytes: (c?.normalPages ?? 0) * ps,
        dirtyPagesRate: c?.dirtyPagesRate ?? 0,
        dirtySyncCount: c?.syncs ?? 0,
        mbps: (this.bandwidth * 8) / 1e6,
        pageSize: ps,
      },
      ...(this.failure !== undefined ? { error: { code: this.failure.code, message: this.failure.message } } : {}),
    };
  }

  /**
   * Migrates the machine into `conn`. Resolves when the destination has everything (and,
   * with a reverse channel, has confirmed); rejects with a VmsError when it failed or was
   * cancelled, after resuming the machine. One migration at a time; retry by calling again.
   */
  async migrate(conn: MigrationConnection): Promise<MigrationResult> {
    if (this.status === 'setup' || this.status === 'active' || this.status === 'device') {
      throw new VmsError('E_USAGE', 'a migration is already running');
    }
    this.reset();
    const machine = this.machine;
    const wire = this.options.format === 'ber' ? countWrites(conn.sink) : undefined;
    this.wire = wire;
    const sink = wire !== undefined ? berEncodingSink(wire.sink) : conn.sink;
    const w = new ChannelWriter(sink, { chunkSize: MIGRATION_CHUNK_BYTES, highWaterMark: MIGRATION_HIGH_WATER, ...this.options.writer, bandwidth: this.maxBandwidth });
    const ram = new RamSaveHandler(machine.memory);
    this.writer = w;
    this.ram = ram;
    const stopWatchdog = this.startWatchdog(w);
    let stopped = false;
    let report: unknown;
    const returnPath = conn.reverse !== undefined ? new ReturnPath(conn.reverse) : undefined;
    this.returnPath = returnPath;
    try {
      this.setStatus('setup');
      // Section ids in registration order: ram first, then the devices.
      const ramId = 0;
      writeFileHeader(w);
      if (this.options.sendConfiguration ?? true) encodeConfiguration(w, { machine: machine.machineType, subsections: [] });
      writeFullHeader(w, SectionType.START, ramId, ram.idstr, ram.instance, ram.version);
      ram.setup(w);
      writeFooter(w, ramId);
      await this.drain(w);
      this.setupMs = performance.now() - this.startedAt;
      this.setStatus('active');
      this.window = { at: performance.now(), bytes: w.bytesWritten };
      const budget = this.options.sectionBytes ?? DEFAULT_SECTION_BYTES;
      const maxIterations = this.options.maxIterations ?? 0;
      let lastYield = performance.now();
      for (;;) {
        this.checkCancelled();
        this.measure(w);
        const threshold = (this.safeBandwidth() * Math.max(0, this.downtimeLimit.ms - this.switchoverMs)) / 1000;
        let pending = ram.pendingEstimate() + this.inFlight(w);
        if (pending <= threshold || ram.pendingEstimate() === 0) {
          // Let the destination take what is in flight while the machine still runs: those
          // bytes (queues and socket buffers, up to ~20 MiB) would otherwise count as downtime.
          // Not with BER: the encoding sink holds back bytes until it has whole values, so the
          // destination's count can lag the bytes put until the stream moves on. There the
          // channel's queue is emptied instead; without any wait, a pass with nothing left but
          // bytes in flight would start the next one at once (tens of thousands a second).
          if (returnPath !== undefined && this.options.format !== 'ber') await this.waitConsumed(w, returnPath, this.downtimeLimit.ms);
          else await w.flushAll();
          pending = ram.syncPending() + this.inFlight(w);
          this.note(pending);
          if (pending <= threshold) break;
          if (maxIterations > 0 && ram.counters.syncs > maxIterations) break;
        }
        this.note(pending);
        writeShortHeader(w, SectionType.PART, ramId);
        ram.iterate(w, budget);
        writeFooter(w, ramId);
        await this.drain(w);
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await yieldToLoop();
          lastYield = performance.now();
        }
        this.progress();
      }

      // Switch-over: from here the machine is stopped until the destination confirms.
      this.setStatus('device');
      const stopAt = performance.now();
      // Bytes the destination still had to take when the machine stopped, and the rate it took them at.
      const inFlightAtStop = this.inFlight(w);
      const putAtStop = w.bytesPut;
      // A migration shorter than one bandwidth window has no measured rate yet: use the
      // average since the start, so the switch-over cost is still learnt.
      const elapsedMs = performance.now() - this.startedAt;
      const bandwidthAtStop = this.safeBandwidth() || (elapsedMs > 0 ? (putAtStop * 1000) / elapsedMs : 0);
      await machine.stop();
      stopped = true;
      writeShortHeader(w, SectionType.END, ramId);
      while (ram.complete(w, budget) === 'more') await this.drain(w);
      writeFooter(w, ramId);
      const described: VmdescDevice[] = [];
      machine.devices.forEach((dev, i) => {
        const id = ramId + 1 + i;
        writeFullHeader(w, SectionType.FULL, id, dev.idstr, dev.instance, dev.version);
        const start = w.bytesPut;
        try {
          dev.save(w);
        } catch (e) {
          throw isVmsError(e) ? e.within(dev.idstr) : e;
        }
        described.push(dev.describe(w.bytesPut - start));
        writeFooter(w, id);
      });
      w.u8(SectionType.EOF);
      const json = encodeVmdesc({ page_size: machine.memory.pageSize, devices: described });
      w.u8(SectionType.VMDESCRIPTION).u32(json.length).bytes(json);
      this.remaining = 0;
      await this.deadline(w.close(), 'the destination to take the rest of the stream');
      if (returnPath !== undefined) {
        const ack = await returnPath.waitAck(this.stallTimeoutMs);
        // A QEMU destination just closes the connection: nothing to confirm then.
        if (ack !== undefined) {
          if (ack.status !== 'completed') {
            throw new VmsError('E_IO', `destination refused the migration: ${ack.error?.message ?? 'no reason given'}`, {
              ...(ack.error?.code !== undefined ? { actual: ack.error.code } : {}),
            });
          }
          this.downtimeMs = performance.now() - stopAt;
          // Complete from here; the report (a hash, say) may take the destination a while.
          this.finish('completed');
          report = await returnPath.waitReport(this.stallTimeoutMs * 6);
        }
      }
      this.downtimeMs ??= performance.now() - stopAt;
      this.learnSwitchover(this.downtimeMs, inFlightAtStop + w.bytesPut - putAtStop, bandwidthAtStop);
      if (this.status !== 'completed') this.finish('completed');
      return { stats: this.stats(), report };
    } catch (e) {
      const err = this.cancelled
        ? new VmsError('E_CLOSED', 'migration cancelled', { cause: e })
        : isVmsError(e)
          ? e
          : new VmsError('E_IO', `migration failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      this.failure = err;
      w.destroy(err);
      // The source's state was never changed: just let it run again.
      if (stopped) await machine.resume();
      this.finish(this.cancelled ? 'cancelled' : 'failed');
      throw err;
    } finally {
      stopWatchdog();
      ram.cleanup();
      await conn.reverse?.close().catch(() => undefined);
    }
  }

  /**
   * Waits (at most `maxMs`) until the destination reports having consumed every byte put,
   * waking at each of its progress reports (one comes within a few ms of it running out of
   * bytes, see ProgressReporter) and every CONSUMED_POLL_MS for a cancel. Not estimated between
   * reports: on a loaded machine the destination takes a tail of zero-page records far slower
   * per byte than the bandwidth says, and ending the wait on an estimate raised idle downtime
   * from ~20-55 ms to 60-200 ms for a gain (≤ one report interval) lost in the noise.
   */
  private async waitConsumed(w: ChannelWriter, rp: ReturnPath, maxMs: number): Promise<void> {
    const until = performance.now() + maxMs;
    await this.drain(w);
    w.flush();
    while (rp.consumed < w.bytesPut && performance.now() < until && rp.refusal === undefined && w.error === undefined) {
      await rp.nextLine(CONSUMED_POLL_MS);
      this.checkCancelled();
    }
    if (rp.consumedAt > 0) {
      const now = performance.now();
      const start = this.passStart;
      if (start !== undefined && now - start.at >= BANDWIDTH_WINDOW_MS) this.passRate = ((rp.consumed - start.bytes) * 1000) / (now - start.at);
      this.passStart = { at: now, bytes: rp.consumed };
    }
  }

  /** The bandwidth the downtime estimate uses: the lower of the last window's and the last pass's. */
  private safeBandwidth(): number {
    return this.passRate > 0 ? Math.min(this.bandwidth, this.passRate) : this.bandwidth;
  }

  /**
   * Updates the switch-over's fixed cost from one observation: the downtime minus the time
   * the bytes left at the stop take at the measured bandwidth. Averaged with the previous
   * figure (one slow switch-over should not halve the next threshold), capped at half the limit.
   */
  private learnSwitchover(downtimeMs: number, bytesLeft: number, bandwidth: number): void {
    if (!(bandwidth > 0)) return;
    const fixed = Math.max(0, downtimeMs - (bytesLeft / bandwidth) * 1000);
    this.switchoverMs = Math.min(this.downtimeLimit.ms / 2, (this.switchoverMs + fixed) / 2);
  }

  private reset(): void {
    this.startedAt = performance.now();
    this.finishedAt = 0;
    this.setupMs = 0;
    this.downtimeMs = undefined;
    this.bandwidth = 0;
    this.passRate = 0;
    this.passStart = undefined;
    this.expectedDowntimeMs = 0;
    this.remaining = 0;
    this.cancelled = false;
    this.failure = undefined;
    this.lastProgress = 0;
    this.window = { at: 0, bytes: 0 };
    this.wire = undefined;
  }

  private setStatus(s: MigrationStatus): void {
    this.status = s;
    this.emit('status', s);
    this.emit('progress', this.stats());
  }

  private finish(s: MigrationStatus): void {
    this.finishedAt = performance.now();
    if (s === 'completed') {
      // As QEMU's migration_calculate_complete: once finished, the bandwidth is the average over
      // the transfer time. The last window alone can be a tail of 9-byte zero-page records and
      // would show a fraction of the rate the migration ran at.
      const transferMs = this.finishedAt - this.startedAt - this.setupMs;
      if (transferMs > 0) this.bandwidth = ((this.writer?.bytesWritten ?? 0) * 1000) / transferMs;
    }
    this.setStatus(s);
  }

  private progress(): void {
    const now = performance.now();
    if (now - this.lastProgress < 100) return;
    this.lastProgress = now;
    this.emit('progress', this.stats());
  }

  private note(pending: number): void {
    this.remaining = pending;
    const bw = this.safeBandwidth();
    this.expectedDowntimeMs = bw > 0 ? (pending / bw) * 1000 + this.switchoverMs : Infinity;
  }

  /**
   * Bytes sent but not yet consumed by the destination: what it reported over the return
   * path, else (a QEMU destination) what the channel has not handed to the transport yet.
   */
  private inFlight(w: ChannelWriter): number {
    const rp = this.returnPath;
    // With BER the destination counts bytes only as whole values come out of the encoder, so its count lags.
    if (rp !== undefined && rp.consumedAt > 0 && this.options.format !== 'ber') return Math.max(0, w.bytesPut - rp.consumed);
    return w.pending;
  }

  /**
   * Bytes/second over the last window (QEMU's per-BUFFER_DELAY bandwidth): consumed by the
   * destination when it reports progress, else taken by the channel's transport.
   */
  private measure(w: ChannelWriter): void {
    const rp = this.returnPath;
    if (rp !== undefined && rp.consumedAt > 0) {
      if (this.window.progressAt === undefined) this.window = { at: rp.consumedAt, bytes: rp.consumed, progressAt: rp.consumedAt };
      const dt = rp.consumedAt - this.window.at;
      if (dt >= BANDWIDTH_WINDOW_MS) {
        this.bandwidth = ((rp.consumed - this.window.bytes) * 1000) / dt;
        this.window = { at: rp.consumedAt, bytes: rp.consumed, progressAt: rp.consumedAt };
      }
      return;
    }
    const now = performance.now();
    const dt = now - this.window.at;
    // Until the first full window, a window of at least 1 MiB will do (tiny guests finish sooner).
    const early = this.bandwidth === 0 && dt >= 5 && w.bytesWritten - this.window.bytes >= 1 << 20;
    if (dt >= BANDWIDTH_WINDOW_MS || early) {
      this.bandwidth = ((w.bytesWritten - this.window.bytes) * 1000) / dt;
      this.window = { at: now, bytes: w.bytesWritten };
    }
  }

  private checkCancelled(): void {
    if (this.cancelled) throw new VmsError('E_CLOSED', 'migration cancelled');
    const refusal = this.returnPath?.refusal;
    if (refusal !== undefined) {
      throw new VmsError('E_IO', `destination refused the migration: ${refusal.error?.message ?? 'no reason given'}`, {
        ...(refusal.error?.code !== undefined ? { actual: refusal.error.code } : {}),
      });
    }
  }

  /** Waits for room in the channel's queue; the watchdog fails it if the peer stalls meanwhile. */
  private async drain(w: ChannelWriter): Promise<void> {
    if (w.needsDrain || w.error !== undefined) await w.drain();
    else w.flush();
  }

  /**
   * Fails the channel with E_TIMEOUT when it holds bytes for the peer and the peer takes none
   * for the stall timeout (progress-based, so a low bandwidth limit is not mistaken for a
   * stall); a drain waiting on it then rejects. One timer for the whole migration rather than
   * one per drain (a few hundred per GiB). Returns its stop function.
   */
  private startWatchdog(w: ChannelWriter): () => void {
    let seen = w.bytesWritten;
    let idleSince = performance.now();
    const step = Math.max(10, Math.min(1000, this.stallTimeoutMs / 4));
    const timer = setInterval(() => {
      const now = performance.now();
      if (w.bytesWritten !== seen || w.pending === 0) {
        seen = w.bytesWritten;
        idleSince = now;
      } else if (now - idleSince >= this.stallTimeoutMs) {
        w.destroy(
          new VmsError('E_TIMEOUT', `peer stalled: no progress for ${this.stallTimeoutMs} ms waiting for the destination to take more bytes`, {
            offset: w.bytesWritten,
          }),
        );
      }
    }, step);
    return () => clearInterval(timer);
  }

  /**
   * Fails with E_TIMEOUT when the channel takes no byte for the stall timeout while `p` is
   * pending (progress-based, so a low bandwidth limit is not mistaken for a stall).
   */
  private async deadline<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const w = this.writer;
    const timeout = new Promise<never>((_, reject) => {
      let seen = w?.bytesWritten ?? 0;
      let idleSince = performance.now();
      const step = Math.max(10, Math.min(1000, this.stallTimeoutMs / 4));
      const check = (): void => {
        const now = performance.now();
        const bytes = w?.bytesWritten ?? 0;
        if (bytes !== seen) {
          seen = bytes;
          idleSince = now;
        } else if (now - idleSince >= this.stallTimeoutMs) {
          reject(new VmsError('E_TIMEOUT', `peer stalled: no progress for ${this.stallTimeoutMs} ms waiting for ${what}`, { offset: bytes }));
          return;
        }
        timer = setTimeout(check, step);
      };
      timer = setTimeout(check, step);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Wraps `sink`, counting the bytes it has taken. */
function countWrites(sink: ByteSink): { readonly sink: ByteSink; readonly bytes: number } {
  const counted = {
    bytes: 0,
    sink: {
      write: async (chunk: Uint8Array): Promise<void> => {
        await sink.write(chunk);
        counted.bytes += chunk.length;
      },
      close: () => sink.close(),
      destroy: (err?: Error) => sink.destroy(err),
    } satisfies ByteSink,
  };
  return counted;
}
