/**
 * What the validator needs of a compiled type, worked out once per AsnType (STYLE §3: compile
 * descriptions once, in a WeakMap): its universal number, which of its tags are explicit
 * wrappers, numeric bounds for cheap checks, and the first tags of each component.
 */
import { Universal } from '../../format/ber/tag.js';
import { firstTags, tagKey, type AsnType, type Component, type Ranges, type TypeKind } from '../types.js';

/** How the validator treats the contents under the value's own tag. */
export const Shape = {
  /** Primitive contents checked by the universal type's rules (INTEGER, BOOLEAN, OID...). */
  Primitive: 1,
  /** A string type: primitive, or constructed from segments. */
  String: 2,
  Sequence: 3,
  Set: 4,
  SequenceOf: 5,
  Choice: 6,
  /** ANY, open types and types we do not look into (EXTERNAL, EMBEDDED PDV): any contents. */
  Any: 7,
} as const;
export type Shape = (typeof Shape)[keyof typeof Shape];

export interface TypePlan {
  readonly type: AsnType;
  readonly shape: Shape;
  /** The universal type number whose encoding rules apply to the contents (0 for none). */
  readonly universal: number;
  /** Number of leading tags that are explicit wrappers (constructed, holding one value). */
  readonly wrappers: number;
  /** Tag keys of `type.tags`, outermost first. */
  readonly tagKeys: readonly number[];
  /** Value bounds as numbers (exact for values below 2^53; only used for such values), or undefined. */
  readonly valueLo: Float64Array | undefined;
  readonly valueHi: Float64Array | undefined;
  /** Size bounds as numbers, or undefined when unconstrained. */
  readonly sizeLo: Float64Array | undefined;
  readonly sizeHi: Float64Array | undefined;
  /** Permitted alphabet as code point bounds, or undefined. */
  readonly alphaLo: readonly number[] | undefined;
  readonly alphaHi: readonly number[] | undefined;
  /** SEQUENCE / SET: first tag keys of each component (undefined: the component takes any tag). */
  readonly componentKeys: readonly (ReadonlySet<number> | undefined)[];
  /** SEQUENCE / SET: the component must be present (not OPTIONAL, no DEFAULT, not an extension addition). */
  readonly mandatory: readonly boolean[];
  /** ENUMERATED: the permitted values (root and additions). */
  readonly enumValues: ReadonlySet<bigint> | undefined;
  /** The XER element name of a SEQUENCE OF element of this type (undefined for an untagged CHOICE). */
  readonly xerElement: string | undefined;
}

const UNIVERSAL_OF: Partial<Record<TypeKind, number>> = {
  BOOLEAN: Universal.Boolean,
  INTEGER: Universal.Integer,
  'BIT STRING': Universal.BitString,
  'OCTET STRING': Universal.OctetString,
  NULL: Universal.Null,
  'OBJECT IDENTIFIER': Universal.ObjectIdentifier,
  ObjectDescriptor: Universal.ObjectDescriptor,
  EXTERNAL: Universal.External,
  REAL: Universal.Real,
  ENUMERATED: Universal.Enumerated,
  'EMBEDDED PDV': Universal.EmbeddedPdv,
  UTF8String: Universal.UTF8String,
  'RELATIVE-OID': Universal.RelativeOid,
  TIME: Universal.Time,
  SEQUENCE: Universal.Sequence,
  'SEQUENCE OF': Universal.Sequence,
  SET: Universal.Set,
  'SET OF': Universal.Set,
  NumericString: Universal.NumericString,
  PrintableString: Universal.PrintableString,
  TeletexString: Universal.TeletexString,
  VideotexString: Universal.VideotexString,
  IA5String: Universal.IA5String,
  UTCTime: Universal.UTCTime,
  GeneralizedTime: Universal.GeneralizedTime,
  GraphicString: Universal.GraphicString,
  VisibleString: Universal.VisibleString,
  GeneralString: Universal.GeneralString,
  UniversalString: Universal.UniversalString,
  'CHARACTER STRING': Universal.CharacterString,
  BMPString: Universal.BMPString,
  DATE: Universal.Date,
  'TIME-OF-DAY': Universal.TimeOfDay,
  'DATE-TIME': Universal.DateTime,
  DURATION: Universal.Duration,
};

function shapeOf(kind: TypeKind): Shape {
  switch (kind) {
    case 'SEQUENCE':
      return Shape.Sequence;
    case 'SET':
      return Shape.Set;
    case 'SEQUENCE OF':
    case 'SET OF':
      return Shape.SequenceOf;
    case 'CHOICE':
      return Shape.Choice;
    case 'ANY':
    case 'EXTERNAL':
    case 'EMBEDDED PDV':
    case 'CHARACTER STRING':
      return Shape.Any;
    case 'BOOLEAN':
    case 'INTEGER':
    case 'ENUMERATED':
    case 'NULL':
    case 'OBJECT IDENTIFIER':
    case 'RELATIVE-OID':
    case 'REAL':
      return Shape.Primitive;
    default:
      return Shape.String;
  }
}

const plans = new WeakMap<AsnType, TypePlan>();

export function planOf(type: AsnType): TypePlan {
  const cached = plans.get(type);
  if (cached !== undefined) return cached;
  const shape = shapeOf(type.kind);
  const n = type.tags.length;
  // X.680 31.2.7 / 31.3: a CHOICE or open type has no tag of its own, so every tag on it is explicit.
  const wrappers = shape === Shape.Choice || shape === Shape.Any ? n : Math.max(0, n - 1);
  const comps = type.def.components;
  const plan: TypePlan = {
    type,
    shape: type.kind === 'ANY' ? Shape.Any : shape,
    universal: UNIVERSAL_OF[type.kind] ?? 0,
    wrappers: type.kind === 'ANY' ? n : wrappers,
    tagKeys: type.tags.map(tagKey),
    valueLo: checkedLo(type.value),
    valueHi: checkedHi(type.value),
    sizeLo: checkedLo(type.size),
    sizeHi: checkedHi(type.size),
    alphaLo: type.alphabet?.ranges.map((x) => (x.min === undefined ? 0 : Number(x.min))),
    alphaHi: type.alphabet?.ranges.map((x) => (x.max === undefined ? 0x10ffff : Number(x.max))),
    componentKeys: shape === Shape.Sequence || shape === Shape.Set ? comps.map(keysOf) : [],
    mandatory: comps.map((c: Component) => !c.optional && c.default === undefined && !c.extension),
    enumValues: type.kind === 'ENUMERATED' ? new Set(type.def.named.map((x) => x.value)) : undefined,
    xerElement: xerElementName(type),
  };
  plans.set(type, plan);
  return plan;
}

function keysOf(c: Component): ReadonlySet<number> | undefined {
  const tags = firstTags(c.type);
  return tags === 'any' ? undefined : new Set(tags.map(tagKey));
}

// Bounds as numbers, in Float64Arrays: one array kind whatever the bounds (small integers or ±Infinity), so
// `inNumberBounds` sees one shape and is not deoptimized when a plan with other bounds comes along.
// An extensible constraint (`(1..10, ...)`) lets BER carry values outside the root: nothing to check.
function checkedLo(r: Ranges | undefined): Float64Array | undefined {
  return r === undefined || r.extensible ? undefined : Float64Array.from(r.ranges, (x) => (x.min === undefined ? -Infinity : Number(x.min)));
}

function checkedHi(r: Ranges | undefined): Float64Array | undefined {
  return r === undefined || r.extensible ? undefined : Float64Array.from(r.ranges, (x) => (x.max === undefined ? Infinity : Number(x.max)));
}

/** asn1c names a SEQUENCE OF element after its type reference, or its builtin type (`INTEGER`, `SEQUENCE`). */
function xerElementName(t: AsnType): string | undefined {
  if (t.kind === 'CHOICE' && t.tags.length === 0) return undefined;
  if (/^[A-Za-z][A-Za-z0-9-]*$/.test(t.name)) return t.name;
  return t.kind.replace(/ /g, '_');
}

/** True when `v` (a safe integer) is within the bounds. */
export function inNumberBounds(lo: Float64Array, hi: Float64Array, v: number): boolean {
  for (let i = 0; i < lo.length; i++) if (v >= lo[i]! && v <= hi[i]!) return true;
  return false;
}
