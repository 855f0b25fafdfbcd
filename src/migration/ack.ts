/**
 * The destination's answer on the reverse channel of a vmstream-to-vmstream migration (QEMU
 * precopy has no such message; this plays the part of its return path's final SHUT). After
 * the stream ends the destination writes one line, then optionally a report line:
 *
 *   VMSTREAM-ACK {"status":"completed"}\n          (or "failed" with "error": {code, message})
 *   VMSTREAM-REPORT {...}\n                         (whatever the destination's hook returned)
 *
 * The source counts downtime up to the ACK line, so slow reports (a RAM hash) do not count.
 */
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { VmsError } from '../errors.js';

export const ACK_PREFIX = 'VMSTREAM-ACK ';
export const REPORT_PREFIX = 'VMSTREAM-REPORT ';
/** Longest line accepted from the peer. */
const MAX_LINE = 1 << 20;

export interface AckMessage {
  readonly status: 'completed' | 'failed';
  readonly error?: { readonly code: string; readonly message: string };
}

export async function writeLine(sink: ByteSink, prefix: string, body: unknown): Promise<void> {
  await sink.write(new TextEncoder().encode(`${prefix}${JSON.stringify(body)}\n`));
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
