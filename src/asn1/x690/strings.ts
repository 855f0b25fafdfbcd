/**
 * Character sets of the restricted string types (X.680 41) and the shapes of UTCTime and
 * GeneralizedTime (X.680 46, 47), for the schema-free check.
 */
import { Universal } from '../../format/ber/tag.js';

/** For each string type with a byte-wise character set, a 256-entry table: 1 = allowed. */
export const CHARSETS: ReadonlyMap<number, Uint8Array> = (() => {
  const table = (allowed: (b: number) => boolean): Uint8Array => Uint8Array.from({ length: 256 }, (_, b) => (allowed(b) ? 1 : 0));
  const printable = new Set(" '()+,-./:=?".split('').map((c) => c.charCodeAt(0)));
  const alnum = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
  const visible = table((b) => b >= 0x20 && b <= 0x7e);
  return new Map([
    [Universal.NumericString, table((b) => (b >= 0x30 && b <= 0x39) || b === 0x20)],
    [Universal.PrintableString, table((b) => alnum(b) || printable.has(b))],
    [Universal.IA5String, table((b) => b < 0x80)],
    [Universal.VisibleString, visible],
    [Universal.UTCTime, visible],
    [Universal.GeneralizedTime, visible],
  ]);
})();

const UTC_TIME = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(Z|[+-](\d\d)(\d\d))$/;
const GENERALIZED_TIME = /^(\d{4})(\d\d)(\d\d)(\d\d)(?:(\d\d)(\d\d)?)?(?:[.,](\d+))?(Z|[+-](\d\d)(\d\d)?)?$/;

/** Why a UTCTime or GeneralizedTime text is malformed, or undefined when it is fine. */
export function timeProblem(type: number, text: string): string | undefined {
  if (type === Universal.UTCTime) {
    const m = UTC_TIME.exec(text);
    if (m === null) return 'YYMMDDhhmm[ss] then Z or +hhmm/-hhmm';
    return rangeProblem(m[2]!, m[3]!, m[4]!, m[5], m[6], m[8], m[9]);
  }
  const m = GENERALIZED_TIME.exec(text);
  if (m === null) return 'YYYYMMDDhh[mm[ss]][.fff][Z or +hh[mm]/-hh[mm]]';
  return rangeProblem(m[2]!, m[3]!, m[4]!, m[5], m[6], m[9], m[10]);
}

function rangeProblem(
  month: string, day: string, hour: string, minute: string | undefined, second: string | undefined,
  offHour: string | undefined, offMinute: string | undefined,
): string | undefined {
  const bad = (v: string | undefined, lo: number, hi: number): boolean => v !== undefined && (Number(v) < lo || Number(v) > hi);
  if (bad(month, 1, 12)) return 'a month 01..12';
  if (bad(day, 1, 31)) return 'a day 01..31';
  if (bad(hour, 0, 23)) return 'an hour 00..23';
  if (bad(minute, 0, 59)) return 'minutes 00..59';
  if (bad(second, 0, 60)) return 'seconds 00..60';
  if (bad(offHour, 0, 23) || bad(offMinute, 0, 59)) return 'a UTC offset of at most 23 hours 59 minutes';
  return undefined;
}

/** ISO 6093 number representations for decimal REALs (X.690 8.5.8): NR1, NR2, NR3. */
const NR = [
  /^ *[+-]?\d+$/,
  /^ *[+-]?(\d+[.,]\d*|[.,]\d+)$/,
  /^ *[+-]?(\d+[.,]?\d*|[.,]\d+)[eE][+-]?\d+$/,
];

/** True when `text` is a valid NR1/NR2/NR3 (form 1..3) number. */
export const isIso6093 = (form: number, text: string): boolean => NR[form - 1]?.test(text) ?? false;
