/**
 * XER text of the short primitive values the writer keeps whole (INTEGER, ENUMERATED, BOOLEAN,
 * OBJECT IDENTIFIER, RELATIVE-OID, REAL), in asn1c 0.9.28's forms. Strings, BIT STRING and ANY
 * are streamed by the writer itself.
 */
import { isVmsError } from '../../errors.js';
import { decodeReal } from '../../format/ber/real.js';
import { Universal } from '../../format/ber/tag.js';
import type { TypePlan } from '../validate/plan.js';

/** The XER text of `b[0..n)`, contents of a value of `plan`'s type. */
export function scalarText(plan: TypePlan, b: Uint8Array, n: number): string {
  switch (plan.universal) {
    case Universal.Boolean:
      return n > 0 && b[0] !== 0 ? '<true/>' : '<false/>';
    case Universal.Integer:
    case Universal.Enumerated: {
      const v = integerText(b, n);
      if (plan.universal === Universal.Enumerated) {
        const item = plan.type.def.named.find((x) => x.value.toString() === v);
        if (item !== undefined) return `<${item.name}/>`;
      }
      return v;
    }
    case Universal.ObjectIdentifier:
    case Universal.RelativeOid:
      return oidText(b, n, plan.universal === Universal.ObjectIdentifier);
    case Universal.Real:
      return realContentsText(b, n);
    default:
      return hexText(b, n);
  }
}

const HEX_TEXT = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

function hexText(b: Uint8Array, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX_TEXT[b[i]!]!;
  return s;
}

function integerText(b: Uint8Array, n: number): string {
  if (n === 0) return '0';
  if (n <= 6) {
    let v = (b[0]! << 24) >> 24;
    for (let i = 1; i < n; i++) v = v * 256 + b[i]!;
    return String(v);
  }
  let v = BigInt.asIntN(8, BigInt(b[0]!));
  for (let i = 1; i < n; i++) v = (v << 8n) | BigInt(b[i]!);
  return v.toString();
}

function oidText(b: Uint8Array, n: number, absolute: boolean): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < n; i++) {
    v = (v << 7n) | BigInt(b[i]! & 0x7f);
    if ((b[i]! & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (absolute && arcs.length > 0) {
    // X.690 8.19.4: the first subidentifier packs the first two arcs.
    const first = arcs[0]!;
    const top = first < 40n ? 0n : first < 80n ? 1n : 2n;
    arcs.splice(0, 1, top, first - top * 40n);
  }
  return arcs.join('.');
}

/** REAL contents as asn1c writes them; contents that do not decode (reported by the validator) as hex. */
function realContentsText(b: Uint8Array, n: number): string {
  let v: number;
  try {
    v = decodeReal(b.subarray(0, n));
  } catch (e) {
    if (!isVmsError(e)) throw e;
    return hexText(b, n);
  }
  return realText(v);
}

/**
 * A double as asn1c's XER writes it: the special values as X.693's empty elements, zeros as `0`
 * and `-0`, anything else as C's `%.15f` with the trailing zeros of the fraction cut, one kept
 * (`1.0`, `0.1`, `0.333333333333333`, `1e-100` as `0.0`, 1e100 with all 101 integer digits).
 */
export function realText(v: number): string {
  if (Number.isNaN(v)) return '<NOT-A-NUMBER/>';
  if (v === Infinity) return '<PLUS-INFINITY/>';
  if (v === -Infinity) return '<MINUS-INFINITY/>';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const digits = fixed15Digits(Math.abs(v));
  const whole = digits.length > 15 ? digits.slice(0, -15) : '0';
  const fraction = digits.padStart(15, '0').slice(-15).replace(/0+$/, '');
  return `${v < 0 ? '-' : ''}${whole}.${fraction === '' ? '0' : fraction}`;
}

const f64 = new DataView(new ArrayBuffer(8));
const SCALE15 = 10n ** 15n;

/**
 * The decimal digits of round(x * 10^15) for a finite positive double, exactly, ties to even
 * (glibc's printf rounds the exact binary value; toFixed rounds ties up and gives up at 1e21).
 */
function fixed15Digits(x: number): string {
  f64.setFloat64(0, x, false);
  const bits = f64.getBigUint64(0, false);
  const biased = Number(bits >> 52n);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent: number;
  if (biased === 0) exponent = -1074; // subnormal
  else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  if (exponent >= 0) return ((mantissa << BigInt(exponent)) * SCALE15).toString();
  const num = mantissa * SCALE15;
  const den = 1n << BigInt(-exponent);
  let q = num / den;
  const twice = (num - q * den) * 2n;
  if (twice > den || (twice === den && (q & 1n) === 1n)) q++;
  return q.toString();
}
