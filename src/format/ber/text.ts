/** Character string contents: UTF-8 without TextEncoder for short strings, ASCII checks for IA5. */
import { VmsError } from '../../errors.js';

const encoder = new TextEncoder();

/** UTF-8 byte length of a string (lone surrogates count as U+FFFD, 3 octets, as TextEncoder does). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The UTF-8 bytes of a string. */
export const utf8Bytes = (s: string): Uint8Array => encoder.encode(s);

/** The bytes of an IA5String (ASCII); throws E_USAGE for characters above 0x7F. */
export function ia5Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new VmsError('E_USAGE', 'IA5String character is not ASCII', { offset: i, actual: s.slice(0, 40) });
    out[i] = c;
  }
  return out;
}
