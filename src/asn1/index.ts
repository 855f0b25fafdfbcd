/** ASN.1 modules: parse (X.680 notation), resolve and compile types for BER validation and XER. */
export * from './diagnostics.js';
export type * from './ast.js';
export { createScanner, tokenize, isReservedWord, Tok, type Token, type TokKind, type Scanner } from './scanner.js';
export { parseModules, DEFAULT_MAX_NESTING, type ParseOptions, type ParseResult } from './parser.js';
export {
  compileAsn1,
  compileModules,
  DEFAULT_MAX_INSTANTIATION_DEPTH,
  type Asn1Source,
  type CompiledModule,
  type CompileOptions,
  type CompileResult,
} from './compile.js';
export * from './types.js';
export { formatRanges } from './ranges.js';
