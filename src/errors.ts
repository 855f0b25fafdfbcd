/**
 * One error type for the whole library, with a stable `code`, the absolute byte offset in
 * the stream where it happened, and the path (section, device, field, index) down to it.
 * The library never prints; the CLI turns these into messages and exit statuses.
 */

export const ERROR_CODES = [
  /** The input ended before a value was complete. */
  'E_TRUNCATED',
  /** A length, count or nesting depth exceeds a configured limit. */
  'E_LIMIT',
  /** A version is above what we know ("too new") or below the minimum ("too old"). */
  'E_VERSION',
  /** Bytes that cannot be what the format says is here (bad magic, bad tag, unknown flag...). */
  'E_FORMAT',
  /** A value that the receiving side checks (an `equal` or `le` field, a footer id) differs. */
  'E_MISMATCH',
  /** A section, subsection or RAM block that the receiver does not know. */
  'E_UNKNOWN',
  /** A field that must be present (VMS_MUST_EXIST) is absent, or a validate test failed. */
  'E_VALIDATION',
  /** A description or schema that is itself wrong (duplicate names, counts after arrays...). */
  'E_DESCRIPTION',
  /** The transport failed (closed, reset, refused, ENOENT...). */
  'E_IO',
  /** The operation was cancelled or the channel was closed under it. */
  'E_CLOSED',
  /** An argument or URI the caller gave is malformed. */
  'E_USAGE',
  /** A BER value violates X.690 or a schema constraint. */
  'E_BER',
  /** An ASN.1 module does not parse or does not resolve. */
  'E_ASN1',
  /** A migration peer stalled or a deadline passed. */
  'E_TIMEOUT',
] as const;

export type VmsCode = (typeof ERROR_CODES)[number];

/** A path element: a section, device or field name, or an array index. */
export type PathElement = string | number;

export interface VmsErrorDetails {
  /** Absolute byte offset in the stream (0 = first byte), when known. */
  readonly offset?: number;
  /** Section, device and field names down to the failing value, outermost first. */
  readonly path?: readonly PathElement[];
  /** What the reader expected, in words ("a be32 section id", "0x7e footer"). */
  readonly expected?: string;
  /** What it found instead. */
  readonly actual?: string;
  readonly cause?: unknown;
}

export class VmsError extends Error {
  override readonly name = 'VmsError';
  readonly code: VmsCode;
  readonly offset: number | undefined;
  readonly path: readonly PathElement[];
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  /** The message without the location suffix, for callers that print location themselves. */
  readonly reason: string;

  constructor(code: VmsCode, reason: string, details: VmsErrorDetails = {}) {
    super(formatMessage(reason, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.reason = reason;
    this.offset = details.offset;
    this.path = details.path ?? [];
    this.expected = details.expected;
    this.actual = details.actual;
  }

  /** A copy of this error with `outer` prepended to its path (used as errors bubble up). */
  within(...outer: readonly PathElement[]): VmsError {
    return new VmsError(this.code, this.reason, {
      offset: this.offset,
      path: [...outer, ...this.path],
      expected: this.expected,
      actual: this.actual,
      cause: this.cause,
    });
  }

  /** A copy with the offset set, if it had none. */
  at(offset: number): VmsError {
    if (this.offset !== undefined) return this;
    return new VmsError(this.code, this.reason, {
      offset,
      path: this.path,
      expected: this.expected,
      actual: this.actual,
      cause: this.cause,
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.reason,
      offset: this.offset,
      path: formatPath(this.path),
      expected: this.expected,
      actual: this.actual,
    };
  }
}

/** True for a VmsError from any copy of this library (checks the name, not the class). */
export function isVmsError(e: unknown): e is VmsError {
  return e instanceof Error && e.name === 'VmsError' && typeof (e as { code?: unknown }).code === 'string';
}

/** `ram.blocks[3].name` style: numbers become `[i]`, names are joined with dots. */
export function formatPath(path: readonly PathElement[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

function formatMessage(reason: string, d: VmsErrorDetails): string {
  const parts = [reason];
  if (d.expected !== undefined) parts.push(`expected ${d.expected}`);
  if (d.actual !== undefined) parts.push(`found ${d.actual}`);
  const where: string[] = [];
  if (d.offset !== undefined) where.push(`at byte ${d.offset} (0x${d.offset.toString(16)})`);
  if (d.path !== undefined && d.path.length > 0) where.push(`in ${formatPath(d.path)}`);
  return where.length > 0 ? `${parts.join(': ')} ${where.join(' ')}` : parts.join(': ');
}
