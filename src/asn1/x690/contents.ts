/**
 * The value rules of the universal types, checked over contents that may arrive in pieces
 * (a long primitive, or the segments of a constructed string). One instance is reused for
 * every value: begin, feed the pieces, finish. Nothing is buffered beyond a few octets,
 * except REAL and time texts, which are short by nature and capped.
 */
import { Universal, tagName } from '../../format/ber/tag.js';
import type { X690Code, X690Severity } from './diagnostics.js';
import { CHARSETS, isIso6093, timeProblem } from './strings.js';

/** How the checker reports a finding about the value being checked. */
export type ReportFn = (
  code: X690Code, severity: X690Severity, offset: number, message: string, expected?: string, actual?: string,
) => void;

/** REAL and time texts longer than this are not examined character by character. */
const TEXT_CAP = 1024;
const TIME_MAX = 64;

/** How each universal type may be encoded (X.690 8.x): primitive only, constructed only, or either. */
export const Form = { Any: 0, Primitive: 1, Constructed: 2, Either: 3 } as const;

export function universalForm(number: number): number {
  switch (number) {
    case Universal.Boolean:
    case Universal.Integer:
    case Universal.Null:
    case Universal.ObjectIdentifier:
    case Universal.Real:
    case Universal.Enumerated:
    case Universal.RelativeOid:
      return Form.Primitive;
    case Universal.External:
    case Universal.EmbeddedPdv:
    case Universal.Sequence:
    case Universal.Set:
    case Universal.CharacterString:
      return Form.Constructed;
    case Universal.BitString:
    case Universal.OctetString:
    case Universal.ObjectDescriptor:
    case Universal.UTF8String:
    case Universal.UTCTime:
    case Universal.GeneralizedTime:
    case Universal.BMPString:
      return Form.Either;
    default:
      return number >= Universal.NumericString && number <= Universal.UniversalString ? Form.Either : Form.Any;
  }
}

/**
 * The tag a constructed string's segments must have: BIT STRING segments are BIT STRINGs
 * (X.690 8.6.4), OCTET STRING segments are OCTET STRINGs (8.7.3.2), and restricted
 * character strings are encoded as if [UNIVERSAL n] IMPLICIT OCTET STRING (the restricted
 * character string clause, 8.21 or 8.23 by edition), so theirs are OCTET STRINGs too.
 */
export const segmentTag = (number: number): number => (number === Universal.BitString ? Universal.BitString : Universal.OctetString);

export class ContentCheck {
  private type = 0;
  private offset = 0;
  private seen = 0;
  private b0 = 0;
  private b1 = 0;
  private last = 0;
  /** Absolute offset of the last octet fed. */
  private lastAt = 0;
  private reported = false;
  // OBJECT IDENTIFIER: the next octet starts a subidentifier.
  private fresh = true;
  // UTF-8: continuation octets still needed, and the range the next one must fall in.
  private need = 0;
  private lo = 0x80;
  private hi = 0xbf;
  private charset: Uint8Array | undefined;
  private readonly text = new Uint8Array(TEXT_CAP);

  constructor(private readonly report: ReportFn) {}

  /** The type's name, for messages only: built when a finding is reported, never per value. */
  private get name(): string {
    return tagName(0, this.type);
  }

  /** Starts a value of universal type `type` whose identifier is at `offset`. */
  begin(type: number, offset: number): void {
    this.type = type;
    this.offset = offset;
    this.seen = 0;
    this.reported = false;
    this.fresh = true;
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
    this.charset = CHARSETS.get(type);
  }

  /** Checks `buf[start..end)`, whose first octet is at absolute offset `at`. */
  feed(buf: Uint8Array, start: number, end: number, at: number): void {
    const n = end - start;
    if (n <= 0) return;
    const type = this.type;
    const seen = this.seen;
    if (seen === 0) this.b0 = buf[start]!;
    if (seen <= 1 && seen + n >= 2) this.b1 = buf[start + 1 - seen]!;
    if (type === Universal.Real || type === Universal.UTCTime || type === Universal.GeneralizedTime) {
      if (seen < TEXT_CAP) this.text.set(buf.subarray(start, Math.min(end, start + TEXT_CAP - seen)), seen);
    }
    this.seen = seen + n;
    this.last = buf[end - 1]!;
    this.lastAt = at + n - 1;
    if (this.reported) return;
    if (type === Universal.ObjectIdentifier || type === Universal.RelativeOid) this.feedOid(buf, start, end, at);
    else if (type === Universal.UTF8String) this.feedUtf8(buf, start, end, at);
    else if (this.charset !== undefined) this.feedCharset(buf, start, end, at, this.charset);
  }

  /** Applies the rules that need the whole value. */
  finish(): void {
    const { seen, offset } = this;
    switch (this.type) {
      case Universal.Boolean:
        if (seen !== 1) this.report('X690_BOOLEAN', 'error', offset, 'BOOLEAN contents must be one octet (X.690 8.2.1)', '1 contents octet', octetsText(seen));
        break;
      case Universal.Null:
        if (seen !== 0) this.report('X690_NULL', 'error', offset, 'NULL must have no contents (X.690 8.8.2)', '0 contents octets', octetsText(seen));
        break;
      case Universal.Integer:
      case Universal.Enumerated:
        this.finishInteger();
        break;
      case Universal.ObjectIdentifier:
      case Universal.RelativeOid:
        if (seen === 0) this.report('X690_OID', 'error', offset, `${this.name} has no subidentifiers`, 'at least one contents octet', octetsText(seen));
        else if (!this.fresh && !this.reported) {
          this.report('X690_OID', 'error', this.lastAt, `${this.name} ends inside a subidentifier (X.690 8.19.2)`, 'a last octet with bit 8 clear', hex1(this.last));
        }
        break;
      case Universal.Real:
        this.finishReal();
        break;
      case Universal.BitString:
        if (seen === 0) this.report('X690_BIT_STRING', 'error', offset, 'BIT STRING has no unused-bits octet (X.690 8.6.2)', 'at least 1 contents octet', octetsText(seen));
        else if (this.b0 > 7) this.report('X690_BIT_STRING', 'error', offset, 'BIT STRING unused-bits octet is above 7 (X.690 8.6.2.2)', '0..7', String(this.b0));
        else if (seen === 1 && this.b0 !== 0) this.report('X690_BIT_STRING', 'error', offset, 'an empty BIT STRING must have 0 unused bits (X.690 8.6.2.3)', '0', String(this.b0));
        break;
      case Universal.UTF8String:
        if (this.need > 0 && !this.reported) this.report('X690_CHARACTERS', 'error', this.lastAt, 'UTF8String ends inside a character', 'a complete UTF-8 sequence', `${this.need} continuation octets missing`);
        break;
      case Universal.UniversalString:
        if (seen % 4 !== 0) this.report('X690_CHARACTERS', 'error', offset, 'UniversalString is not a whole number of 4-octet characters', 'a multiple of 4 octets', octetsText(seen));
        break;
      case Universal.BMPString:
        if (seen % 2 !== 0) this.report('X690_CHARACTERS', 'error', offset, 'BMPString is not a whole number of 2-octet characters', 'a multiple of 2 octets', octetsText(seen));
        break;
      case Universal.UTCTime:
      case Universal.GeneralizedTime:
        this.finishTime();
        break;
      default:
        break;
    }
  }

  private finishInteger(): void {
    const { seen, offset, b0, b1 } = this;
    if (seen === 0) {
      this.report('X690_INTEGER', 'error', offset, `${this.name} has no contents octets (X.690 8.3.1)`, 'at least one octet', '0 octets');
      return;
    }
    // X.690 8.3.2: the first nine bits shall not all be ones, nor all zeros.
    if (seen >= 2 && ((b0 === 0x00 && (b1 & 0x80) === 0) || (b0 === 0xff && (b1 & 0x80) !== 0))) {
      this.report('X690_INTEGER', 'error', offset, `${this.name} is not in its shortest form: the first 9 bits are all ${b0 === 0 ? 'zero' : 'one'} (X.690 8.3.2)`, 'no redundant leading 00 or FF octet', `${hex1(b0)} ${hex1(b1)}`);
    }
  }

  private feedOid(buf: Uint8Array, start: number, end: number, at: number): void {
    let fresh = this.fresh;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (fresh && b === 0x80) {
        // X.690 8.19.2: subidentifiers use the fewest octets, so none starts with 0x80.
        this.report('X690_OID', 'error', at + (i - start), `${this.name} subidentifier has a leading 0x80 octet (X.690 8.19.2)`, 'a first octet other than 0x80', '0x80');
        this.reported = true;
        break;
      }
      fresh = (b & 0x80) === 0;
    }
    this.fresh = fresh;
  }

  private feedUtf8(buf: Uint8Array, start: number, end: number, at: number): void {
    let { need, lo, hi } = this;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (need === 0) {
        if (b < 0x80) continue;
        lo = 0x80;
        hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) need = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0) lo = 0xa0; // no overlong forms
          else if (b === 0xed) hi = 0x9f; // no surrogates
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0) lo = 0x90;
          else if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
        } else return this.badUtf8(at + (i - start), b);
      } else {
        if (b < lo || b > hi) return this.badUtf8(at + (i - start), b);
        lo = 0x80;
        hi = 0xbf;
        need--;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
  }

  private badUtf8(offset: number, b: number): void {
    this.report('X690_CHARACTERS', 'error', offset, 'UTF8String contents are not well-formed UTF-8', 'a valid UTF-8 sequence', hex1(b));
    this.reported = true;
  }

  private feedCharset(buf: Uint8Array, start: number, end: number, at: number, allowed: Uint8Array): void {
    for (let i = start; i < end; i++) {
      if (allowed[buf[i]!] === 0) {
        this.report('X690_CHARACTERS', 'error', at + (i - start), `${this.name} has a character outside its character set`, `a ${this.name} character`, hex1(buf[i]!));
        this.reported = true;
        return;
      }
    }
  }

  private finishReal(): void {
    const { seen, offset, text } = this;
    if (seen === 0) return; // X.690 8.5.2 plus zero
    const first = text[0]!;
    if ((first & 0x80) !== 0) {
      // X.690 8.5.7 binary encoding
      if ((first & 0x30) === 0x30) {
        this.report('X690_REAL', 'error', offset, 'binary REAL uses the reserved base (bits 6-5 = 11, X.690 8.5.7.2)', 'base 2, 8 or 16', hex1(first));
        return;
      }
      let expStart = 1;
      let expLen = (first & 3) + 1;
      if (expLen === 4) {
        if (seen < 2) {
          this.report('X690_REAL', 'error', offset, 'binary REAL ends before its exponent length octet (X.690 8.5.7.4 d)', 'an exponent length octet', 'end of contents');
          return;
        }
        expLen = text[1]!;
        expStart = 2;
        if (expLen === 0) {
          this.report('X690_REAL', 'error', offset, 'binary REAL exponent length is zero (X.690 8.5.7.4 d)', 'at least 1', '0');
          return;
        }
        const e0 = text[2];
        const e1 = text[3];
        if (expLen > 1 && seen >= 4 && e0 !== undefined && e1 !== undefined && ((e0 === 0 && (e1 & 0x80) === 0) || (e0 === 0xff && (e1 & 0x80) !== 0))) {
          this.report('X690_REAL', 'error', offset, 'binary REAL exponent is not in its shortest form: the first 9 bits are all equal (X.690 8.5.7.4 d)', 'no redundant leading exponent octet', `${hex1(e0)} ${hex1(e1)}`);
        }
      }
      if (seen < expStart + expLen + 1) {
        this.report('X690_REAL', 'error', offset, 'binary REAL has no room for its exponent and mantissa (X.690 8.5.7)', `at least ${expStart + expLen + 1} contents octets`, `${seen}`);
      }
      return;
    }
    if ((first & 0x40) !== 0) {
      // X.690 8.5.9 special real values
      if (seen !== 1 || first > 0x43) {
        this.report('X690_REAL', 'error', offset, 'special REAL value is not one of 0x40..0x43 alone (X.690 8.5.9)', 'one octet 40 (+inf), 41 (-inf), 42 (NaN) or 43 (-0)', seen === 1 ? hex1(first) : `${seen} octets`);
      }
      return;
    }
    // X.690 8.5.8 decimal encoding: bits 6-1 name NR1, NR2 or NR3
    const form = first & 0x3f;
    if (form < 1 || form > 3) {
      this.report('X690_REAL', 'error', offset, 'decimal REAL form is reserved (X.690 8.5.8)', '01 (NR1), 02 (NR2) or 03 (NR3)', hex1(first));
      return;
    }
    if (seen > TEXT_CAP) return;
    let s = '';
    for (let i = 1; i < seen; i++) s += String.fromCharCode(text[i]!);
    if (!isIso6093(form, s)) {
      this.report('X690_REAL', 'error', offset, `decimal REAL is not an ISO 6093 NR${form} number`, `an NR${form} number`, JSON.stringify(s.slice(0, 40)));
    }
  }

  private finishTime(): void {
    const { seen, offset, text } = this;
    if (this.reported) return;
    if (seen > TIME_MAX) {
      this.report('X690_TIME', 'error', offset, `${this.name} is too long to be a time`, `at most ${TIME_MAX} characters`, `${seen}`);
      return;
    }
    let s = '';
    for (let i = 0; i < seen; i++) s += String.fromCharCode(text[i]!);
    const problem = timeProblem(this.type, s);
    if (problem !== undefined) this.report('X690_TIME', 'error', offset, `${this.name} is malformed`, problem, JSON.stringify(s));
  }
}

const octetsText = (n: number): string => `${n} contents octets`;
const hex1 = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
