/**
 * BER identifier octets (X.690 8.1.2): class, primitive/constructed bit, tag number in the
 * low form (0..30, one octet) or the high-tag-number form (0x1F then base-128 octets).
 */
import { VmsError } from '../../errors.js';

/** Tag classes, as the top two bits of the first identifier octet (X.690 8.1.2.2, table 1). */
export const TagClass = {
  Universal: 0x00,
  Application: 0x40,
  Context: 0x80,
  Private: 0xc0,
} as const;
export type TagClass = (typeof TagClass)[keyof typeof TagClass];

/** Bit 6 of the first identifier octet: the contents are a series of TLVs (X.690 8.1.2.5). */
export const CONSTRUCTED_BIT = 0x20;

/** Universal tag numbers (X.680 8.4, table 1). */
export const Universal = {
  EndOfContents: 0,
  Boolean: 1,
  Integer: 2,
  BitString: 3,
  OctetString: 4,
  Null: 5,
  ObjectIdentifier: 6,
  ObjectDescriptor: 7,
  External: 8,
  Real: 9,
  Enumerated: 10,
  EmbeddedPdv: 11,
  UTF8String: 12,
  RelativeOid: 13,
  Time: 14,
  Sequence: 16,
  Set: 17,
  NumericString: 18,
  PrintableString: 19,
  TeletexString: 20,
  VideotexString: 21,
  IA5String: 22,
  UTCTime: 23,
  GeneralizedTime: 24,
  GraphicString: 25,
  VisibleString: 26,
  GeneralString: 27,
  UniversalString: 28,
  CharacterString: 29,
  BMPString: 30,
  Date: 31,
  TimeOfDay: 32,
  DateTime: 33,
  Duration: 34,
  OidIri: 35,
  RelativeOidIri: 36,
} as const;

const UNIVERSAL_NAMES: readonly string[] = [
  'END-OF-CONTENTS', 'BOOLEAN', 'INTEGER', 'BIT STRING', 'OCTET STRING', 'NULL', 'OBJECT IDENTIFIER',
  'ObjectDescriptor', 'EXTERNAL', 'REAL', 'ENUMERATED', 'EMBEDDED PDV', 'UTF8String', 'RELATIVE-OID', 'TIME',
  '[UNIVERSAL 15]', 'SEQUENCE', 'SET', 'NumericString', 'PrintableString', 'TeletexString', 'VideotexString',
  'IA5String', 'UTCTime', 'GeneralizedTime', 'GraphicString', 'VisibleString', 'GeneralString', 'UniversalString',
  'CHARACTER STRING', 'BMPString', 'DATE', 'TIME-OF-DAY', 'DATE-TIME', 'DURATION', 'OID-IRI', 'RELATIVE-OID-IRI',
];

/** Largest tag number we represent: tag numbers are plain numbers, so at most 2^53 - 1. */
export const MAX_TAG_NUMBER = Number.MAX_SAFE_INTEGER;

/** A tag with its identifier octets precomputed (primitive form; writers OR in the constructed bit). */
export interface BerTag {
  readonly cls: TagClass;
  readonly number: number;
  /** Identifier octets with the constructed bit clear. */
  readonly bytes: Uint8Array;
}

/** Makes a tag once, so writers copy its identifier octets instead of recomputing them per value. */
export function berTag(cls: TagClass, number: number): BerTag {
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new VmsError('E_USAGE', 'tag number must be a non-negative safe integer', { actual: String(number) });
  }
  const bytes = new Uint8Array(tagSize(number));
  putTag(bytes, 0, cls, false, number);
  return Object.freeze({ cls, number, bytes });
}

/** A universal tag (`universalTag(Universal.Integer)`). */
export const universalTag = (number: number): BerTag => berTag(TagClass.Universal, number);

/** Number of identifier octets for a tag number (X.690 8.1.2.4). */
export function tagSize(number: number): number {
  if (number < 31) return 1;
  let n = 2;
  // Each subsequent octet carries 7 bits; divide rather than shift so numbers above 2^31 work.
  for (let v = Math.floor(number / 128); v > 0; v = Math.floor(v / 128)) n++;
  return n;
}

/** Writes identifier octets at `at` and returns the position after them. */
export function putTag(out: Uint8Array, at: number, cls: TagClass, constructed: boolean, number: number): number {
  const first = cls | (constructed ? CONSTRUCTED_BIT : 0);
  if (number < 31) {
    // X.690 8.1.2.2 low-tag-number form
    out[at] = first | number;
    return at + 1;
  }
  // X.690 8.1.2.4 high-tag-number form: 0x1F, then base-128 digits, most significant first,
  // bit 8 set on all but the last.
  out[at] = first | 0x1f;
  const n = tagSize(number) - 1;
  let v = number;
  for (let i = n; i >= 1; i--) {
    out[at + i] = (v % 128) | (i === n ? 0 : 0x80);
    v = Math.floor(v / 128);
  }
  return at + 1 + n;
}

/** The ASN.1 notation for a tag: `SEQUENCE`, `[APPLICATION 9040]`, `[3]`, `[PRIVATE 7]`. */
export function tagName(cls: number, number: number): string {
  switch (cls) {
    case TagClass.Universal:
      return UNIVERSAL_NAMES[number] ?? `[UNIVERSAL ${number}]`;
    case TagClass.Application:
      return `[APPLICATION ${number}]`;
    case TagClass.Context:
      return `[${number}]`;
    default:
      return `[PRIVATE ${number}]`;
  }
}
