/**
 * Diagnostics for the ASN.1 module parser and resolver. Both collect problems instead of
 * throwing (STYLE §6), so one run reports every error with its line and column; callers that
 * want an exception use `throwOnErrors`.
 */
import { VmsError } from '../errors.js';

export const ASN1_DIAGNOSTIC_CODES = [
  /** A character that cannot start any ASN.1 token. */
  'ASN1_BAD_CHARACTER',
  /** A block comment or a quoted string that is not closed before the end of the text. */
  'ASN1_UNTERMINATED',
  /** A token that the grammar does not allow here. */
  'ASN1_SYNTAX',
  /** A type or value reference that names nothing in scope. */
  'ASN1_UNKNOWN_REFERENCE',
  /** IMPORTS names a module that was not given, or a symbol that module does not define or export. */
  'ASN1_UNKNOWN_IMPORT',
  /** Two assignments (or imports) of the same name in one module, or two components of the same name. */
  'ASN1_DUPLICATE',
  /** Components or alternatives whose tags a decoder could not tell apart (X.680 distinct-tag rules). */
  'ASN1_AMBIGUOUS_TAG',
  /** A tag that X.680 forbids: IMPLICIT on an untagged CHOICE or open type, or a bad tag number. */
  'ASN1_BAD_TAG',
  /** A type defined in terms of itself with no SEQUENCE/SET/CHOICE/OF in between. */
  'ASN1_CIRCULAR',
  /** A value that does not fit its type (a named number that does not exist, a non-integer bound...). */
  'ASN1_BAD_VALUE',
  /** A construct accepted but not compiled (information object classes, some constraints): a warning. */
  'ASN1_UNSUPPORTED',
] as const;

export type Asn1DiagnosticCode = (typeof ASN1_DIAGNOSTIC_CODES)[number];

export type Severity = 'error' | 'warning';

/** One problem found in a module text, located by offset and by 1-based line and column. */
export interface Diagnostic {
  readonly code: Asn1DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  /** The file name the caller gave with the text, if any. */
  readonly file: string | undefined;
  /** Offset of the first character (UTF-16 units from the start of the text). */
  readonly offset: number;
  readonly length: number;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column (UTF-16 units). */
  readonly column: number;
}

/** Where in a text something is: enough to build a Diagnostic. */
export interface Span {
  readonly offset: number;
  readonly length: number;
  readonly line: number;
  readonly column: number;
}

/** `file:line:column: severity CODE message`, the format compilers and editors understand. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file ?? '<input>'}:${d.line}:${d.column}`;
  return `${where}: ${d.severity} ${d.code}: ${d.message}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Throws one E_ASN1 VmsError listing every error diagnostic, if there is any. */
export function throwOnErrors(diagnostics: readonly Diagnostic[]): void {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length === 0) return;
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  throw new VmsError('E_ASN1', `${formatDiagnostic(first)}${more}`, {
    offset: first.offset,
    path: [first.file ?? '<input>'],
    expected: 'an ASN.1 module set that parses and resolves',
    actual: errors.map(formatDiagnostic).join('\n'),
  });
}
