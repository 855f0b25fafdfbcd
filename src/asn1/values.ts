/** Values resolved against their types: named numbers, OID arcs through references, named bits, strings. */
import type { AssignmentAst, BracedItemAst, ValueAst } from './ast.js';
import { wellKnownArc } from './builtins.js';
import type { Span } from './diagnostics.js';
import type { Ctx, ModuleInfo, Report, Resolved } from './scope.js';
import type { AsnType, AsnValue, TypeDef } from './types.js';

export interface ValueDeps {
  readonly report: Report;
  readonly resolveName: (ctx: Ctx, module: string | undefined, name: string, at: Span, what: 'type' | 'value') => Resolved | undefined;
  /** True when `name` is a parameter or a symbol (assigned or imported) seen from ctx; reports nothing. */
  readonly isDefined: (ctx: Ctx, name: string) => boolean;
  readonly compileNamedValue: (mod: ModuleInfo, asn: AssignmentAst & { kind: 'value' }, at: Span, from: Ctx) => AsnValue;
  readonly ensureBody: (def: TypeDef) => void;
}

export interface ValueResolver {
  /** Resolves a value as a value of `type` (undefined when the type does not matter, e.g. a bound). */
  resolveValue(v: ValueAst, type: AsnType | undefined, ctx: Ctx): AsnValue;
}

export function createValueResolver(deps: ValueDeps): ValueResolver {
  /** Resolves a value as a value of `type` (undefined when the type does not matter, e.g. a bound). */
  function resolveValue(v: ValueAst, type: AsnType | undefined, ctx: Ctx): AsnValue {
    switch (v.kind) {
      case 'number':
        return { kind: 'integer', value: v.value };
      case 'boolean':
        return { kind: 'boolean', value: v.value };
      case 'null':
        return { kind: 'null' };
      case 'real':
        return { kind: 'real', value: Number(v.text) };
      case 'special':
        return { kind: 'real', value: v.name === 'PLUS-INFINITY' ? Infinity : v.name === 'MINUS-INFINITY' ? -Infinity : NaN };
      case 'cstring':
        return { kind: 'string', value: v.text };
      case 'bstring':
        return type?.kind === 'BIT STRING' ? { kind: 'bits', bits: v.text } : { kind: 'octets', bytes: bitsToBytes(v.text) };
      case 'hstring': {
        if (type?.kind === 'BIT STRING') {
          let bits = '';
          for (const ch of v.text) bits += parseInt(ch, 16).toString(2).padStart(4, '0');
          return { kind: 'bits', bits };
        }
        return { kind: 'octets', bytes: hexToBytes(v.text) };
      }
      case 'choice': {
        if (type !== undefined) deps.ensureBody(type.def);
        const alt = type?.kind === 'CHOICE' ? type.def.components.find((c) => c.name === v.alternative) : undefined;
        if (type?.kind === 'CHOICE' && alt === undefined) {
          deps.report('ASN1_BAD_VALUE', `${type.name} has no alternative ${v.alternative}`, v.span, ctx.mod);
        }
        return resolveValue(v.value, alt?.type, ctx);
      }
      case 'ref': {
        if (v.module === undefined && type !== undefined && (type.kind === 'INTEGER' || type.kind === 'ENUMERATED')) {
          const named = type.def.named.find((n) => n.name === v.name);
          if (named !== undefined) return { kind: 'integer', value: named.value, name: named.name };
          if (type.kind === 'ENUMERATED') {
            deps.report('ASN1_BAD_VALUE', `${v.name} is not an item of ENUMERATED ${type.name}`, v.span, ctx.mod);
            return { kind: 'opaque', text: v.name };
          }
        }
        return resolveValueReference(v.module, v.name, v.span, type, ctx) ?? { kind: 'opaque', text: v.name };
      }
      case 'braced':
        if (type?.kind === 'OBJECT IDENTIFIER' || type?.kind === 'RELATIVE-OID') return resolveOid(v, ctx, type.kind === 'RELATIVE-OID');
        if (type?.kind === 'BIT STRING') return namedBits(v, type, ctx);
        return { kind: 'opaque', text: '{...}' };
      case 'opaque':
        return { kind: 'opaque', text: '{...}' };
    }
  }

  function resolveValueReference(module: string | undefined, name: string, at: Span, type: AsnType | undefined, ctx: Ctx): AsnValue | undefined {
    const r = deps.resolveName(ctx, module, name, at, 'value');
    if (r === undefined) return undefined;
    if (r.kind === 'param') {
      if (r.binding.kind === 'value') return resolveValue(r.binding.value, type, r.binding.ctx);
      deps.report('ASN1_BAD_VALUE', `${name} is a type parameter used as a value`, at, ctx.mod);
      return undefined;
    }
    if (r.kind === 'builtin' || r.asn.kind !== 'value') {
      deps.report('ASN1_UNKNOWN_REFERENCE', `${name} is not a value`, at, ctx.mod);
      return undefined;
    }
    if (r.asn.params.length > 0) {
      deps.report('ASN1_UNSUPPORTED', `parameterized value ${name} is not compiled`, at, ctx.mod, 'warning');
      return undefined;
    }
    return deps.compileNamedValue(r.mod, r.asn, at, ctx);
  }

  /** `{ iso(1) identified-organization(3) 6 }`, `{ id-pkix 1 }`: arcs, following OID value references. */
  function resolveOid(v: ValueAst & { kind: 'braced' }, ctx: Ctx, relative: boolean): AsnValue {
    if (v.groups.length > 1) {
      deps.report('ASN1_BAD_VALUE', 'object identifier components are not separated by commas', v.span, ctx.mod);
      return { kind: 'opaque', text: '{...}' };
    }
    const arcs: bigint[] = [];
    const items: readonly BracedItemAst[] = v.groups[0] ?? [];
    for (let k = 0; k < items.length; k++) {
      const item = items[k]!;
      const value = item.value;
      if (value === undefined) continue;
      if (item.name !== undefined || value.kind === 'number') {
        const n = resolveValue(value, undefined, ctx);
        if (n.kind !== 'integer' || n.value < 0n) {
          deps.report('ASN1_BAD_VALUE', 'an object identifier arc must be a non-negative integer', value.span, ctx.mod);
          return { kind: 'opaque', text: '{...}' };
        }
        arcs.push(n.value);
        continue;
      }
      if (value.kind !== 'ref') {
        deps.report('ASN1_BAD_VALUE', 'expected an object identifier arc', value.span, ctx.mod);
        return { kind: 'opaque', text: '{...}' };
      }
      // A bare name: a defined OID (first position) or INTEGER value, else an X.660 well-known arc name.
      const defined = value.module !== undefined || deps.isDefined(ctx, value.name);
      if (defined) {
        const ref = resolveValueReference(value.module, value.name, value.span, undefined, ctx);
        if (ref?.kind === 'oid' && k === 0) arcs.push(...ref.arcs);
        else if (ref?.kind === 'integer' && ref.value >= 0n) arcs.push(ref.value);
        else {
          if (ref !== undefined) deps.report('ASN1_BAD_VALUE', `${value.name} cannot be used as an object identifier arc here`, value.span, ctx.mod);
          return { kind: 'opaque', text: '{...}' };
        }
        continue;
      }
      const known = relative ? undefined : wellKnownArc(value.name, k, arcs[0]);
      if (known === undefined) {
        deps.report('ASN1_UNKNOWN_REFERENCE', `value ${value.name} is not defined`, value.span, ctx.mod);
        return { kind: 'opaque', text: '{...}' };
      }
      arcs.push(known);
    }
    return { kind: 'oid', arcs };
  }

  /** `{ digitalSignature, keyCertSign }` or `{}` as a BIT STRING value. */
  function namedBits(v: ValueAst & { kind: 'braced' }, type: AsnType, ctx: Ctx): AsnValue {
    const positions: number[] = [];
    for (const group of v.groups) {
      for (const item of group) {
        const value = item.value;
        const bit = value?.kind === 'ref' ? type.def.named.find((n) => n.name === value.name) : undefined;
        if (bit === undefined) {
          deps.report('ASN1_BAD_VALUE', `${type.name} has no named bit ${value?.kind === 'ref' ? value.name : ''}`.trimEnd(), item.span, ctx.mod);
          continue;
        }
        positions.push(Number(bit.value));
      }
    }
    const len = positions.length === 0 ? 0 : Math.max(...positions) + 1;
    const bits = Array.from({ length: len }, (_, k) => (positions.includes(k) ? '1' : '0')).join('');
    return { kind: 'bits', bits };
  }

  return { resolveValue };
}

function bitsToBytes(bits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let k = 0; k < bits.length; k++) if (bits[k] === '1') out[k >> 3]! |= 0x80 >> (k & 7);
  return out;
}

function hexToBytes(hex: string): Uint8Array {
  const padded = hex.length % 2 === 0 ? hex : `${hex}0`;
  const out = new Uint8Array(padded.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(padded.slice(2 * k, 2 * k + 2), 16);
  return out;
}
