/**
 * Diagnostics of the schema-free X.690 check. What X.690 forbids is an error; what BER
 * allows but DER/CER would not (a needlessly long length) is a warning. Codes are stable.
 */
import { formatPath, isVmsError, type PathElement } from '../../errors.js';

export const X690_CODES = [
  /** Bytes that cannot be framed as BER (bad header, a length past its parent, misplaced 00 00...). Checking stops. */
  'X690_FRAMING',
  /** The input ends inside a value. Checking stops. */
  'X690_TRUNCATED',
  /** Nesting, a tag number or a length beyond what the checker accepts. Checking stops. */
  'X690_LIMIT',
  /** The input holds no value at all. */
  'X690_EMPTY',
  /** An identifier in a needlessly long form (X.690 8.1.2.2, 8.1.2.4.2 c). */
  'X690_TAG_FORM',
  /** A definite length in more octets than needed (legal BER; DER forbids it). Warning. */
  'X690_LENGTH_FORM',
  /** A universal type in the wrong form: INTEGER constructed, SEQUENCE primitive... */
  'X690_WRONG_FORM',
  /** A segment of a constructed string that is not of the type X.690 requires. */
  'X690_SEGMENT',
  'X690_BOOLEAN',
  'X690_NULL',
  /** INTEGER or ENUMERATED contents empty or not minimal. */
  'X690_INTEGER',
  /** OBJECT IDENTIFIER or RELATIVE-OID subidentifiers. */
  'X690_OID',
  'X690_REAL',
  'X690_BIT_STRING',
  /** UTCTime or GeneralizedTime that is not of the required shape. */
  'X690_TIME',
  /** A character string whose octets are outside its character set (or malformed UTF-8). */
  'X690_CHARACTERS',
] as const;

export type X690Code = (typeof X690_CODES)[number];
export type X690Severity = 'error' | 'warning';

/**
 * The finding for an error the BER reader threw (framing, a cut, a limit), or undefined for any
 * other error, which is not the input's fault and is rethrown.
 */
export function readerFailureCode(e: unknown): X690Code | undefined {
  if (!isVmsError(e)) return undefined;
  return e.code === 'E_BER' ? 'X690_FRAMING' : e.code === 'E_TRUNCATED' ? 'X690_TRUNCATED' : e.code === 'E_LIMIT' ? 'X690_LIMIT' : undefined;
}

/** One finding, located by byte offset and by the path down to it; `C` is the code set. */
export interface BerDiagnostic<C extends string> {
  readonly severity: X690Severity;
  readonly code: C;
  /** Absolute byte offset: the value's identifier, or the offending octet when one is to blame. */
  readonly offset: number;
  /** Outermost first: tag names and child indexes here, type and component names in the validator. */
  readonly path: readonly PathElement[];
  readonly message: string;
  readonly expected?: string;
  readonly actual?: string;
  /** The bytes around `offset`, when the checker still had them. */
  readonly excerpt?: { readonly offset: number; readonly bytes: Uint8Array };
}

export type X690Diagnostic = BerDiagnostic<X690Code>;

/** `error X690_INTEGER at byte 12 (0xc) in SEQUENCE[2]: message; expected ...; found ...` */
export function formatBerDiagnostic(d: BerDiagnostic<string>): string {
  let s = `${d.severity} ${d.code} at byte ${d.offset} (0x${d.offset.toString(16)})`;
  if (d.path.length > 0) s += ` in ${formatPath(d.path)}`;
  s += `: ${d.message}`;
  if (d.expected !== undefined) s += `; expected ${d.expected}`;
  if (d.actual !== undefined) s += `; found ${d.actual}`;
  return s;
}

export const formatX690Diagnostic: (d: X690Diagnostic) => string = formatBerDiagnostic;
