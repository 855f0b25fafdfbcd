/** The resolver's view of modules and names, shared by the compiler, constraint and value modules (internal). */
import type { AssignmentAst, ModuleAst, TypeAst, ValueAst } from './ast.js';
import type { Asn1DiagnosticCode, Severity, Span } from './diagnostics.js';
import type { AsnType, AsnValue } from './types.js';

export interface ModuleInfo {
  readonly ast: ModuleAst;
  readonly assignments: Map<string, AssignmentAst>;
  /** Imported symbol → source module name and where it was imported. */
  readonly imports: Map<string, { readonly from: string; readonly span: Span; readonly ambiguous: boolean }>;
  readonly types: Map<string, AsnType>;
  readonly values: Map<string, AsnValue>;
}

/** An actual parameter bound to a dummy reference, with the context it must be compiled in. */
export type Binding =
  | { readonly kind: 'type'; readonly type: TypeAst; readonly ctx: Ctx }
  | { readonly kind: 'value'; readonly value: ValueAst; readonly ctx: Ctx };

export interface Ctx {
  readonly mod: ModuleInfo;
  readonly params: ReadonlyMap<string, Binding> | undefined;
  readonly depth: number;
}

/** What a name resolves to. */
export type Resolved =
  | { readonly kind: 'assignment'; readonly mod: ModuleInfo; readonly asn: AssignmentAst }
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'param'; readonly binding: Binding };

/** Records a diagnostic in the file of `mod`. */
export type Report = (code: Asn1DiagnosticCode, message: string, at: Span, mod: ModuleInfo | ModuleAst, severity?: Severity) => void;
