/**
 * The syntax tree of ASN.1 modules as written (X.680), before any reference is resolved.
 * The parser fills in as much as it can even when the text has errors (a best-effort tree).
 */
import type { Span } from './diagnostics.js';

export type TagDefault = 'EXPLICIT' | 'IMPLICIT' | 'AUTOMATIC';
export type TagClassName = 'UNIVERSAL' | 'APPLICATION' | 'CONTEXT' | 'PRIVATE';

export interface ModuleAst {
  readonly name: string;
  /** The DefinitiveIdentifier `{ iso(1) ... }`, if written. */
  readonly oid: ValueAst | undefined;
  /** `DEFINITIONS ... TAGS`; EXPLICIT when the module says nothing (X.680 13.2). */
  readonly tagDefault: TagDefault;
  readonly extensibilityImplied: boolean;
  /** `undefined` when there is no EXPORTS clause (everything is exported), 'ALL' for `EXPORTS ALL;`. */
  readonly exports: 'ALL' | readonly NameAst[] | undefined;
  readonly imports: readonly ImportAst[];
  readonly assignments: readonly AssignmentAst[];
  readonly file: string | undefined;
  readonly span: Span;
}

export interface NameAst {
  readonly name: string;
  readonly span: Span;
}

export interface ImportAst {
  readonly symbols: readonly NameAst[];
  readonly module: NameAst;
  readonly oid: ValueAst | undefined;
}

/** `Name {Param, ...} ::=`: the dummy references of a parameterized assignment (X.683). */
export interface ParameterAst {
  /** Set for a value or value-set parameter (`INTEGER : ub`), absent for a type parameter. */
  readonly governor: TypeAst | undefined;
  readonly name: string;
  readonly span: Span;
}

export type AssignmentAst =
  | {
      readonly kind: 'type';
      readonly name: string;
      readonly params: readonly ParameterAst[];
      readonly type: TypeAst;
      readonly span: Span;
    }
  | {
      readonly kind: 'value';
      readonly name: string;
      readonly params: readonly ParameterAst[];
      readonly type: TypeAst;
      readonly value: ValueAst;
      readonly span: Span;
    }
  | {
      /** Information object classes, objects, object sets, value sets and macros: parsed past, not compiled. */
      readonly kind: 'other';
      readonly what: 'class' | 'object' | 'object set' | 'value set' | 'macro';
      readonly name: string;
      readonly params: readonly ParameterAst[];
      /** For 'object' and 'object set' / 'value set': the governing type or class as written. */
      readonly governor: TypeAst | undefined;
      /** For 'class': the fields `&name` that are fixed-type value fields, with their types. */
      readonly fields: readonly ClassFieldAst[];
      /** For 'value set': the set `{ 1 | 2, ... }` as a constraint on the governor, when it parses as one. */
      readonly valueSet: ConstraintAst | undefined;
      readonly span: Span;
    };

export interface ClassFieldAst {
  readonly name: string;
  /** The type of a fixed-type value field (`&id OBJECT IDENTIFIER UNIQUE`); absent for type fields. */
  readonly type: TypeAst | undefined;
}

export type BuiltinName =
  | 'BOOLEAN' | 'NULL' | 'REAL' | 'OCTET STRING' | 'OBJECT IDENTIFIER' | 'RELATIVE-OID' | 'EXTERNAL'
  | 'EMBEDDED PDV' | 'CHARACTER STRING';

export interface TagAst {
  readonly cls: TagClassName;
  readonly number: ValueAst;
  readonly span: Span;
}

interface TypeBase {
  readonly span: Span;
  /** Constraints written after the type, outermost last: `INTEGER (0..9) (1..5)` has two. */
  readonly constraints: readonly ConstraintAst[];
}

/** The kind-specific part of a type, without its span and constraints. */
export type TypeBody =
    | { readonly kind: 'builtin'; readonly name: BuiltinName }
    | { readonly kind: 'INTEGER'; readonly named: readonly NamedNumberAst[] }
    | { readonly kind: 'BIT STRING'; readonly named: readonly NamedNumberAst[] }
    | { readonly kind: 'ENUMERATED'; readonly items: readonly EnumItemAst[] }
    | { readonly kind: 'SEQUENCE' | 'SET'; readonly items: readonly ComponentItemAst[] }
    | { readonly kind: 'CHOICE'; readonly items: readonly ComponentItemAst[] }
    | {
        readonly kind: 'SEQUENCE OF' | 'SET OF';
        /** The SIZE or other constraint written between SEQUENCE and OF. */
        readonly ofConstraint: ConstraintAst | undefined;
        readonly elementName: string | undefined;
        readonly element: TypeAst;
      }
    | {
        readonly kind: 'tagged';
        readonly tag: TagAst;
        /** As written; undefined means the module's default applies. */
        readonly mode: 'IMPLICIT' | 'EXPLICIT' | undefined;
        readonly type: TypeAst;
      }
    | { readonly kind: 'ANY'; readonly definedBy: string | undefined }
    | {
        /** A type reference, possibly `Module.Type`, possibly with actual parameters `Type{A, B}`. */
        readonly kind: 'ref';
        readonly module: string | undefined;
        readonly name: string;
        readonly args: readonly ActualParameterAst[] | undefined;
      }
    | {
        /** `CLASS.&field` or `CLASS.&Field(...)`: an open type or the type of a fixed-type value field. */
        readonly kind: 'classField';
        readonly className: string;
        readonly field: string;
      }
    | { readonly kind: 'selection'; readonly alternative: string; readonly type: TypeAst }
    | { readonly kind: 'instanceOf'; readonly className: string };

export type TypeAst = TypeBase & TypeBody;

/** An actual parameter: a type, a value, or a braced set we do not interpret. */
export type ActualParameterAst =
  | { readonly kind: 'type'; readonly type: TypeAst }
  | { readonly kind: 'value'; readonly value: ValueAst };

export interface NamedNumberAst {
  readonly name: string;
  /** A number, a signed number or a value reference. */
  readonly value: ValueAst;
  readonly span: Span;
}

export type EnumItemAst =
  | { readonly kind: 'item'; readonly name: string; readonly value: ValueAst | undefined; readonly span: Span }
  | { readonly kind: 'extension'; readonly span: Span };

export type ComponentItemAst =
  | {
      readonly kind: 'component';
      readonly name: string;
      readonly type: TypeAst;
      readonly optional: boolean;
      readonly default: ValueAst | undefined;
      readonly span: Span;
    }
  | { readonly kind: 'componentsOf'; readonly type: TypeAst; readonly span: Span }
  /** `...` with its optional exception spec `! value`. */
  | { readonly kind: 'extension'; readonly exception: ValueAst | undefined; readonly span: Span }
  /** `[[ n: a, b ]]` extension addition group. */
  | {
      readonly kind: 'group';
      readonly version: number | undefined;
      readonly items: readonly ComponentItemAst[];
      readonly span: Span;
    };

export type ConstraintAst =
  | { readonly kind: 'single'; readonly value: ValueAst; readonly span: Span }
  | {
      readonly kind: 'range';
      readonly lower: ValueAst | 'MIN';
      readonly lowerOpen: boolean;
      readonly upper: ValueAst | 'MAX';
      readonly upperOpen: boolean;
      readonly span: Span;
    }
  | { readonly kind: 'size'; readonly constraint: ConstraintAst; readonly span: Span }
  | { readonly kind: 'from'; readonly constraint: ConstraintAst; readonly span: Span }
  | { readonly kind: 'union' | 'intersection'; readonly items: readonly ConstraintAst[]; readonly span: Span }
  | { readonly kind: 'except'; readonly base: ConstraintAst | 'ALL'; readonly excluded: ConstraintAst; readonly span: Span }
  /** `root, ..., additions`: values outside the root are allowed by the encoding rules. */
  | {
      readonly kind: 'extensible';
      readonly root: ConstraintAst | undefined;
      readonly additions: ConstraintAst | undefined;
      readonly span: Span;
    }
  /** A contained subtype `(INCLUDES T)` or `(T)`. */
  | { readonly kind: 'type'; readonly type: TypeAst; readonly span: Span }
  | {
      readonly kind: 'contents';
      readonly containing: TypeAst | undefined;
      readonly encodedBy: ValueAst | undefined;
      readonly span: Span;
    }
  /** `WITH COMPONENTS { [..., ] name (constraint) PRESENT, ... }` (X.680 51.8): partial when it starts with `...`. */
  | {
      readonly kind: 'withComponents';
      readonly partial: boolean;
      readonly items: readonly ComponentConstraintAst[];
      readonly span: Span;
    }
  /** `WITH COMPONENT (...)`: a constraint on the element of a SEQUENCE OF / SET OF (X.680 51.8.2). */
  | { readonly kind: 'withComponent'; readonly constraint: ConstraintAst; readonly span: Span }
  /** A WITH COMPONENTS the parser could not structure: kept as text, not applied. */
  | { readonly kind: 'inner'; readonly text: string; readonly span: Span }
  /** Table and component relation constraints, PATTERN, CONSTRAINED BY, SETTINGS: parsed past. */
  | { readonly kind: 'opaque'; readonly what: string; readonly span: Span };

/** One named component inside WITH COMPONENTS. */
export interface ComponentConstraintAst {
  readonly name: string;
  readonly constraint: ConstraintAst | undefined;
  readonly presence: 'PRESENT' | 'ABSENT' | 'OPTIONAL' | undefined;
  readonly span: Span;
}

/** One item of a braced value: `iso(1)`, `1`, `id-pkix`, or `name value` in a SEQUENCE value. */
export interface BracedItemAst {
  /** The identifier of the `name(n)` form (an OID arc or a named bit); a bare name is a `ref` value. */
  readonly name: string | undefined;
  readonly value: ValueAst | undefined;
  readonly span: Span;
}

/** The kind-specific part of a value, without its span. */
export type ValueBody =
  | { readonly kind: 'number'; readonly value: bigint }
  | { readonly kind: 'real'; readonly text: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }
  | { readonly kind: 'special'; readonly name: 'PLUS-INFINITY' | 'MINUS-INFINITY' | 'NOT-A-NUMBER' }
  | { readonly kind: 'ref'; readonly module: string | undefined; readonly name: string }
  | { readonly kind: 'bstring' | 'hstring' | 'cstring'; readonly text: string }
  /** `alternative : value` */
  | { readonly kind: 'choice'; readonly alternative: string; readonly value: ValueAst }
  /** `{ ... }`: items separated by commas form groups; an OID value is one group of several items. */
  | { readonly kind: 'braced'; readonly groups: readonly (readonly BracedItemAst[])[] }
  /** Something we could not interpret (an information object, a class field value). */
  | { readonly kind: 'opaque' };

export type ValueAst = { readonly span: Span } & ValueBody;
