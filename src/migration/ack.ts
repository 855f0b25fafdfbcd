/**
 * The destination's answer on the reverse channel of a vmstream-to-vmstream migration (QEMU
 * precopy has no such message; this plays the part of its return path's final SHUT). After
 * the stream ends the destination writes one line, then optionally a report line:
 *
 *   VMSTREAM-ACK {"status":"completed"}\n          (or "failed" with "error": {code, message})
 *   VMSTREAM-REPORT {...}\n                         (whatever the destination's hook returned)
 *
 * While the stream flows it also reports how many stream bytes it has consumed
 * (`VMSTREAM-PROGRESS {"bytes":N}`), so the source knows the end-to-end bandwidth and the
 * bytes still in flight (socket buffers, the destination's queue), which the downtime
 * estimate must include. It reports every PROGRESS_INTERVAL_MS, and also as soon as it has
 * consumed all it received (see ProgressReporter): the source waits for that at each pass end.
 *
 * The source counts downtime up to the ACK line, so slow reports (a RAM hash) do not count.
 */
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { VmsError } from '../errors.js';

export const ACK_PREFIX = 'VMSTREAM-ACK ';
export const REPORT_PREFIX = 'VMSTREAM-REPORT ';
export const PROGRESS_PREFIX = 'VMSTREAM-PROGRESS ';
/** How often the destination reports the bytes it consumed while it is busy. */
export const PROGRESS_INTERVAL_MS = 50;
/** How often the destination looks at its progress: it reports one to two of these after it ran out of bytes. */
export const PROGRESS_IDLE_MS = 2;
/** Longest line accepted from the peer. */
const MAX_LINE = 1 << 20;

export interface AckMessage {
  readonly status: 'completed' | 'failed';
  readonly error?: { readonly code: string; readonly message: string };
}

export async function writeLine(sink: ByteSink, prefix: string, body: unknown): Promise<void> {
  await sink.write(new TextEncoder().encode(`${prefix}${JSON.stringify(body)}\n`));
}

/**
 * The destination's progress reports. Every PROGRESS_IDLE_MS it looks at the bytes consumed:
 * it reports when they changed and either PROGRESS_INTERVAL_MS passed since the last report
 * or the reader is idle (waiting for bytes, none consumed since the previous look). The idle
 * report ends the source's wait at the end of a pass (everything put has been consumed)
 * within a few ms instead of up to a whole interval (25-60 ms of each migration's total,
 * measured); while the destination is busy it changes nothing. Reports are written in
 * order, and `stop()` waits for the last.
 */
export class ProgressReporter {
  private chain: Promise<void> = Promise.resolve();
  private lastBytes = -1;
  private lastAt = 0;
  /** Bytes consumed at the previous tick. */
  private tickBytes = -1;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly reply: ByteSink,
    private readonly consumed: () => number,
    private readonly idle: () => boolean,
  ) {
    this.timer = setInterval(() => this.tick(), PROGRESS_IDLE_MS);
  }

  private tick(): void {
    const bytes = this.consumed();
    const still = bytes === this.tickBytes;
    this.tickBytes = bytes;
    if (bytes === this.lastBytes) return;
    const now = performance.now();
    // Idle means waiting with nothing consumed since the last tick: a short gap between two
    // socket reads while the stream flows is not the source waiting for us.
    if (now - this.lastAt < PROGRESS_INTERVAL_MS && !(still && this.idle())) return;
    this.lastBytes = bytes;
    this.lastAt = now;
    this.chain = this.chain.then(() => writeLine(this.reply, PROGRESS_PREFIX, { bytes })).catch(() => undefined);
  }

  /** Stops reporting; resolves once the reports already started are written. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
  }
}

/** Reads newline-terminated lines from a byte source, with a deadline per line. */
export class LineReader {
  private buf = '';
  private ended = false;
  private readonly chunk = new Uint8Array(64 << 10);
  private readonly decoder = new TextDecoder();

  constructor(private readonly source: ByteSource) {}

  /** The next line without its newline, or undefined when the peer closed first. */
  async next(timeoutMs: number, what: string): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return line;
      }
      if (this.ended) return undefined;
      if (this.buf.length > MAX_LINE) throw new VmsError('E_LIMIT', `${what} line is too long`, { expected: `at most ${MAX_LINE} bytes` });
      const left = deadline - Date.now();
      if (left <= 0) throw new VmsError('E_TIMEOUT', `no ${what} from the destination within ${timeoutMs} ms`);
      let timer: NodeJS.Timeout | undefined;
      const n = await Promise.race([
        this.source.read(this.chunk),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (n === 'timeout') throw new VmsError('E_TIMEOUT', `no ${what} from the destination within ${timeoutMs} ms`);
      if (n === 0) this.ended = true;
      else this.buf += this.decoder.decode(this.chunk.subarray(0, n), { stream: true });
    }
  }
}

/** Parses `PREFIX {json}`; undefined if the line has another prefix. */
export function parseLine(line: string, prefix: string): unknown {
  if (!line.startsWith(prefix)) return undefined;
  try {
    return JSON.parse(line.slice(prefix.length)) as unknown;
  } catch {
    throw new VmsError('E_FORMAT', 'destination sent a malformed answer', { expected: `${prefix}{json}`, actual: line.slice(0, 80) });
  }
}

/**
 * The source's reading side of the reverse channel: one loop reads every line, keeping the
 * latest PROGRESS count and holding the ACK and REPORT for whoever waits for them.
 */
export class ReturnPath {
  /** Stream bytes the destination has consumed, per its last PROGRESS line. */
  consumed = 0;
  /** performance.now() of the last PROGRESS line (0 = none yet). */
  consumedAt = 0;
  private ack: AckMessage | undefined;
  private report: unknown;
  private hasReport = false;
  private ended = false;
  private failure: unknown;
  private waiters: (() => void)[] = [];
  private readonly lines: LineReader;

  constructor(source: ByteSource) {
    this.lines = new LineReader(source);
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        const line = await this.lines.next(2 ** 31 - 1, 'answer');
        if (line === undefined) break;
        if (line.startsWith(PROGRESS_PREFIX)) {
          const p = parseLine(line, PROGRESS_PREFIX) as { bytes?: unknown };
          if (typeof p.bytes === 'number') {
            this.consumed = p.bytes;
            this.consumedAt = performance.now();
          }
        } else if (line.startsWith(ACK_PREFIX)) {
          this.ack = parseLine(line, ACK_PREFIX) as AckMessage;
        } else if (line.startsWith(REPORT_PREFIX)) {
          try {
            this.report = parseLine(line, REPORT_PREFIX);
          } catch {
            this.report = undefined; // a garbled report does not undo a completed migration
          }
          this.hasReport = true;
        } else {
          throw new VmsError('E_FORMAT', 'destination sent an unknown answer', { actual: line.slice(0, 80) });
        }
        this.notify();
      }
    } catch (e) {
      this.failure = e;
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the next line from the destination (or its end), or after `timeoutMs`. */
  async nextLine(timeoutMs: number): Promise<void> {
    if (this.ended) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // Timed out: leave the list, so polling waits do not pile up until the next line.
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(wake);
    });
  }

  private async until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.ended) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new VmsError('E_TIMEOUT', `no ${what} from the destination within ${timeoutMs} ms`);
      await this.nextLine(left);
    }
  }

  /** The destination's failure answer, if it already gave up (checked between sections). */
  get refusal(): AckMessage | undefined {
    return this.ack !== undefined && this.ack.status !== 'completed' ? this.ack : undefined;
  }

  /** The ACK, or undefined when the peer closed without one (a QEMU destination). */
  async waitAck(timeoutMs: number): Promise<AckMessage | undefined> {
    await this.until(() => this.ack !== undefined, timeoutMs, 'ACK');
    if (this.ack === undefined && this.failure !== undefined) throw this.failure;
    return this.ack;
  }

  /** The REPORT, or undefined when none came. */
  async waitReport(timeoutMs: number): Promise<unknown> {
    await this.until(() => this.hasReport, timeoutMs, 'report').catch(() => undefined);
    return this.report;
  }
}
