/**
 * A small QMP client over a unix socket: reads the greeting, negotiates capabilities,
 * matches replies to commands by id, records asynchronous events, and puts a deadline on
 * every wait so a stuck QEMU gives a clear error instead of a hung test.
 */

import { connect, type Socket } from 'node:net';
import { VmsError } from '../../src/errors.js';

/** One asynchronous QMP event (`{"event": ..., "data": ..., "timestamp": ...}`). */
export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  readonly timestamp: { readonly seconds: number; readonly microseconds: number };
}

/** The error QEMU returned for a command (`{"error": {"class", "desc"}}`). */
export class QmpCommandError extends Error {
  override readonly name = 'QmpCommandError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface EventWaiter {
  readonly name: string;
  readonly resolve: (ev: QmpEvent) => void;
}

/** Default deadline for one command's reply, in ms. */
export const QMP_DEFAULT_TIMEOUT_MS = 10_000;

export class QmpClient {
  /** Every event received so far, oldest first. */
  readonly events: QmpEvent[] = [];
  /** The greeting's QEMU version, e.g. `{major: 7, minor: 2, micro: 22}`. */
  version: { major: number; minor: number; micro: number } | undefined;

  private readonly pending = new Map<number, Pending>();
  private readonly eventWaiters: EventWaiter[] = [];
  private nextId = 1;
  private buffered = '';
  private closedError: Error | undefined;
  private greetingResolve: (() => void) | undefined;
  private greetingReject: ((err: Error) => void) | undefined;
  private readonly greeting: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    /** Called to enrich errors when the socket closes (e.g. with QEMU's stderr). */
    private readonly describeClose: () => string,
  ) {
    this.greeting = new Promise<void>((resolve, reject) => {
      this.greetingResolve = resolve;
      this.greetingReject = reject;
    });
    this.greeting.catch(() => undefined); // observed by connect(); silence the unobserved case
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose(new VmsError('E_IO', `QMP connection closed${this.closeSuffix()}`)));
    socket.on('error', (err) => this.onClose(new VmsError('E_IO', `QMP socket error: ${err.message}${this.closeSuffix()}`, { cause: err })));
  }

  /**
   * Connects to `socketPath`, waits for the greeting and sends `qmp_capabilities`.
   * `describeClose` supplies extra text (QEMU's stderr) for errors after a disconnect.
   */
  static async connect(socketPath: string, options: { timeoutMs?: number; describeClose?: () => string } = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? QMP_DEFAULT_TIMEOUT_MS;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', (err) => reject(new VmsError('E_IO', `cannot connect to QMP socket ${socketPath}: ${err.message}`, { cause: err })));
    });
    const client = new QmpClient(socket, options.describeClose ?? (() => ''));
    try {
      await client.withDeadline(client.greeting, timeoutMs, 'QMP greeting');
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Runs a command and resolves with its `return` value; rejects with QmpCommandError or E_TIMEOUT. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? QMP_DEFAULT_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VmsError('E_TIMEOUT', `QMP ${command} got no reply within ${timeoutMs} ms${this.closeSuffix()}`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args !== undefined) msg['arguments'] = args;
      this.socket.write(JSON.stringify(msg) + '\n');
    });
  }

  /** Runs an HMP command through `human-monitor-command` and returns its text output. */
  async hmp(commandLine: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const out = await this.execute<string>('human-monitor-command', { 'command-line': commandLine }, options);
    return typeof out === 'string' ? out : '';
  }

  /** Resolves with the first event named `name` received after `since` (an index into `events`). */
  waitEvent(name: string, options: { timeoutMs?: number; since?: number } = {}): Promise<QmpEvent> {
    const since = options.since ?? this.events.length;
    const seen = this.events.slice(since).find((e) => e.event === name);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const wait = new Promise<QmpEvent>((resolve) => this.eventWaiters.push({ name, resolve }));
    return this.withDeadline(wait, options.timeoutMs ?? QMP_DEFAULT_TIMEOUT_MS, `QMP event ${name}`);
  }

  /** True once the connection is gone. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Closes the socket; pending commands fail with E_CLOSED. */
  close(): void {
    this.onClose(new VmsError('E_CLOSED', 'QMP client closed'));
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (line !== '') this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.onClose(new VmsError('E_FORMAT', 'QMP sent a line that is not JSON', { actual: line.slice(0, 200) }));
      this.socket.destroy();
      return;
    }
    if ('QMP' in msg) {
      const qmp = msg['QMP'] as { version?: { qemu?: { major: number; minor: number; micro: number } } };
      this.version = qmp.version?.qemu;
      this.greetingResolve?.();
      return;
    }
    if (typeof msg['event'] === 'string') {
      const ev = msg as unknown as QmpEvent;
      this.events.push(ev);
      for (let i = this.eventWaiters.length - 1; i >= 0; i--) {
        const w = this.eventWaiters[i]!;
        if (w.name === ev.event) {
          this.eventWaiters.splice(i, 1);
          w.resolve(ev);
        }
      }
      return;
    }
    const id = msg['id'];
    if (typeof id !== 'number') return; // a reply to nobody (e.g. id-less error); nothing waits for it
    const p = this.pending.get(id);
    if (p === undefined) return; // its caller already timed out
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const err = msg['error'] as { class?: string; desc?: string };
      p.reject(new QmpCommandError(p.command, err.class ?? 'GenericError', err.desc ?? ''));
    } else {
      p.resolve(msg['return']);
    }
  }

  private onClose(err: Error): void {
    if (this.closedError !== undefined) return;
    this.closedError = err;
    this.greetingReject?.(err);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private closeSuffix(): string {
    const extra = this.describeClose().trim();
    return extra === '' ? '' : ` (QEMU: ${extra})`;
  }

  private withDeadline<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new VmsError('E_TIMEOUT', `no ${what} within ${timeoutMs} ms${this.closeSuffix()}`)), timeoutMs);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }
}
