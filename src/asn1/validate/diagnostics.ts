/**
 * Diagnostics of the schema validator. A finding names the byte offset, the path of types and
 * fields down to the value (`MigrationStream.records[41].sectionFull.body`), what the schema
 * expected and what was found. Encoding-rule findings keep their X690_* codes. Codes are stable.
 */

import { formatBerDiagnostic, type BerDiagnostic, type X690Code } from '../x690/diagnostics.js';

export const SCHEMA_CODES = [
  /** A value's tag is not the one the schema expects here (or no CHOICE alternative has it). */
  'SCHEMA_TAG',
  /** A value is primitive where the schema needs constructed contents, or the reverse. */
  'SCHEMA_FORM',
  /** A mandatory SEQUENCE or SET component is absent. */
  'SCHEMA_MISSING',
  /** A value that is no component of the SEQUENCE or SET (and the type is not extensible). */
  'SCHEMA_UNEXPECTED',
  /** A SET component, or a SEQUENCE component, that appears twice. */
  'SCHEMA_DUPLICATE',
  /** A SEQUENCE component that comes after one the schema puts later. */
  'SCHEMA_ORDER',
  /** An explicit tag that does not hold exactly one value. */
  'SCHEMA_WRAPPER',
  /** An INTEGER outside its value constraint, or an ENUMERATED value that is not an item. */
  'SCHEMA_VALUE',
  /** A string length or element count outside its SIZE constraint. */
  'SCHEMA_SIZE',
  /** A character outside the permitted alphabet (FROM). */
  'SCHEMA_ALPHABET',
  /** Bytes after the value (the stream holds one value of the type). */
  'SCHEMA_TRAILING',
  /** The stream holds no value. */
  'SCHEMA_EMPTY',
] as const;

export type SchemaCode = (typeof SCHEMA_CODES)[number];
export type ValidationCode = SchemaCode | X690Code;
export type ValidationSeverity = 'error' | 'warning';

/** One finding of the schema validator (the X.690 check's shape, with more codes). */
export type ValidationDiagnostic = BerDiagnostic<ValidationCode>;

/** `error SCHEMA_TAG at byte 12 (0xc) in T.a[2]: message; expected ...; found ...` */
export const formatValidationDiagnostic: (d: ValidationDiagnostic) => string = formatBerDiagnostic;
