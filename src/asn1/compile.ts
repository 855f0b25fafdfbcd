/**
 * Resolves a set of parsed ASN.1 modules together and compiles their types for a BER validator:
 * imports and exports, type and value references (including bounds like `ub-name` in constraints),
 * parameterized types, the tagging environment (EXPLICIT / IMPLICIT / AUTOMATIC), extensibility, and
 * constraints reduced to numeric ranges. Problems are collected as diagnostics with line and column.
 *
 * Each named type is compiled once. Its object is registered before its components are compiled, so
 * recursive types (LDAP's Filter) terminate and share one definition (STYLE §3, protobuf-es's WeakMap).
 */
import { TagClass, Universal } from '../format/ber/tag.js';
import type { ActualParameterAst, AssignmentAst, ClassFieldAst, ComponentItemAst, ModuleAst, TagDefault, TypeAst } from './ast.js';
import { BUILTIN_REFERENCE_TYPES, KEYWORD_TYPE_TAGS, wellKnownArc } from './builtins.js';
import { checkTypeDefinitions, type PendingCheck } from './checks.js';
import { createConstraintEvaluator } from './constraints.js';
import type { Asn1DiagnosticCode, Diagnostic, Severity, Span } from './diagnostics.js';
import { parseModules } from './parser.js';
import type { Binding, Ctx, ModuleInfo, Resolved } from './scope.js';
import type { AsnType, AsnValue, Component, NamedNumber, Tag, TypeDef, TypeKind } from './types.js';
import { createValueResolver } from './values.js';

export interface Asn1Source {
  readonly text: string;
  /** Shown in diagnostics. */
  readonly file?: string;
}

export interface CompiledModule {
  readonly name: string;
  /** The module's DefinitiveIdentifier as arcs, when it has one made of numbers and X.660 names. */
  readonly oid: readonly bigint[] | undefined;
  readonly tagDefault: TagDefault;
  readonly extensibilityImplied: boolean;
  readonly file: string | undefined;
  /** Every non-parameterized type assignment, by name. */
  readonly types: ReadonlyMap<string, AsnType>;
  /** Every value assignment whose value could be resolved, by name. */
  readonly values: ReadonlyMap<string, AsnValue>;
}

export interface CompileResult {
  readonly modules: ReadonlyMap<string, CompiledModule>;
  /** Parse and resolve diagnostics, in the order found. */
  readonly diagnostics: readonly Diagnostic[];
  /** A type by name: in `module` if given, else the first module (in input order) that defines it. */
  type(name: string, module?: string): AsnType | undefined;
  /** A value by name, looked up like `type`. */
  value(name: string, module?: string): AsnValue | undefined;
}

export interface CompileOptions {
  /** Deepest nesting of parameterized type instantiations. Defaults to DEFAULT_MAX_INSTANTIATION_DEPTH. */
  readonly maxInstantiationDepth?: number;
}

export const DEFAULT_MAX_INSTANTIATION_DEPTH = 32;

/** Parses and compiles module texts given together (imports between them resolve). */
export function compileAsn1(sources: readonly Asn1Source[], options: CompileOptions = {}): CompileResult {
  const asts: ModuleAst[] = [];
  const parseDiagnostics: Diagnostic[] = [];
  for (const s of sources) {
    const r = parseModules(s.text, s.file === undefined ? {} : { file: s.file });
    asts.push(...r.modules);
    parseDiagnostics.push(...r.diagnostics);
  }
  const compiled = compileModules(asts, options);
  return { ...compiled, diagnostics: [...parseDiagnostics, ...compiled.diagnostics] };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableDef = Mutable<TypeDef> & { components: Component[]; named: NamedNumber[] };

interface CacheEntry<T> {
  /** Set as soon as the object exists (possibly before its components are compiled). */
  result: T | undefined;
}

/** Compiles parsed modules together. */
export function compileModules(asts: readonly ModuleAst[], options: CompileOptions = {}): CompileResult {
  const maxDepth = options.maxInstantiationDepth ?? DEFAULT_MAX_INSTANTIATION_DEPTH;
  const diagnostics: Diagnostic[] = [];
  const modules = new Map<string, ModuleInfo>();
  const typeCache = new Map<string, CacheEntry<AsnType>>();
  const valueCache = new Map<string, CacheEntry<AsnValue>>();
  /** Defs whose components are still being compiled (COMPONENTS OF one of them is circular). */
  const building = new Set<TypeDef>();
  const pending: PendingCheck[] = [];
  /**
   * Component lists and OF elements are compiled from a queue, not by recursion, so a chain of thousands
   * of types referring to the next one does not exhaust the stack. Code that needs a body now (COMPONENTS
   * OF, selection types, CHOICE values) calls ensureBody first.
   */
  const bodies = new Map<TypeDef, () => void>();
  const bodyQueue: TypeDef[] = [];
  const deferBody = (def: TypeDef, fill: () => void): void => {
    bodies.set(def, fill);
    bodyQueue.push(def);
  };
  const ensureBody = (def: TypeDef): void => {
    const fill = bodies.get(def);
    if (fill === undefined) return;
    bodies.delete(def);
    fill();
  };
  const drainBodies = (): void => {
    for (let k = 0; k < bodyQueue.length; k++) ensureBody(bodyQueue[k]!);
    bodyQueue.length = 0;
  };

  function report(code: Asn1DiagnosticCode, message: string, at: Span, mod: ModuleInfo | ModuleAst, severity: Severity = 'error'): void {
    const file = 'ast' in mod ? mod.ast.file : mod.file;
    diagnostics.push({ code, severity, message, file, offset: at.offset, length: at.length, line: at.line, column: at.column });
  }

  // ----- module table, duplicates, imports ---------------------------------------------------------

  for (const ast of asts) {
    if (modules.has(ast.name)) {
      report('ASN1_DUPLICATE', `module ${ast.name} is defined twice`, ast.span, ast);
      continue;
    }
    const info: ModuleInfo = { ast, assignments: new Map(), imports: new Map(), types: new Map(), values: new Map() };
    for (const imp of ast.imports) {
      for (const sym of imp.symbols) {
        const seen = info.imports.get(sym.name);
        if (seen === undefined) info.imports.set(sym.name, { from: imp.module.name, span: sym.span, ambiguous: false });
        else if (seen.from === imp.module.name) report('ASN1_DUPLICATE', `${sym.name} is imported twice`, sym.span, ast);
        // The same name from two modules is allowed; only Module.name references may then use it.
        else info.imports.set(sym.name, { ...seen, ambiguous: true });
      }
    }
    for (const a of ast.assignments) {
      if (info.assignments.has(a.name)) report('ASN1_DUPLICATE', `${a.name} is assigned twice in module ${ast.name}`, a.span, ast);
      else if (info.imports.has(a.name)) report('ASN1_DUPLICATE', `${a.name} is both imported and assigned in module ${ast.name}`, a.span, ast);
      else info.assignments.set(a.name, a);
    }
    modules.set(ast.name, info);
  }

  /** Exported by `mod`: everything unless an EXPORTS list says otherwise. */
  const exports = (mod: ModuleInfo, name: string): boolean => {
    const e = mod.ast.exports;
    return e === undefined || e === 'ALL' || e.some((s) => s.name === name);
  };

  for (const info of modules.values()) {
    const e = info.ast.exports;
    if (e !== undefined && e !== 'ALL') {
      for (const s of e) {
        if (!info.assignments.has(s.name) && !info.imports.has(s.name)) {
          report('ASN1_UNKNOWN_REFERENCE', `EXPORTS lists ${s.name}, which module ${info.ast.name} does not define`, s.span, info);
        }
      }
    }
    for (const imp of info.ast.imports) {
      const from = modules.get(imp.module.name);
      if (from === undefined) {
        report('ASN1_UNKNOWN_IMPORT', `module ${imp.module.name} (imported by ${info.ast.name}) was not given`, imp.module.span, info);
        continue;
      }
      for (const sym of imp.symbols) {
        if (!from.assignments.has(sym.name) && !from.imports.has(sym.name)) {
          report('ASN1_UNKNOWN_IMPORT', `module ${from.ast.name} does not define ${sym.name}`, sym.span, info);
        } else if (!exports(from, sym.name)) {
          report('ASN1_UNKNOWN_IMPORT', `module ${from.ast.name} does not export ${sym.name}`, sym.span, info);
        }
      }
    }
  }

  // ----- name resolution --------------------------------------------------------------------------

  /** Finds `name` as seen from `mod` (its own assignments, then its imports, followed transitively). */
  function lookupSymbol(mod: ModuleInfo, name: string, hops = 0): { mod: ModuleInfo; asn: AssignmentAst } | 'missing-module' | 'ambiguous' | undefined {
    const own = mod.assignments.get(name);
    if (own !== undefined) return { mod, asn: own };
    const imp = mod.imports.get(name);
    if (imp === undefined || hops > 16) return undefined;
    if (imp.ambiguous) return 'ambiguous';
    const from = modules.get(imp.from);
    if (from === undefined) return 'missing-module';
    return lookupSymbol(from, name, hops + 1);
  }

  /** Resolves a reference; reports and returns undefined when it names nothing. */
  function resolveName(ctx: Ctx, module: string | undefined, name: string, at: Span, what: 'type' | 'value'): Resolved | undefined {
    if (module === undefined) {
      const binding = ctx.params?.get(name);
      if (binding !== undefined) return { kind: 'param', binding };
    }
    let mod = ctx.mod;
    if (module !== undefined) {
      const m = modules.get(module);
      if (m === undefined) {
        // A module this one imports from was reported missing at its IMPORTS clause already.
        if (!ctx.mod.ast.imports.some((imp) => imp.module.name === module)) {
          report('ASN1_UNKNOWN_REFERENCE', `module ${module} (in ${module}.${name}) was not given`, at, ctx.mod);
        }
        return undefined;
      }
      mod = m;
    }
    const found = lookupSymbol(mod, name);
    if (found === 'missing-module') return undefined; // already reported at the IMPORTS clause
    if (found === 'ambiguous') {
      report('ASN1_UNKNOWN_REFERENCE', `${name} is imported from more than one module; write Module.${name}`, at, ctx.mod);
      return undefined;
    }
    if (found !== undefined) return { kind: 'assignment', mod: found.mod, asn: found.asn };
    if (what === 'type' && BUILTIN_REFERENCE_TYPES.has(name)) return { kind: 'builtin', name };
    report('ASN1_UNKNOWN_REFERENCE', `${what} ${module === undefined ? '' : `${module}.`}${name} is not defined`, at, ctx.mod);
    return undefined;
  }

  const rootCtx = (mod: ModuleInfo): Ctx => ({ mod, params: undefined, depth: 0 });

  // Constraints and values live in their own modules; they call back into type compilation.
  const { constrain, applyConstraint } = createConstraintEvaluator({
    report,
    resolveValue: (v, t, ctx) => resolveValue(v, t, ctx),
    compileType: (ast, ctx, name) => compileType(ast, ctx, name),
    ensureBody: (def) => ensureBody(def),
    isBuilding: (def) => building.has(def),
  });
  const { resolveValue } = createValueResolver({
    report,
    resolveName,
    isDefined: (ctx, name) => ctx.params?.has(name) === true || typeof lookupSymbol(ctx.mod, name) === 'object',
    compileNamedValue,
    ensureBody,
  });

  // ----- type construction helpers ----------------------------------------------------------------

  function newDef(kind: TypeKind): MutableDef {
    return { kind, components: [], element: undefined, elementName: undefined, extensible: false, named: [], definedBy: undefined };
  }

  function makeType(name: string, ctx: Ctx, def: TypeDef, tags: readonly Tag[]): AsnType {
    return { name, module: ctx.mod.ast.name, kind: def.kind, tags, def, size: undefined, value: undefined, alphabet: undefined, contains: undefined };
  }

  /** Defs that stand in for something that failed: no further diagnostics are made about them. */
  const errorDefs = new WeakSet<TypeDef>();
  /** A stand-in after an error, so compilation continues without cascading diagnostics. */
  const errorType = (name: string, ctx: Ctx): AsnType => {
    const def = newDef('ANY');
    errorDefs.add(def);
    return makeType(name, ctx, def, []);
  };

  const universal = (kind: TypeKind): Tag[] => {
    const n = KEYWORD_TYPE_TAGS.get(kind);
    return n === undefined ? [] : [{ cls: TagClass.Universal, number: n }];
  };

  /**
   * X.680 31.2.7: the tag replaces the outer tag (implicit) or is added in front (explicit). An untagged
   * CHOICE or open type has no tag to replace, so its tag is always explicit.
   */
  function applyTag(t: AsnType, tag: Tag, mode: 'IMPLICIT' | 'EXPLICIT'): AsnType {
    const implicit = mode === 'IMPLICIT' && t.tags.length > 0;
    return { ...t, tags: implicit ? [tag, ...t.tags.slice(1)] : [tag, ...t.tags] };
  }

  // ----- named types and values -------------------------------------------------------------------

  function compileNamedType(mod: ModuleInfo, asn: AssignmentAst & { kind: 'type' }, at: Span, from: Ctx): AsnType {
    const key = `${mod.ast.name}\u0000${asn.name}`;
    const cached = typeCache.get(key);
    if (cached !== undefined) {
      if (cached.result !== undefined) return cached.result;
      report('ASN1_CIRCULAR', `type ${asn.name} is defined in terms of itself with no SEQUENCE, SET, CHOICE or OF in between`, at, from.mod);
      return errorType(asn.name, rootCtx(mod));
    }
    const entry: CacheEntry<AsnType> = { result: undefined };
    typeCache.set(key, entry);
    let t = compileType(asn.type, rootCtx(mod), asn.name, (early) => {
      entry.result = early;
    });
    t = asBuiltinRedefinition(asn.name, t);
    entry.result = t;
    if (asn.params.length === 0) mod.types.set(asn.name, t);
    return t;
  }

  /**
   * 1988 modules such as PKIX1Explicit88 define `UTF8String ::= [UNIVERSAL 12] IMPLICIT OCTET STRING` because
   * the type did not exist in 1988 ASN.1. When the tag matches the built-in one, it *is* the built-in type.
   */
  function asBuiltinRedefinition(name: string, t: AsnType): AsnType {
    const b = BUILTIN_REFERENCE_TYPES.get(name);
    if (b === undefined || t.tags.length !== 1) return t;
    const tag = t.tags[0]!;
    if (tag.cls !== TagClass.Universal || tag.number !== b.tag) return t;
    if (t.kind !== 'OCTET STRING' && t.kind !== b.kind) return t;
    return { ...t, kind: b.kind, def: { ...newDef(b.kind) } };
  }

  function compileNamedValue(mod: ModuleInfo, asn: AssignmentAst & { kind: 'value' }, at: Span, from: Ctx): AsnValue {
    const key = `${mod.ast.name}\u0000${asn.name}`;
    const cached = valueCache.get(key);
    if (cached !== undefined) {
      if (cached.result !== undefined) return cached.result;
      report('ASN1_CIRCULAR', `value ${asn.name} is defined in terms of itself`, at, from.mod);
      return { kind: 'opaque', text: asn.name };
    }
    const entry: CacheEntry<AsnValue> = { result: undefined };
    valueCache.set(key, entry);
    const ctx = rootCtx(mod);
    let v: AsnValue;
    if (isClassReference(asn.type, ctx)) {
      v = { kind: 'opaque', text: `information object ${asn.name}` }; // X.681 objects are not compiled
    } else {
      const type = compileType(asn.type, ctx, asn.name);
      v = resolveValue(asn.value, type, ctx);
      checkValueFits(v, type, asn.value.span, ctx);
    }
    entry.result = v;
    if (asn.params.length === 0 && v.kind !== 'opaque') mod.values.set(asn.name, v);
    return v;
  }

  /** True when a governor names an information object class (its values are objects, not values). */
  function isClassReference(t: TypeAst, ctx: Ctx): boolean {
    if (t.kind !== 'ref') return false;
    return findClass(ctx.mod, t.module, t.name) !== undefined;
  }

  /**
   * The class a name denotes, following aliases (`MY-CLASS ::= OTHER-CLASS`); 'builtin' for TYPE-IDENTIFIER
   * and ABSTRACT-SYNTAX. Reports nothing.
   */
  function findClass(mod: ModuleInfo, module: string | undefined, name: string, hops = 0): { mod: ModuleInfo; fields: readonly ClassFieldAst[] } | 'builtin' | undefined {
    if (module === undefined && (name === 'TYPE-IDENTIFIER' || name === 'ABSTRACT-SYNTAX')) return 'builtin';
    const from = module === undefined ? mod : modules.get(module);
    const found = from === undefined || hops > 16 ? undefined : lookupSymbol(from, name);
    if (typeof found !== 'object') return undefined;
    if (found.asn.kind === 'other' && found.asn.what === 'class') return { mod: found.mod, fields: found.asn.fields };
    if (found.asn.kind === 'type' && found.asn.type.kind === 'ref' && found.asn.type.args === undefined && found.asn.type.constraints.length === 0) {
      return findClass(found.mod, found.asn.type.module, found.asn.type.name, hops + 1);
    }
    return undefined;
  }

  function checkValueFits(v: AsnValue, type: AsnType, at: Span, ctx: Ctx): void {
    const wants: Partial<Record<TypeKind, AsnValue['kind']>> = {
      INTEGER: 'integer', ENUMERATED: 'integer', BOOLEAN: 'boolean', NULL: 'null', 'OBJECT IDENTIFIER': 'oid',
      'RELATIVE-OID': 'oid',
    };
    const want = wants[type.kind];
    if (want !== undefined && v.kind !== want && v.kind !== 'opaque') {
      report('ASN1_BAD_VALUE', `value of type ${type.kind} expected, found ${v.kind === 'integer' ? 'a number' : `a ${v.kind} value`}`, at, ctx.mod);
    }
  }

  // ----- types ------------------------------------------------------------------------------------

  /**
   * Compiles a type as written in `ctx`. `onCreate` is called with the result as soon as it exists, before
   * components are compiled, so that a recursive reference to the assignment being compiled finds it.
   */
  function compileType(ast: TypeAst, ctx: Ctx, name: string, onCreate?: (t: AsnType) => void): AsnType {
    switch (ast.kind) {
      case 'tagged': {
        const tag = resolveTag(ast, ctx);
        const modeOf = (inner: AsnType): 'IMPLICIT' | 'EXPLICIT' => tagMode(ast, inner, ctx);
        let outer: AsnType | undefined;
        const inner = compileType(ast.type, ctx, name, onCreate === undefined ? undefined : (early) => {
          outer = applyTag(early, tag, modeOf(early));
          onCreate(outer);
        });
        return outer ?? applyTag(inner, tag, modeOf(inner));
      }
      case 'builtin':
        return constrain(makeType(name, ctx, newDef(ast.name), universal(ast.name)), ast, ctx);
      case 'INTEGER':
      case 'BIT STRING': {
        const def = newDef(ast.kind);
        const seen = new Set<string>();
        for (const n of ast.named) {
          if (seen.has(n.name)) report('ASN1_DUPLICATE', `named ${ast.kind === 'INTEGER' ? 'number' : 'bit'} ${n.name} appears twice`, n.span, ctx.mod);
          seen.add(n.name);
          const v = resolveValue(n.value, undefined, ctx);
          if (v.kind !== 'integer') report('ASN1_BAD_VALUE', `${n.name} needs an integer value`, n.value.span, ctx.mod);
          else def.named.push({ name: n.name, value: v.value, extension: false });
        }
        return constrain(makeType(name, ctx, def, universal(ast.kind)), ast, ctx);
      }
      case 'ENUMERATED':
        return constrain(makeType(name, ctx, compileEnumerated(ast.items, ctx), universal('ENUMERATED')), ast, ctx);
      case 'SEQUENCE':
      case 'SET':
      case 'CHOICE': {
        const def = newDef(ast.kind);
        // WITH COMPONENTS needs the components, so it is applied after them; other constraints at once.
        const inner = ast.constraints.filter((c) => c.kind === 'withComponents');
        const outer = inner.length === 0 ? ast : { ...ast, constraints: ast.constraints.filter((c) => c.kind !== 'withComponents') };
        const t = constrain(makeType(name, ctx, def, ast.kind === 'CHOICE' ? [] : universal(ast.kind)), outer, ctx);
        onCreate?.(t);
        deferBody(def, () => {
          building.add(def);
          compileComponents(ast.items, def, ctx, name, ast.span);
          building.delete(def);
        });
        if (inner.length === 0) return t;
        ensureBody(def);
        return inner.reduce((acc, c) => applyConstraint(acc, c, ctx), t);
      }
      case 'SEQUENCE OF':
      case 'SET OF': {
        const def = newDef(ast.kind);
        def.elementName = ast.elementName;
        // WITH COMPONENT needs the element type, so it is applied after it; other constraints at once.
        const all = ast.ofConstraint === undefined ? ast.constraints : [ast.ofConstraint, ...ast.constraints];
        let t = makeType(name, ctx, def, universal(ast.kind));
        for (const c of all) if (c.kind !== 'withComponent') t = applyConstraint(t, c, ctx);
        onCreate?.(t);
        deferBody(def, () => {
          def.element = compileType(ast.element, ctx, `${name}.${ast.elementName ?? '[]'}`);
        });
        const inner = all.filter((c) => c.kind === 'withComponent');
        if (inner.length === 0) return t;
        ensureBody(def);
        return inner.reduce((acc, c) => applyConstraint(acc, c, ctx), t);
      }
      case 'ANY': {
        const def = newDef('ANY');
        def.definedBy = ast.definedBy;
        return makeType(name, ctx, def, []);
      }
      case 'ref':
        return constrain(compileReference(ast, ctx, name), ast, ctx);
      case 'classField':
        return constrain(compileClassField(ast.className, ast.field, ast.span, ctx, name), ast, ctx);
      case 'selection': {
        const choice = compileType(ast.type, ctx, name);
        ensureBody(choice.def);
        const alt = choice.kind === 'CHOICE' ? choice.def.components.find((c) => c.name === ast.alternative) : undefined;
        if (alt === undefined) {
          report('ASN1_UNKNOWN_REFERENCE', `selection ${ast.alternative} < ... needs a CHOICE with alternative ${ast.alternative}`, ast.span, ctx.mod);
          return errorType(name, ctx);
        }
        return constrain(alt.type, ast, ctx);
      }
      case 'instanceOf': {
        // X.680 annex C: INSTANCE OF is [UNIVERSAL 8] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
        const def = newDef('SEQUENCE');
        const oid = makeType(`${name}.type-id`, ctx, newDef('OBJECT IDENTIFIER'), universal('OBJECT IDENTIFIER'));
        const any = makeType(`${name}.value`, ctx, newDef('ANY'), []);
        def.components.push(
          { name: 'type-id', type: oid, optional: false, default: undefined, extension: false, group: undefined },
          { name: 'value', type: applyTag(any, { cls: TagClass.Context, number: 0 }, 'EXPLICIT'), optional: false, default: undefined, extension: false, group: undefined },
        );
        return makeType(name, ctx, def, [{ cls: TagClass.Universal, number: Universal.External }]);
      }
    }
  }

  function resolveTag(ast: TypeAst & { kind: 'tagged' }, ctx: Ctx): Tag {
    const cls = { UNIVERSAL: TagClass.Universal, APPLICATION: TagClass.Application, CONTEXT: TagClass.Context, PRIVATE: TagClass.Private }[ast.tag.cls];
    const v = resolveValue(ast.tag.number, undefined, ctx);
    if (v.kind !== 'integer' || v.value < 0n || v.value > BigInt(Number.MAX_SAFE_INTEGER)) {
      report('ASN1_BAD_TAG', 'a tag number must be a non-negative integer', ast.tag.number.span, ctx.mod);
      return { cls, number: 0 };
    }
    return { cls, number: Number(v.value) };
  }

  /**
   * X.680 31.2.7 and 31.2.9: which tagging a written tag gets. An untagged CHOICE, open type or dummy
   * reference (X.683 8.3: whatever the actual parameter turns out to be) is always tagged explicitly.
   */
  function tagMode(ast: TypeAst & { kind: 'tagged' }, inner: AsnType, ctx: Ctx): 'IMPLICIT' | 'EXPLICIT' {
    const dummy = ast.type.kind === 'ref' && ast.type.module === undefined && ctx.params?.has(ast.type.name) === true;
    const untaggedInner = inner.tags.length === 0 || dummy;
    if (ast.mode === 'EXPLICIT') return 'EXPLICIT';
    if (ast.mode === 'IMPLICIT') {
      if (untaggedInner && !errorDefs.has(inner.def)) {
        const what = dummy ? 'a dummy reference' : inner.kind === 'CHOICE' ? 'an untagged CHOICE' : 'an untagged open type';
        report('ASN1_BAD_TAG', `IMPLICIT cannot be applied to ${what}; the tag is explicit`, ast.tag.span, ctx.mod);
        return 'EXPLICIT';
      }
      return 'IMPLICIT';
    }
    if (ctx.mod.ast.tagDefault === 'EXPLICIT') return 'EXPLICIT';
    return untaggedInner ? 'EXPLICIT' : 'IMPLICIT';
  }

  function compileReference(ast: TypeAst & { kind: 'ref' }, ctx: Ctx, name: string): AsnType {
    const r = resolveName(ctx, ast.module, ast.name, ast.span, 'type');
    if (r === undefined) return errorType(name, ctx);
    if (r.kind === 'builtin') {
      const b = BUILTIN_REFERENCE_TYPES.get(r.name)!;
      return makeType(name, ctx, newDef(b.kind), [{ cls: TagClass.Universal, number: b.tag }]);
    }
    if (r.kind === 'param') {
      if (r.binding.kind !== 'type') {
        report('ASN1_BAD_VALUE', `${ast.name} is a value parameter used as a type`, ast.span, ctx.mod);
        return errorType(name, ctx);
      }
      return compileType(r.binding.type, r.binding.ctx, name);
    }
    const asn = r.asn;
    if (asn.kind === 'other' && asn.what === 'value set') return compileValueSetType(r.mod, asn, ast.span, ctx, name);
    if (asn.kind !== 'type') {
      const what = asn.kind === 'value' ? 'a value' : `an ${asn.what === 'class' ? 'information object class' : asn.what}`;
      report('ASN1_UNKNOWN_REFERENCE', `${ast.name} is ${what}, not a type`, ast.span, ctx.mod);
      return errorType(name, ctx);
    }
    if (asn.params.length === 0) {
      if (ast.args !== undefined) report('ASN1_BAD_VALUE', `${ast.name} takes no parameters`, ast.span, ctx.mod);
      return compileNamedType(r.mod, asn, ast.span, ctx);
    }
    return instantiate(r.mod, asn, ast.args, ast.span, ctx);
  }

  /**
   * X.680 16.7: a value set assignment `Versions INTEGER ::= { 1 | 2 }` defines a type, the governor
   * constrained by the set. A set governed by a class is an object set (X.681), which is not a type.
   */
  function compileValueSetType(mod: ModuleInfo, asn: AssignmentAst & { kind: 'other' }, at: Span, from: Ctx, name: string): AsnType {
    const ctx = rootCtx(mod);
    if (asn.governor === undefined || isClassReference(asn.governor, ctx) || asn.params.length > 0) {
      report('ASN1_UNKNOWN_REFERENCE', `${asn.name} is an object set, not a type`, at, from.mod);
      return errorType(name, from);
    }
    const key = `${mod.ast.name}\u0000${asn.name}`;
    const cached = typeCache.get(key);
    if (cached?.result !== undefined) return cached.result;
    if (cached !== undefined) {
      report('ASN1_CIRCULAR', `value set ${asn.name} is defined in terms of itself`, at, from.mod);
      return errorType(name, from);
    }
    const entry: CacheEntry<AsnType> = { result: undefined };
    typeCache.set(key, entry);
    let t = compileType(asn.governor, ctx, asn.name);
    if (asn.valueSet !== undefined) t = applyConstraint(t, asn.valueSet, ctx);
    entry.result = t;
    mod.types.set(asn.name, t);
    return t;
  }

  /** X.683: compiles a parameterized type with its dummy references bound to the actual parameters. */
  function instantiate(mod: ModuleInfo, asn: AssignmentAst & { kind: 'type' }, args: readonly ActualParameterAst[] | undefined, at: Span, ctx: Ctx): AsnType {
    if (args === undefined || args.length !== asn.params.length) {
      report('ASN1_BAD_VALUE', `${asn.name} takes ${asn.params.length} parameter(s), given ${args?.length ?? 0}`, at, ctx.mod);
      return errorType(asn.name, ctx);
    }
    if (ctx.depth >= maxDepth) {
      report('ASN1_CIRCULAR', `instantiating ${asn.name} nests deeper than ${maxDepth} levels`, at, ctx.mod);
      return errorType(asn.name, ctx);
    }
    const params = new Map<string, Binding>();
    asn.params.forEach((p, k) => {
      const a = args[k]!;
      // A lower-case dummy is a value; an upper-case one given a value-looking argument is a value set or object set.
      if (a.kind === 'type') params.set(p.name, { kind: 'type', type: a.type, ctx });
      else params.set(p.name, { kind: 'value', value: a.value, ctx });
    });
    return compileType(asn.type, { mod, params, depth: ctx.depth + 1 }, asn.name);
  }

  function compileClassField(className: string, field: string, at: Span, ctx: Ctx, name: string): AsnType {
    const typeField = field.charCodeAt(1) < 97; // &Type (upper case) is a type field: an open type
    if (className === 'TYPE-IDENTIFIER' || className === 'ABSTRACT-SYNTAX') {
      if (field === '&id') return makeType(name, ctx, newDef('OBJECT IDENTIFIER'), universal('OBJECT IDENTIFIER'));
      if (field === '&Type') return makeType(name, ctx, newDef('ANY'), []);
      report('ASN1_UNKNOWN_REFERENCE', `${className} has no field ${field}`, at, ctx.mod);
      return errorType(name, ctx);
    }
    const cls = findClass(ctx.mod, undefined, className);
    if (cls === 'builtin') return compileClassField('TYPE-IDENTIFIER', field, at, ctx, name);
    if (cls === undefined) {
      const r = resolveName(ctx, undefined, className, at, 'type'); // reports an unknown name
      if (r !== undefined) report('ASN1_UNKNOWN_REFERENCE', `${className} is not an information object class`, at, ctx.mod);
      return errorType(name, ctx);
    }
    const f = cls.fields.find((x) => x.name === field);
    if (f === undefined) {
      report('ASN1_UNKNOWN_REFERENCE', `class ${className} has no field ${field}`, at, ctx.mod);
      return errorType(name, ctx);
    }
    if (typeField || f.type === undefined) return makeType(name, ctx, newDef('ANY'), []);
    return compileType(f.type, rootCtx(cls.mod), name);
  }

  function compileEnumerated(items: readonly (TypeAst & { kind: 'ENUMERATED' })['items'][number][], ctx: Ctx): MutableDef {
    const def = newDef('ENUMERATED');
    def.extensible = ctx.mod.ast.extensibilityImplied;
    const used = new Set<bigint>();
    const names = new Set<string>();
    let inAdditions = false;
    // X.680 20.3: root items without a number take the smallest unused non-negative numbers, in order.
    const explicit = new Map<string, bigint>();
    for (const it of items) {
      if (it.kind === 'extension') {
        inAdditions = true;
        continue;
      }
      if (it.value === undefined) continue;
      const v = resolveValue(it.value, undefined, ctx);
      if (v.kind !== 'integer') report('ASN1_BAD_VALUE', `${it.name} needs an integer value`, it.value.span, ctx.mod);
      else {
        explicit.set(it.name, v.value);
        if (!inAdditions) used.add(v.value);
      }
    }
    inAdditions = false;
    let next = 0n;
    let max = -1n;
    for (const it of items) {
      if (it.kind === 'extension') {
        inAdditions = true;
        def.extensible = true;
        continue;
      }
      if (names.has(it.name)) report('ASN1_DUPLICATE', `enumeration item ${it.name} appears twice`, it.span, ctx.mod);
      names.add(it.name);
      let value = explicit.get(it.name);
      if (value === undefined) {
        if (!inAdditions) {
          while (used.has(next)) next++;
          value = next;
          used.add(value);
        } else {
          value = max + 1n; // X.680 20.4: an unnumbered addition follows the largest value so far
        }
      } else if (inAdditions && used.has(value)) {
        report('ASN1_DUPLICATE', `enumeration value ${value} of ${it.name} is already used`, it.span, ctx.mod);
      }
      if (def.named.some((n) => n.value === value) && !inAdditions) {
        report('ASN1_DUPLICATE', `enumeration value ${value} of ${it.name} is already used`, it.span, ctx.mod);
      }
      used.add(value);
      if (value > max) max = value;
      def.named.push({ name: it.name, value, extension: inAdditions });
    }
    return def;
  }

  /**
   * SEQUENCE, SET and CHOICE bodies: extension markers and groups, COMPONENTS OF, automatic tagging,
   * DEFAULT values, duplicate names. Tag ambiguity is checked at the end, once every type is complete.
   */
  function compileComponents(items: readonly ComponentItemAst[], def: MutableDef, ctx: Ctx, parent: string, at: Span): void {
    const spans: Span[] = [];
    let markers = 0;
    let groups = 0;
    // X.680 25.3 / 29.3: automatic tagging applies when no root component is written with a tag.
    const automatic =
      ctx.mod.ast.tagDefault === 'AUTOMATIC' && !rootComponents(items).some((c) => c.type.kind === 'tagged');
    let autoNumber = 0;

    const add = (c: ComponentItemAst & { kind: 'component' }, extension: boolean, group: number | undefined): void => {
      let type = compileType(c.type, ctx, `${parent}.${c.name}`);
      if (automatic) {
        const mode = type.tags.length === 0 ? 'EXPLICIT' : 'IMPLICIT';
        type = applyTag(type, { cls: TagClass.Context, number: autoNumber++ }, mode);
      }
      const dflt = c.default === undefined ? undefined : resolveValue(c.default, type, ctx);
      if (dflt !== undefined && c.default !== undefined) checkValueFits(dflt, type, c.default.span, ctx);
      if (def.components.some((x) => x.name === c.name)) {
        report('ASN1_DUPLICATE', `${def.kind === 'CHOICE' ? 'alternative' : 'component'} ${c.name} appears twice in ${parent}`, c.span, ctx.mod);
      }
      def.components.push({ name: c.name, type, optional: c.optional || dflt !== undefined, default: dflt, extension, group });
      spans.push(c.span);
    };

    for (const item of items) {
      const extension = markers === 1;
      switch (item.kind) {
        case 'extension':
          markers++;
          def.extensible = true;
          if (markers > 2) report('ASN1_SYNTAX', `${parent} has more than two extension markers`, item.span, ctx.mod);
          break;
        case 'group': {
          if (markers !== 1) report('ASN1_SYNTAX', 'a [[ ]] group must come after the extension marker', item.span, ctx.mod);
          const g = groups++;
          for (const inner of item.items) {
            if (inner.kind === 'component') add(inner, true, g);
            else report('ASN1_SYNTAX', 'a [[ ]] group may only hold components', inner.span, ctx.mod);
          }
          break;
        }
        case 'componentsOf': {
          const t = compileType(item.type, ctx, `${parent}.COMPONENTS-OF`);
          ensureBody(t.def);
          const want = def.kind === 'SET' ? 'SET' : 'SEQUENCE';
          if (t.kind !== want) {
            report('ASN1_BAD_VALUE', `COMPONENTS OF in a ${want} needs a ${want} type, found ${t.kind}`, item.span, ctx.mod);
          } else if (building.has(t.def)) {
            report('ASN1_CIRCULAR', `COMPONENTS OF ${t.name} includes a type that is still being defined`, item.span, ctx.mod);
          } else {
            // X.680 25.5: only the root components are copied, with their tags as they are.
            for (const c of t.def.components) {
              if (c.extension) continue;
              if (def.components.some((x) => x.name === c.name)) {
                report('ASN1_DUPLICATE', `component ${c.name} (from COMPONENTS OF ${t.name}) appears twice in ${parent}`, item.span, ctx.mod);
              }
              def.components.push({ ...c, extension });
              spans.push(item.span);
            }
          }
          break;
        }
        case 'component':
          add(item, extension, undefined);
          break;
      }
    }
    if (markers === 0 && ctx.mod.ast.extensibilityImplied) def.extensible = true;
    for (const c of def.components) {
      const by = c.type.kind === 'ANY' ? c.type.def.definedBy : undefined;
      if (by !== undefined && !def.components.some((x) => x.name === by)) {
        report('ASN1_UNKNOWN_REFERENCE', `ANY DEFINED BY ${by}: ${parent} has no component ${by}`, spans[def.components.indexOf(c)] ?? at, ctx.mod);
      }
    }
    pending.push({ def, name: parent, span: at, spans, report: (code, message, span, severity) => report(code, message, span, ctx.mod, severity) });
  }

  // ----- drive ------------------------------------------------------------------------------------

  for (const info of modules.values()) {
    for (const asn of info.assignments.values()) {
      if (asn.params.length > 0) continue; // compiled where instantiated
      const ctx = rootCtx(info);
      if (asn.kind === 'type') compileNamedType(info, asn, asn.span, ctx);
      else if (asn.kind === 'value') compileNamedValue(info, asn, asn.span, ctx);
      else if (asn.what === 'value set' && asn.governor !== undefined && !isClassReference(asn.governor, ctx)) {
        compileValueSetType(info, asn, asn.span, ctx, asn.name);
      }
      drainBodies();
    }
  }
  checkTypeDefinitions(pending, (def) => errorDefs.has(def));

  const compiled = new Map<string, CompiledModule>();
  for (const info of modules.values()) {
    compiled.set(info.ast.name, {
      name: info.ast.name,
      oid: moduleOid(info.ast),
      tagDefault: info.ast.tagDefault,
      extensibilityImplied: info.ast.extensibilityImplied,
      file: info.ast.file,
      types: info.types,
      values: info.values,
    });
  }
  const find = <T>(pick: (m: CompiledModule) => ReadonlyMap<string, T>, name: string, module?: string): T | undefined => {
    if (module !== undefined) {
      const m = compiled.get(module);
      return m === undefined ? undefined : pick(m).get(name);
    }
    for (const m of compiled.values()) {
      const t = pick(m).get(name);
      if (t !== undefined) return t;
    }
    return undefined;
  };
  return {
    modules: compiled,
    diagnostics,
    type: (name, module) => find((m) => m.types, name, module),
    value: (name, module) => find((m) => m.values, name, module),
  };
}

/** The components of the extension root (before the first and after the second `...`). */
function rootComponents(items: readonly ComponentItemAst[]): (ComponentItemAst & { kind: 'component' })[] {
  const out: (ComponentItemAst & { kind: 'component' })[] = [];
  let markers = 0;
  for (const item of items) {
    if (item.kind === 'extension') markers++;
    else if (item.kind === 'component' && markers !== 1) out.push(item);
  }
  return out;
}

/** A module identifier made only of numbers and X.660 names; anything else gives undefined. */
function moduleOid(ast: ModuleAst): readonly bigint[] | undefined {
  const v = ast.oid;
  if (v === undefined || v.kind !== 'braced' || v.groups.length !== 1) return undefined;
  const arcs: bigint[] = [];
  for (const [k, item] of v.groups[0]!.entries()) {
    const value = item.value;
    if (value?.kind === 'number') arcs.push(value.value);
    else if (value?.kind === 'ref') {
      const known = wellKnownArc(value.name, k, arcs[0]);
      if (known === undefined) return undefined;
      arcs.push(known);
    } else return undefined;
  }
  return arcs;
}
