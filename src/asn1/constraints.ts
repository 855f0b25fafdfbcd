/**
 * Constraints reduced to what a validator checks: value ranges (INTEGER, ENUMERATED), size ranges, permitted
 * alphabets as code point ranges, CONTAINING types, and WITH COMPONENT(S) as a derived definition. Table
 * constraints and PATTERN are accepted and not applied; EXCEPT is over-approximated (nothing is subtracted).
 */
import type { ConstraintAst, TypeAst, ValueAst } from './ast.js';
import { CHARACTER_KINDS, SIZED_KINDS } from './builtins.js';
import { intersectRanges, normalizeRanges, singleRange, unionRanges } from './ranges.js';
import type { Ctx, Report } from './scope.js';
import type { AsnType, AsnValue, Component, Ranges, TypeDef } from './types.js';

export interface ConstraintDeps {
  readonly report: Report;
  readonly resolveValue: (v: ValueAst, type: AsnType | undefined, ctx: Ctx) => AsnValue;
  readonly compileType: (ast: TypeAst, ctx: Ctx, name: string) => AsnType;
  /** Compiles a def's components now if they are still queued. */
  readonly ensureBody: (def: TypeDef) => void;
  /** True while a def's components are being compiled. */
  readonly isBuilding: (def: TypeDef) => boolean;
}

export interface ConstraintEvaluator {
  /** Applies the constraints written after a type, in order. */
  constrain(t: AsnType, ast: TypeAst, ctx: Ctx): AsnType;
  /** Applies one constraint (also used for the SIZE between SEQUENCE and OF). */
  applyConstraint(t: AsnType, c: ConstraintAst, ctx: Ctx): AsnType;
}

export function createConstraintEvaluator(deps: ConstraintDeps): ConstraintEvaluator {
  function constrain(t: AsnType, ast: TypeAst, ctx: Ctx): AsnType {
    let out = t;
    for (const c of ast.constraints) out = applyConstraint(out, c, ctx);
    return out;
  }

  interface Effect {
    value: Ranges | undefined;
    size: Ranges | undefined;
    alphabet: Ranges | undefined;
    contains: AsnType | undefined;
  }
  const NONE: Effect = { value: undefined, size: undefined, alphabet: undefined, contains: undefined };

  /** What the values inside a constraint stand for: values of the type, sizes (in SIZE), or characters (in FROM). */
  type Mode = 'value' | 'size' | 'alphabet';

  /** Serial application (X.680 51.3): the new constraint narrows what the type already allowed. */
  function applyConstraint(t: AsnType, c: ConstraintAst, ctx: Ctx): AsnType {
    if (c.kind === 'withComponents') return applyComponentConstraints(t, c, ctx);
    if (c.kind === 'withComponent') return applyElementConstraint(t, c, ctx);
    const e = evaluate(c, t, ctx, 'value');
    const keepValue = t.kind === 'INTEGER' || t.kind === 'ENUMERATED';
    const keepSize = SIZED_KINDS.has(t.kind);
    const keepAlphabet = CHARACTER_KINDS.has(t.kind);
    if (e.size !== undefined && !keepSize) deps.report('ASN1_BAD_VALUE', `a SIZE constraint does not apply to ${t.kind}`, c.span, ctx.mod);
    if (e.alphabet !== undefined && !keepAlphabet) deps.report('ASN1_BAD_VALUE', `a FROM constraint does not apply to ${t.kind}`, c.span, ctx.mod);
    const narrow = (keep: boolean, had: Ranges | undefined, add: Ranges | undefined): Ranges | undefined =>
      !keep || add === undefined ? had : had === undefined ? add : intersectRanges(had, add);
    const value = narrow(keepValue, t.value, e.value);
    const size = narrow(keepSize, t.size, e.size);
    const alphabet = narrow(keepAlphabet, t.alphabet, e.alphabet);
    if (value === t.value && size === t.size && alphabet === t.alphabet && e.contains === undefined) return t;
    return { ...t, value, size, alphabet, contains: e.contains ?? t.contains };
  }

  /**
   * X.680 51.8: a derived definition whose named components carry the extra constraints; PRESENT makes a
   * component mandatory, ABSENT removes it, and a full specification (no leading `...`) drops the optional
   * components it does not name.
   */
  function applyComponentConstraints(t: AsnType, c: ConstraintAst & { kind: 'withComponents' }, ctx: Ctx): AsnType {
    if (t.kind !== 'SEQUENCE' && t.kind !== 'SET' && t.kind !== 'CHOICE') {
      deps.report('ASN1_BAD_VALUE', `WITH COMPONENTS applies to SEQUENCE, SET or CHOICE, not ${t.kind}`, c.span, ctx.mod);
      return t;
    }
    deps.ensureBody(t.def);
    if (deps.isBuilding(t.def)) {
      deps.report('ASN1_UNSUPPORTED', `WITH COMPONENTS on ${t.name} inside its own definition is not applied`, c.span, ctx.mod, 'warning');
      return t;
    }
    const items = new Map(c.items.map((i) => [i.name, i]));
    for (const i of c.items) {
      if (!t.def.components.some((x) => x.name === i.name)) deps.report('ASN1_UNKNOWN_REFERENCE', `${t.name} has no component ${i.name}`, i.span, ctx.mod);
    }
    const components: Component[] = [];
    for (const comp of t.def.components) {
      const item = items.get(comp.name);
      if (item === undefined) {
        if (c.partial || !comp.optional) components.push(comp);
        continue;
      }
      if (item.presence === 'ABSENT') continue;
      const type = item.constraint === undefined ? comp.type : applyConstraint(comp.type, item.constraint, ctx);
      components.push({ ...comp, type, optional: item.presence === 'PRESENT' ? false : comp.optional });
    }
    return { ...t, def: { ...t.def, components } };
  }

  /** X.680 51.8.2: `SEQUENCE OF T (WITH COMPONENT (...))` constrains T in a derived definition. */
  function applyElementConstraint(t: AsnType, c: ConstraintAst & { kind: 'withComponent' }, ctx: Ctx): AsnType {
    if (t.kind !== 'SEQUENCE OF' && t.kind !== 'SET OF') {
      deps.report('ASN1_BAD_VALUE', `WITH COMPONENT applies to SEQUENCE OF or SET OF, not ${t.kind}`, c.span, ctx.mod);
      return t;
    }
    deps.ensureBody(t.def);
    const element = t.def.element;
    if (element === undefined || deps.isBuilding(t.def)) {
      deps.report('ASN1_UNSUPPORTED', `WITH COMPONENT on ${t.name} inside its own definition is not applied`, c.span, ctx.mod, 'warning');
      return t;
    }
    return { ...t, def: { ...t.def, element: applyConstraint(element, c.constraint, ctx) } };
  }

  const combine = (a: Ranges | undefined, b: Ranges | undefined, op: 'union' | 'intersection'): Ranges | undefined => {
    if (op === 'union') return a === undefined || b === undefined ? undefined : unionRanges(a, b);
    if (a === undefined) return b;
    if (b === undefined) return a;
    return intersectRanges(a, b);
  };

  /** A value inside FROM: each character of a cstring is permitted (X.680 51.7). */
  function characters(v: AsnValue): Ranges | undefined {
    if (v.kind !== 'string') return undefined;
    const ranges = [...v.value].map((ch) => {
      const cp = BigInt(ch.codePointAt(0)!);
      return { min: cp, max: cp };
    });
    return { ranges: normalizeRanges(ranges), extensible: false };
  }

  /**
   * Reduces a constraint to value, size and alphabet ranges (undefined = this constraint does not restrict
   * that aspect). Inside SIZE and FROM the inner ranges come back as `value` and are moved by the caller.
   */
  function evaluate(c: ConstraintAst, t: AsnType, ctx: Ctx, mode: Mode): Effect {
    const valueType = mode === 'value' ? t : undefined;
    switch (c.kind) {
      case 'single': {
        const v = deps.resolveValue(c.value, valueType, ctx);
        if (v.kind === 'integer' && mode !== 'alphabet') return { ...NONE, value: singleRange(v.value, v.value) };
        if (mode === 'alphabet') return { ...NONE, value: characters(v) };
        if (mode === 'size' && v.kind !== 'opaque') deps.report('ASN1_BAD_VALUE', 'a SIZE constraint needs integer values', c.span, ctx.mod);
        return NONE;
      }
      case 'range': {
        const numeric = mode === 'size' || t.kind === 'INTEGER' || t.kind === 'ENUMERATED';
        const bound = (b: ValueAst | 'MIN' | 'MAX'): bigint | undefined | null => {
          if (b === 'MIN' || b === 'MAX') return undefined;
          const v = deps.resolveValue(b, valueType, ctx);
          if (mode === 'alphabet') {
            // "a".."z": each bound is one character
            if (v.kind === 'string' && [...v.value].length === 1) return BigInt(v.value.codePointAt(0)!);
            if (v.kind !== 'opaque') deps.report('ASN1_BAD_VALUE', 'a FROM range bound must be a single character', b.span, ctx.mod);
            return null;
          }
          if (v.kind === 'integer') return v.value;
          // An unresolved reference (kind 'opaque') was reported already.
          if (numeric && v.kind !== 'opaque') deps.report('ASN1_BAD_VALUE', 'a range bound must be an integer', b.span, ctx.mod);
          return null;
        };
        const lo = bound(c.lower);
        const hi = bound(c.upper);
        if (lo === null || hi === null) return NONE;
        return { ...NONE, value: singleRange(lo === undefined ? undefined : c.lowerOpen ? lo + 1n : lo, hi === undefined ? undefined : c.upperOpen ? hi - 1n : hi) };
      }
      case 'size':
        return { ...NONE, size: evaluate(c.constraint, t, ctx, 'size').value };
      case 'from':
        return { ...NONE, alphabet: evaluate(c.constraint, t, ctx, 'alphabet').value };
      case 'union':
      case 'intersection': {
        let acc: Effect | undefined;
        for (const item of c.items) {
          const e = evaluate(item, t, ctx, mode);
          acc = acc === undefined ? e : {
            value: combine(acc.value, e.value, c.kind),
            size: combine(acc.size, e.size, c.kind),
            alphabet: combine(acc.alphabet, e.alphabet, c.kind),
            contains: acc.contains ?? e.contains,
          };
        }
        return acc ?? NONE;
      }
      case 'except': {
        // Over-approximated: the excluded values are not subtracted.
        evaluate(c.excluded, t, ctx, mode);
        return c.base === 'ALL' ? NONE : evaluate(c.base, t, ctx, mode);
      }
      case 'extensible': {
        const root = c.root === undefined ? NONE : evaluate(c.root, t, ctx, mode);
        if (c.additions !== undefined) evaluate(c.additions, t, ctx, mode);
        const mark = (r: Ranges | undefined): Ranges | undefined => (r === undefined ? undefined : { ...r, extensible: true });
        return { value: mark(root.value), size: mark(root.size), alphabet: mark(root.alphabet), contains: root.contains };
      }
      case 'type': {
        const sub = deps.compileType(c.type, ctx, `${t.name}.constraint`);
        return { value: sub.value, size: sub.size, alphabet: sub.alphabet, contains: undefined };
      }
      case 'contents': {
        if (c.encodedBy !== undefined) deps.resolveValue(c.encodedBy, undefined, ctx);
        return { ...NONE, contains: c.containing === undefined ? undefined : deps.compileType(c.containing, ctx, `${t.name}.contents`) };
      }
      case 'withComponents': // these two are applied by applyConstraint, which sees them at the top level
      case 'withComponent':
      case 'inner':
      case 'opaque':
        return NONE;
    }
  }

  return { constrain, applyConstraint };
}
