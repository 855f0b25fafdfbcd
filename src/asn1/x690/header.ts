/**
 * Identifier and length octets, as read: the X.690 header-form findings both checkers report
 * (the schema-free check and the schema validator), and the header's bytes rebuilt from what
 * the BerReader says about it. A BER header is determined by its tag, form, tag size, length and
 * header size (needlessly long forms included), so an ANY value can be shown byte for byte
 * (asn1c's XER writes ANY as the hex of its whole TLV) without keeping the input.
 */
import { INDEFINITE, lengthSize } from '../../format/ber/length.js';
import type { ReportFn } from './contents.js';

/** What the BerReader reports of a header (a BerEvent fits). */
export interface HeaderShape {
  readonly cls: number;
  readonly number: number;
  readonly constructed: boolean;
  /** Contents length, or INDEFINITE. */
  readonly length: number;
  readonly offset: number;
  readonly tagLength: number;
  readonly headerLength: number;
  readonly tagNonMinimal: boolean;
  readonly tagName: string;
}

/**
 * The longest header `putHeader` writes: up to 11 identifier octets (the reader refuses longer
 * tag numbers) and up to 127 length octets (0x80 | 126, then 126 octets; 0xFF is reserved).
 */
export const MAX_HEADER_BYTES = 160;

/** True when the header may hold a finding: the caller's cheap test before `reportHeaderForms`. */
export const headerMayBeLong = (h: HeaderShape): boolean => h.tagNonMinimal || h.headerLength - h.tagLength > 1;

/**
 * Reports a needlessly long identifier (an error: X.690 8.1.2 says "shall") and a needlessly
 * long definite length (a warning: BER allows it, 8.1.3.5 note 2; DER and CER do not).
 */
export function reportHeaderForms(h: HeaderShape, report: ReportFn): void {
  if (h.tagNonMinimal) {
    report('X690_TAG_FORM', 'error', h.offset, `${h.tagName} identifier uses a needlessly long tag number form`,
      h.number < 31 ? 'one identifier octet for tag numbers below 31 (X.690 8.1.2.2)' : 'no leading 0x80 octet in the tag number (X.690 8.1.2.4.2 c)',
      `${h.tagLength} identifier octets`);
  }
  if (h.length === INDEFINITE) return;
  const octets = h.headerLength - h.tagLength;
  // One length octet is always minimal: the short form cannot hold 128 or more.
  if (octets <= 1) return;
  const minimal = lengthSize(h.length);
  if (octets > minimal) {
    report('X690_LENGTH_FORM', 'warning', h.offset + h.tagLength, `${h.tagName} length ${h.length} is encoded in ${octets} octets where ${minimal} suffice (allowed in BER, not in DER)`,
      `${minimal} length octet${minimal === 1 ? '' : 's'}`, `${octets}`);
  }
}

/** Writes the header's octets exactly as they were read into `out` at `at`; returns the position after. */
export function putHeader(h: HeaderShape, out: Uint8Array, at: number): number {
  let p = at;
  const first = h.cls | (h.constructed ? 0x20 : 0);
  if (h.tagLength === 1) out[p++] = first | h.number;
  else {
    // X.690 8.1.2.4: 0x1F, then base-128 digits, bit 8 set on all but the last; a padded
    // (non-minimal) form has leading 0x80 octets, which fall out of the same loop.
    out[p++] = first | 0x1f;
    let v = h.number;
    for (let i = at + h.tagLength - 1; i > at; i--) {
      out[i] = (v % 128) | (i === at + h.tagLength - 1 ? 0 : 0x80);
      v = Math.floor(v / 128);
    }
    p = at + h.tagLength;
  }
  const octets = h.headerLength - h.tagLength;
  if (h.length === INDEFINITE) out[p++] = 0x80;
  else if (octets === 1) out[p++] = h.length;
  else {
    // X.690 8.1.3.5: 0x80 | count, then the length big-endian, zero-padded when needlessly long.
    out[p] = 0x80 | (octets - 1);
    let v = h.length;
    for (let i = p + octets - 1; i > p; i--) {
      out[i] = v % 256;
      v = Math.floor(v / 256);
    }
    p += octets;
  }
  return p;
}
