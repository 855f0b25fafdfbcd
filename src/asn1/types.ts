/**
 * Compiled ASN.1 types: references resolved, the tagging environment applied, constraints reduced to
 * numeric ranges. This is what a BER validator or an XER writer walks; it carries no syntax.
 *
 * Recursive types (LDAP's Filter) form cycles through `def`, so never serialize these with JSON.stringify.
 */
import { TagClass, tagName } from '../format/ber/tag.js';

export { TagClass };

/** One tag as it appears on the wire. */
export interface Tag {
  readonly cls: TagClass;
  readonly number: number;
}

export type StringKind =
  | 'UTF8String' | 'NumericString' | 'PrintableString' | 'TeletexString' | 'VideotexString' | 'IA5String'
  | 'GraphicString' | 'VisibleString' | 'GeneralString' | 'UniversalString' | 'BMPString' | 'ObjectDescriptor';

export type TimeKind = 'UTCTime' | 'GeneralizedTime' | 'TIME' | 'DATE' | 'TIME-OF-DAY' | 'DATE-TIME' | 'DURATION';

export type TypeKind =
  | 'BOOLEAN' | 'INTEGER' | 'ENUMERATED' | 'REAL' | 'BIT STRING' | 'OCTET STRING' | 'NULL'
  | 'OBJECT IDENTIFIER' | 'RELATIVE-OID' | 'EXTERNAL' | 'EMBEDDED PDV' | 'CHARACTER STRING'
  | StringKind | TimeKind
  | 'SEQUENCE' | 'SET' | 'SEQUENCE OF' | 'SET OF' | 'CHOICE'
  /** ANY, ANY DEFINED BY, and open types (`CLASS.&Type`): any single TLV. */
  | 'ANY';

/** An inclusive integer range; `undefined` bounds are MIN / MAX. */
export interface IntRange {
  readonly min: bigint | undefined;
  readonly max: bigint | undefined;
}

/** A set of permitted integers (values or sizes), as sorted disjoint ranges. */
export interface Ranges {
  readonly ranges: readonly IntRange[];
  /** The constraint has an extension marker: BER may carry values outside `ranges`. */
  readonly extensible: boolean;
}

/** An INTEGER named number, an ENUMERATED item or a BIT STRING named bit. */
export interface NamedNumber {
  readonly name: string;
  readonly value: bigint;
  /** For ENUMERATED: the item comes after the extension marker. */
  readonly extension: boolean;
}

/** A resolved value (DEFAULT values, value assignments). */
export type AsnValue =
  | { readonly kind: 'integer'; readonly value: bigint; readonly name?: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }
  | { readonly kind: 'oid'; readonly arcs: readonly bigint[] }
  /** BIT STRING value as '0'/'1' characters, first bit first. */
  | { readonly kind: 'bits'; readonly bits: string }
  | { readonly kind: 'octets'; readonly bytes: Uint8Array }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'real'; readonly value: number }
  /** A value the compiler keeps but does not interpret (SEQUENCE values, information objects). */
  | { readonly kind: 'opaque'; readonly text: string };

export interface Component {
  readonly name: string;
  readonly type: AsnType;
  /** OPTIONAL, or DEFAULT (a decoder may find it absent). */
  readonly optional: boolean;
  readonly default: AsnValue | undefined;
  /** An extension addition: after `...`, or in a `[[ ]]` group. Older peers omit it. */
  readonly extension: boolean;
  /** Index of the `[[ ]]` version group holding it, counted from 0 in the type. */
  readonly group: number | undefined;
}

/**
 * The shared body of a type definition. Every use of a named type shares one def (`[0] Version` and
 * `Version` differ in tags, not in def), which is how recursive types close their cycles.
 */
export interface TypeDef {
  readonly kind: TypeKind;
  /** SEQUENCE and SET components (COMPONENTS OF expanded), or CHOICE alternatives, in textual order. */
  readonly components: readonly Component[];
  /** SEQUENCE OF / SET OF element type. */
  readonly element: AsnType | undefined;
  /** The element's identifier when written (`SEQUENCE OF uri URI`), for XER. */
  readonly elementName: string | undefined;
  /** Has an extension marker (or EXTENSIBILITY IMPLIED applies): unknown trailing components or alternatives are allowed. */
  readonly extensible: boolean;
  /** INTEGER named numbers, ENUMERATED items (root then additions), BIT STRING named bits. */
  readonly named: readonly NamedNumber[];
  /** ANY DEFINED BY: the identifier of the component that selects the type. */
  readonly definedBy: string | undefined;
}

export interface AsnType {
  /** The assignment name (`TBSCertificate`), or a path for an inline type (`LDAPMessage.protocolOp`). */
  readonly name: string;
  /** The module of that assignment. */
  readonly module: string;
  readonly kind: TypeKind;
  /** Tags on the wire, outermost first. Empty for an untagged CHOICE and for ANY / open types. */
  readonly tags: readonly Tag[];
  readonly def: TypeDef;
  /** Permitted sizes (characters, bits, octets or elements); undefined when unconstrained. */
  readonly size: Ranges | undefined;
  /** Permitted INTEGER / ENUMERATED values; undefined when unconstrained. */
  readonly value: Ranges | undefined;
  /** Permitted characters (FROM), as Unicode code point ranges; undefined when unconstrained. */
  readonly alphabet: Ranges | undefined;
  /** `CONTAINING T`: the type the octets (or bits) must hold. */
  readonly contains: AsnType | undefined;
}

/** The tags a decoder may see first for a value of `t`: its outer tag, every alternative of an untagged CHOICE, or 'any'. */
export function firstTags(t: AsnType): readonly Tag[] | 'any' {
  if (t.tags.length > 0) return [t.tags[0]!];
  if (t.kind !== 'CHOICE') return 'any';
  const out: Tag[] = [];
  const seen = new Set<TypeDef>();
  const walk = (c: AsnType): boolean => {
    if (c.tags.length > 0) {
      out.push(c.tags[0]!);
      return true;
    }
    if (c.kind !== 'CHOICE') return false;
    if (seen.has(c.def)) return true; // a CHOICE that contains itself untagged adds nothing new
    seen.add(c.def);
    return c.def.components.every((a) => walk(a.type));
  };
  return walk(t) ? out : 'any';
}

export const sameTag = (a: Tag, b: Tag): boolean => a.cls === b.cls && a.number === b.number;

/** One number per tag, for Map keys: the class octet times 2^45 plus the number (exact below 2^53). */
export const tagKey = (t: Tag): number => (t.cls >> 6) * 2 ** 45 + t.number;

const choiceIndexes = new WeakMap<TypeDef, ReadonlyMap<number, Component>>();

/**
 * For a CHOICE: the alternative to take for each first tag, looking through untagged nested CHOICEs
 * (the value maps to the outer alternative that holds them). Built once per definition.
 */
export function choiceAlternatives(t: AsnType): ReadonlyMap<number, Component> {
  const cached = choiceIndexes.get(t.def);
  if (cached !== undefined) return cached;
  const index = new Map<number, Component>();
  for (const alt of t.def.components) {
    const tags = firstTags(alt.type);
    if (tags === 'any') continue;
    for (const tag of tags) if (!index.has(tagKey(tag))) index.set(tagKey(tag), alt);
  }
  choiceIndexes.set(t.def, index);
  return index;
}

/** `[APPLICATION 0]`, `[3]`, `SEQUENCE`... */
export const formatTag = (t: Tag): string => tagName(t.cls, t.number);

/** True when `v` is within `r` (an undefined `r` permits everything; extensibility is not considered). */
export function inRanges(r: Ranges | undefined, v: bigint): boolean {
  if (r === undefined) return true;
  for (const x of r.ranges) if ((x.min === undefined || v >= x.min) && (x.max === undefined || v <= x.max)) return true;
  return false;
}
