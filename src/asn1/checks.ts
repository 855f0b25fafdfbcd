/**
 * Checks that need every type complete: X.680's distinct-tag rules for CHOICE, SET and runs of
 * optional SEQUENCE components, and types that cannot have a finite value.
 */
import type { Asn1DiagnosticCode, Severity, Span } from './diagnostics.js';
import { firstTags, formatTag, sameTag, tagKey, type AsnType, type Component, type Tag, type TypeDef } from './types.js';

/** A SEQUENCE, SET or CHOICE body to check, with the span of each component (same order) and of the type. */
export interface PendingCheck {
  readonly def: TypeDef;
  readonly name: string;
  readonly span: Span;
  readonly spans: readonly Span[];
  readonly report: (code: Asn1DiagnosticCode, message: string, at: Span, severity?: Severity) => void;
}

/** `isError` tells which defs stand in for types that failed to resolve: they match nothing, so raise no tag clash. */
export function checkTypeDefinitions(pending: readonly PendingCheck[], isError: (def: TypeDef) => boolean): void {
  for (const p of pending) checkDistinctTags(p, isError);
  checkFinite(pending);
}

/** The first tags of each component, computed once per check; a type that failed to resolve has none. */
const firstTagsOf = (p: PendingCheck, isError: (def: TypeDef) => boolean): (readonly Tag[] | 'any')[] =>
  p.def.components.map((c) => (isError(c.type.def) ? [] : firstTags(c.type)));

function report(p: PendingCheck, earlier: number, later: number, shared: Tag | 'any', why: string): void {
  const a = p.def.components[earlier]!;
  const b = p.def.components[later]!;
  const what = shared === 'any' ? 'an ANY or open type matches every tag' : `both can start with tag ${formatTag(shared)}`;
  const role = p.def.kind === 'CHOICE' ? 'alternatives' : 'components';
  p.report('ASN1_AMBIGUOUS_TAG', `${role} ${a.name} and ${b.name} of ${p.name} ${why}: ${what}`, p.spans[later] ?? p.span);
}

/** The tag that both tag sets can start with, 'any' when either is an open type, else undefined. */
function sharedTag(ta: readonly Tag[] | 'any', tb: readonly Tag[] | 'any'): Tag | 'any' | undefined {
  if (ta === 'any' || tb === 'any') return 'any';
  return ta.find((x) => tb.some((y) => sameTag(x, y)));
}

/** X.680 25.5 / 27.3 / 29.2: which pairs of components must have distinct tags. */
function checkDistinctTags(p: PendingCheck, isError: (def: TypeDef) => boolean): void {
  const comps = p.def.components;
  const tags = firstTagsOf(p, isError);
  if (p.def.kind === 'CHOICE' || p.def.kind === 'SET') {
    // Every pair must differ: index by tag so a CHOICE of thousands of alternatives stays linear.
    const why = p.def.kind === 'CHOICE' ? 'are not distinct' : 'may come in any order';
    const owner = new Map<number, number>();
    let anyAt: number | undefined;
    tags.forEach((ts, j) => {
      if (ts === 'any') {
        if (anyAt !== undefined || j > 0) report(p, anyAt ?? 0, j, 'any', why);
        anyAt ??= j;
        return;
      }
      if (anyAt !== undefined) report(p, anyAt, j, 'any', why);
      for (const t of ts) {
        const key = tagKey(t);
        const k = owner.get(key);
        if (k !== undefined && k !== j) report(p, k, j, t, why);
        else owner.set(key, j);
      }
    });
    return;
  }
  // SEQUENCE: an optional component (or an extension addition, which old peers omit) must differ from
  // every following component up to and including the next mandatory root component.
  const mayBeAbsent = (c: Component): boolean => c.optional || c.extension;
  for (let k = 0; k < comps.length; k++) {
    if (!mayBeAbsent(comps[k]!)) continue;
    for (let j = k + 1; j < comps.length; j++) {
      const shared = sharedTag(tags[k]!, tags[j]!);
      if (shared !== undefined) report(p, k, j, shared, `follow each other and ${comps[k]!.name} is optional`);
      if (!mayBeAbsent(comps[j]!)) break;
    }
  }
}

/**
 * A SEQUENCE whose mandatory components lead back to itself (or a CHOICE whose every alternative does)
 * has no finite value. Fixpoint: mark what is finite until nothing changes; the rest is circular.
 */
function checkFinite(pending: readonly PendingCheck[]): void {
  const finite = new Set<TypeDef>();
  const isFinite = (t: AsnType): boolean =>
    (t.kind !== 'SEQUENCE' && t.kind !== 'SET' && t.kind !== 'CHOICE') || finite.has(t.def) || !pendingDefs.has(t.def);
  const pendingDefs = new Set(pending.map((p) => p.def));
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of pending) {
      if (finite.has(p.def)) continue;
      const comps = p.def.components;
      const ok =
        p.def.kind === 'CHOICE'
          ? comps.length === 0 || comps.some((c) => isFinite(c.type))
          : comps.every((c) => c.optional || c.extension || isFinite(c.type));
      if (ok) {
        finite.add(p.def);
        changed = true;
      }
    }
  }
  const reported = new Set<TypeDef>();
  for (const p of pending) {
    if (finite.has(p.def) || reported.has(p.def)) continue;
    reported.add(p.def);
    // A warning: the module is well-formed (asn1c accepts it too), but no encoding of the type can ever end.
    p.report('ASN1_CIRCULAR', `${p.name} has no finite value: every value of it must contain another one`, p.span, 'warning');
  }
}
