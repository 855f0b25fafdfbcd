/**
 * Decoding one identifier + length header from bytes in memory. Used by the streaming
 * reader (which turns the status codes into VmsErrors with a path) and by anyone holding
 * a whole encoding. No allocation: the result goes into a caller-owned object.
 */
import { MAX_TAG_NUMBER } from './tag.js';
import { INDEFINITE } from './length.js';

/** A decoded header; the reader reuses one instance. */
export interface BerHeader {
  /** Class bits (0x00, 0x40, 0x80, 0xC0), see TagClass. */
  cls: number;
  constructed: boolean;
  number: number;
  /** Contents length in octets, or INDEFINITE (-1). */
  length: number;
  /** Identifier octets. */
  tagLength: number;
  /** Identifier plus length octets. */
  headerLength: number;
  /**
   * The identifier broke X.690 8.1.2 without breaking framing: the high-tag-number form for a
   * number below 31 (8.1.2.2), or a first subsequent octet of 0x80 (8.1.2.4.2 c).
   */
  tagNonMinimal: boolean;
}

export const newHeader = (): BerHeader => ({
  cls: 0,
  constructed: false,
  number: 0,
  length: 0,
  tagLength: 0,
  headerLength: 0,
  tagNonMinimal: false,
});

/** Non-positive results of `parseHeader` (a positive result is the header length). */
export const HeaderStatus = {
  /** The bytes end before the header does. */
  Short: 0,
  /** The tag number needs more than 10 subsequent octets or exceeds 2^53 - 1. */
  TagTooLong: -1,
  /** The first length octet is 0xFF, reserved by X.690 8.1.3.5 c. */
  LengthReserved: -2,
  /** The length is 2^53 or more. */
  LengthTooLarge: -3,
} as const;

/** At most this many octets after 0x1F; with 7 bits each that covers every safe integer. */
export const MAX_TAG_SUBSEQUENT_OCTETS = 10;

/**
 * Parses the header starting at `buf[at]`, reading no byte at or after `end`. Returns the
 * header length (> 0) with `out` filled, or a HeaderStatus.
 */
export function parseHeader(buf: Uint8Array, at: number, end: number, out: BerHeader): number {
  if (at >= end) return HeaderStatus.Short;
  const b0 = buf[at]!;
  let p = at + 1;
  let number = b0 & 0x1f;
  let nonMinimal = false;
  if (number === 0x1f) {
    // X.690 8.1.2.4 high-tag-number form
    number = 0;
    for (let count = 0; ; count++) {
      if (count === MAX_TAG_SUBSEQUENT_OCTETS) return HeaderStatus.TagTooLong;
      if (p >= end) return HeaderStatus.Short;
      const b = buf[p++]!;
      if (count === 0 && b === 0x80) nonMinimal = true;
      number = number * 128 + (b & 0x7f);
      if (number > MAX_TAG_NUMBER) return HeaderStatus.TagTooLong;
      if ((b & 0x80) === 0) break;
    }
    if (number < 31) nonMinimal = true;
  }
  const tagLength = p - at;
  if (p >= end) return HeaderStatus.Short;
  const l0 = buf[p++]!;
  let length: number;
  if (l0 < 0x80) {
    // X.690 8.1.3.4 short form
    length = l0;
  } else if (l0 === 0x80) {
    // X.690 8.1.3.6 indefinite form
    length = INDEFINITE;
  } else if (l0 === 0xff) {
    return HeaderStatus.LengthReserved;
  } else {
    // X.690 8.1.3.5 long form; leading zero octets are legal BER (not DER), so skip them.
    const n = l0 & 0x7f;
    if (end - p < n) return HeaderStatus.Short;
    length = 0;
    for (let i = 0; i < n; i++) {
      length = length * 256 + buf[p + i]!;
      if (length > Number.MAX_SAFE_INTEGER) return HeaderStatus.LengthTooLarge;
    }
    p += n;
  }
  out.cls = b0 & 0xc0;
  out.constructed = (b0 & 0x20) !== 0;
  out.number = number;
  out.length = length;
  out.tagLength = tagLength;
  out.headerLength = p - at;
  out.tagNonMinimal = nonMinimal;
  return p - at;
}
