/**
 * REAL contents (X.690 8.5). We encode doubles in the binary form with base 2, scale 0 and
 * an odd mantissa (the DER/CER canonical form, 11.3.1), and decode all three forms:
 * binary (8.5.7), decimal ISO 6093 (8.5.8) and the special values (8.5.9).
 */
import { VmsError } from '../../errors.js';

const f64 = new DataView(new ArrayBuffer(8));

/** Contents octets of a double. */
export function encodeReal(v: number): Uint8Array {
  // X.690 8.5.2: plus zero has no contents octets
  if (v === 0 && !Object.is(v, -0)) return new Uint8Array(0);
  // X.690 8.5.9 special real values
  if (v === Infinity) return Uint8Array.of(0x40);
  if (v === -Infinity) return Uint8Array.of(0x41);
  if (Number.isNaN(v)) return Uint8Array.of(0x42);
  if (v === 0) return Uint8Array.of(0x43);

  f64.setFloat64(0, v, false);
  const hi = f64.getUint32(0, false);
  const lo = f64.getUint32(4, false);
  const negative = hi >>> 31 === 1;
  const biased = (hi >>> 20) & 0x7ff;
  // mantissa = high 20 bits * 2^32 + low 32 bits, plus the implicit leading 1 for normal numbers
  let mantissa = (hi & 0xfffff) * 0x100000000 + lo;
  let exponent: number;
  if (biased === 0) {
    exponent = -1074; // subnormal
  } else {
    mantissa += 0x10000000000000;
    exponent = biased - 1075;
  }
  // Make the mantissa odd (X.690 11.3.1), moving factors of two into the exponent.
  while (mantissa % 2 === 0) {
    mantissa /= 2;
    exponent++;
  }
  const expSize = exponent >= -128 && exponent <= 127 ? 1 : 2;
  let mantSize = 1;
  for (let m = Math.floor(mantissa / 256); m > 0; m = Math.floor(m / 256)) mantSize++;
  const out = new Uint8Array(1 + expSize + mantSize);
  // X.690 8.5.7: bit 8 = 1 (binary), bit 7 = sign, bits 6-5 base (00 = 2), bits 4-3 scale F = 0,
  // bits 2-1 exponent format (00 = one octet, 01 = two octets)
  out[0] = 0x80 | (negative ? 0x40 : 0) | (expSize - 1);
  if (expSize === 1) out[1] = exponent & 0xff;
  else {
    out[1] = (exponent >> 8) & 0xff;
    out[2] = exponent & 0xff;
  }
  let m = mantissa;
  for (let i = out.length - 1; i > expSize; i--) {
    out[i] = m % 256;
    m = Math.floor(m / 256);
  }
  return out;
}

/** Decodes REAL contents into a double (binary values beyond double range become ±Infinity or 0). */
export function decodeReal(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  const first = bytes[0]!;
  if ((first & 0x80) !== 0) return decodeBinary(bytes, first);
  if ((first & 0x40) !== 0) {
    if (bytes.length !== 1) throw realError('special real value has more than one octet', 0);
    switch (first) {
      case 0x40:
        return Infinity;
      case 0x41:
        return -Infinity;
      case 0x42:
        return NaN;
      case 0x43:
        return -0;
      default:
        throw realError('unknown special real value', 0);
    }
  }
  // X.690 8.5.8 decimal encoding: ISO 6093 NR1, NR2 or NR3 characters
  const form = first & 0x3f;
  if (form < 1 || form > 3) throw realError('decimal real form must be NR1, NR2 or NR3', 0);
  let text = '';
  for (let i = 1; i < bytes.length; i++) text += String.fromCharCode(bytes[i]!);
  const v = Number(text.trim().replace(',', '.'));
  if (Number.isNaN(v)) throw realError('decimal real is not a number', 1);
  return v;
}

function decodeBinary(bytes: Uint8Array, first: number): number {
  const sign = (first & 0x40) !== 0 ? -1 : 1;
  const baseBits = (first >> 4) & 3;
  if (baseBits === 3) throw realError('binary real base is reserved (bits 6-5 = 11)', 0);
  const base = baseBits === 0 ? 2 : baseBits === 1 ? 8 : 16;
  const scale = (first >> 2) & 3;
  let expLen = (first & 3) + 1;
  let p = 1;
  if (expLen === 4) {
    if (bytes.length < 2) throw realError('binary real ends before its exponent length', 1);
    expLen = bytes[1]!;
    p = 2;
  }
  if (expLen === 0 || bytes.length < p + expLen) throw realError('binary real ends inside its exponent', p);
  let exponent = bytes[p]! >= 0x80 ? bytes[p]! - 256 : bytes[p]!;
  for (let i = 1; i < expLen; i++) {
    exponent = exponent * 256 + bytes[p + i]!;
    if (Math.abs(exponent) > 1e9) return exponent > 0 ? sign * Infinity : sign * 0;
  }
  p += expLen;
  let mantissa = 0;
  for (; p < bytes.length; p++) mantissa = mantissa * 256 + bytes[p]!;
  return sign * mantissa * 2 ** scale * base ** exponent;
}

const realError = (msg: string, offset: number): VmsError => new VmsError('E_BER', msg, { offset });
