/**
 * INTEGER and ENUMERATED contents (X.690 8.3, 8.4): minimal two's complement, big-endian,
 * at least one octet. Safe-integer numbers take a bigint-free path; bigints cover the rest
 * (QEMU's 64-bit fields, -1 sentinels).
 */
import { VmsError } from '../../errors.js';

/** Contents octets needed for `v` in minimal two's complement. */
export function integerSize(v: number | bigint): number {
  if (typeof v === 'number') {
    checkSafe(v);
    let n = 1;
    let lo = -128;
    let hi = 127;
    while (v < lo || v > hi) {
      n++;
      lo *= 256;
      hi = hi * 256 + 255;
    }
    return n;
  }
  // Magnitude bits of v (or of ~v for negatives) plus one sign bit, rounded up to octets.
  const m = v < 0n ? -v - 1n : v;
  const bits = m === 0n ? 0 : m.toString(2).length;
  return (bits >> 3) + 1;
}

/** Writes the contents octets of `v` at `at` (size from `integerSize`) and returns the position after. */
export function putInteger(out: Uint8Array, at: number, v: number | bigint, size: number): number {
  if (typeof v === 'number') {
    // Floor division is an arithmetic shift, so negative values come out in two's complement.
    let x = v;
    for (let i = size - 1; i >= 0; i--) {
      out[at + i] = ((x % 256) + 256) % 256;
      x = Math.floor(x / 256);
    }
    return at + size;
  }
  let x = v;
  for (let i = size - 1; i >= 0; i--) {
    out[at + i] = Number(BigInt.asUintN(8, x));
    x >>= 8n;
  }
  return at + size;
}

/** Decodes INTEGER contents as a bigint (any length; empty contents decode as 0). */
export function decodeIntegerBig(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (let i = 0; i < bytes.length; i++) v = (v << 8n) | BigInt(bytes[i]!);
  return BigInt.asIntN(bytes.length * 8, v);
}

/** Decodes INTEGER contents as a number, or undefined when the value is not a safe integer. */
export function decodeIntegerSafe(bytes: Uint8Array): number | undefined {
  const n = bytes.length;
  if (n === 0) return 0;
  if (n > 7) {
    const big = decodeIntegerBig(bytes);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : undefined;
  }
  let v = bytes[0]! >= 0x80 ? bytes[0]! - 256 : bytes[0]!;
  for (let i = 1; i < n; i++) v = v * 256 + bytes[i]!;
  return Number.isSafeInteger(v) ? v : undefined;
}

function checkSafe(v: number): void {
  if (!Number.isSafeInteger(v)) {
    throw new VmsError('E_USAGE', 'INTEGER value is not a safe integer; pass a bigint', { actual: String(v) });
  }
}
