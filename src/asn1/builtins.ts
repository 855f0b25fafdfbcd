/** Facts about the built-in types and the well-known OID arcs, looked up by name. */
import { Universal } from '../format/ber/tag.js';
import type { StringKind, TimeKind, TypeKind } from './types.js';

/** Built-in type names that scan as type references (so 1988 modules may redefine them), with their universal tags. */
export const BUILTIN_REFERENCE_TYPES: ReadonlyMap<string, { kind: StringKind | TimeKind; tag: number }> = new Map<
  string,
  { kind: StringKind | TimeKind; tag: number }
>([
  ['UTF8String', { kind: 'UTF8String', tag: Universal.UTF8String }],
  ['NumericString', { kind: 'NumericString', tag: Universal.NumericString }],
  ['PrintableString', { kind: 'PrintableString', tag: Universal.PrintableString }],
  ['TeletexString', { kind: 'TeletexString', tag: Universal.TeletexString }],
  ['T61String', { kind: 'TeletexString', tag: Universal.TeletexString }],
  ['VideotexString', { kind: 'VideotexString', tag: Universal.VideotexString }],
  ['IA5String', { kind: 'IA5String', tag: Universal.IA5String }],
  ['GraphicString', { kind: 'GraphicString', tag: Universal.GraphicString }],
  ['VisibleString', { kind: 'VisibleString', tag: Universal.VisibleString }],
  ['ISO646String', { kind: 'VisibleString', tag: Universal.VisibleString }],
  ['GeneralString', { kind: 'GeneralString', tag: Universal.GeneralString }],
  ['UniversalString', { kind: 'UniversalString', tag: Universal.UniversalString }],
  ['BMPString', { kind: 'BMPString', tag: Universal.BMPString }],
  ['ObjectDescriptor', { kind: 'ObjectDescriptor', tag: Universal.ObjectDescriptor }],
  ['UTCTime', { kind: 'UTCTime', tag: Universal.UTCTime }],
  ['GeneralizedTime', { kind: 'GeneralizedTime', tag: Universal.GeneralizedTime }],
  ['TIME', { kind: 'TIME', tag: Universal.Time }],
  ['DATE', { kind: 'DATE', tag: Universal.Date }],
  ['TIME-OF-DAY', { kind: 'TIME-OF-DAY', tag: Universal.TimeOfDay }],
  ['DATE-TIME', { kind: 'DATE-TIME', tag: Universal.DateTime }],
  ['DURATION', { kind: 'DURATION', tag: Universal.Duration }],
]);

/** Universal tag of each keyword-introduced built-in kind. */
export const KEYWORD_TYPE_TAGS: ReadonlyMap<TypeKind, number> = new Map<TypeKind, number>([
  ['BOOLEAN', Universal.Boolean],
  ['INTEGER', Universal.Integer],
  ['BIT STRING', Universal.BitString],
  ['OCTET STRING', Universal.OctetString],
  ['NULL', Universal.Null],
  ['OBJECT IDENTIFIER', Universal.ObjectIdentifier],
  ['EXTERNAL', Universal.External],
  ['REAL', Universal.Real],
  ['ENUMERATED', Universal.Enumerated],
  ['EMBEDDED PDV', Universal.EmbeddedPdv],
  ['RELATIVE-OID', Universal.RelativeOid],
  ['SEQUENCE', Universal.Sequence],
  ['SEQUENCE OF', Universal.Sequence],
  ['SET', Universal.Set],
  ['SET OF', Universal.Set],
  ['CHARACTER STRING', Universal.CharacterString],
]);

/** Kinds whose SIZE constraint is meaningful. */
export const SIZED_KINDS: ReadonlySet<TypeKind> = new Set<TypeKind>([
  'BIT STRING', 'OCTET STRING', 'SEQUENCE OF', 'SET OF', 'CHARACTER STRING',
  ...[...BUILTIN_REFERENCE_TYPES.values()].map((b) => b.kind),
]);

/** Character string kinds, where a FROM (permitted alphabet) constraint applies. */
export const CHARACTER_KINDS: ReadonlySet<TypeKind> = new Set<TypeKind>([
  'UTF8String', 'NumericString', 'PrintableString', 'TeletexString', 'VideotexString', 'IA5String', 'GraphicString',
  'VisibleString', 'GeneralString', 'UniversalString', 'BMPString', 'ObjectDescriptor', 'CHARACTER STRING',
]);

/** X.660 names usable without a number in OID values: the root arcs and the arcs under itu-t and iso. */
const ROOT_ARCS: ReadonlyMap<string, bigint> = new Map([
  ['itu-t', 0n], ['ccitt', 0n], ['itu-r', 0n], ['iso', 1n], ['joint-iso-itu-t', 2n], ['joint-iso-ccitt', 2n],
]);
const SECOND_ARCS: ReadonlyMap<string, bigint> = new Map([
  ['0/recommendation', 0n], ['0/question', 1n], ['0/administration', 2n], ['0/network-operator', 3n],
  ['0/identified-organization', 4n], ['1/standard', 0n], ['1/registration-authority', 1n],
  ['1/member-body', 2n], ['1/identified-organization', 3n],
]);

/** The number of a well-known arc name at `position` (0 = root) under `parent`, if X.660 names it. */
export function wellKnownArc(name: string, position: number, parent: bigint | undefined): bigint | undefined {
  if (position === 0) return ROOT_ARCS.get(name);
  if (position === 1 && parent !== undefined) return SECOND_ARCS.get(`${parent}/${name}`);
  return undefined;
}
