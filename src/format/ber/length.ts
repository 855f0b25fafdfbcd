/**
 * BER length octets (X.690 8.1.3): short form (one octet, 0..127), long form (0x80|n, then n
 * big-endian octets), indefinite form (0x80, contents closed by end-of-contents 00 00).
 */

/** A length value standing for the indefinite form in headers and events. */
export const INDEFINITE = -1;

/** Number of length octets for a definite length, in the minimal form (as DER requires). */
export function lengthSize(length: number): number {
  if (length < 0x80) return 1;
  let n = 1;
  // Divide rather than shift: lengths may exceed 2^32.
  for (let v = length; v > 0; v = Math.floor(v / 256)) n++;
  return n;
}

/** Writes the minimal length octets for `length` (or 0x80 for INDEFINITE) and returns the position after. */
export function putLength(out: Uint8Array, at: number, length: number): number {
  if (length === INDEFINITE) {
    // X.690 8.1.3.6 indefinite form
    out[at] = 0x80;
    return at + 1;
  }
  if (length < 0x80) {
    // X.690 8.1.3.4 short form
    out[at] = length;
    return at + 1;
  }
  // X.690 8.1.3.5 long form: 0x80 | number of octets, then the length big-endian
  const n = lengthSize(length) - 1;
  out[at] = 0x80 | n;
  let v = length;
  for (let i = n; i >= 1; i--) {
    out[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
  return at + 1 + n;
}
