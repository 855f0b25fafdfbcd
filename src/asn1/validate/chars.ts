/**
 * Character counting and permitted-alphabet checks over string contents that arrive in
 * pieces. Characters may straddle pieces (UTF-8, BMPString, UniversalString), so the decoder
 * carries a partial character from one piece to the next. No allocation per piece.
 */
import { Universal } from '../../format/ber/tag.js';

export class CharScan {
  /** Characters seen so far. */
  count = 0;
  /** Offset of the first character outside the alphabet, or -1. */
  badAt = -1;
  badCode = 0;
  private width = 1;
  private utf8 = false;
  private partial = 0;
  private need = 0;
  private lo: readonly number[] | undefined;
  private hi: readonly number[] | undefined;

  /** Starts a string of universal type `universal`; `lo`/`hi` are the permitted code point ranges, if any. */
  begin(universal: number, lo: readonly number[] | undefined, hi: readonly number[] | undefined): void {
    this.count = 0;
    this.badAt = -1;
    this.partial = 0;
    this.need = 0;
    this.utf8 = universal === Universal.UTF8String;
    this.width = universal === Universal.BMPString ? 2 : universal === Universal.UniversalString ? 4 : 1;
    this.lo = lo;
    this.hi = hi;
  }

  /** Feeds `buf[start..end)`, whose first octet is at absolute offset `at`. */
  feed(buf: Uint8Array, start: number, end: number, at: number): void {
    const lo = this.lo;
    if (lo === undefined) {
      // Counting only: a UTF-8 character is one octet that is not a continuation octet.
      if (this.utf8) {
        let c = 0;
        for (let i = start; i < end; i++) if ((buf[i]! & 0xc0) !== 0x80) c++;
        this.count += c;
      } else {
        this.need += end - start;
        this.count += Math.floor(this.need / this.width);
        this.need %= this.width;
      }
      return;
    }
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      let cp: number;
      if (this.utf8) {
        if (this.need > 0) {
          this.partial = (this.partial << 6) | (b & 0x3f);
          if (--this.need > 0) continue;
          cp = this.partial;
        } else if (b < 0x80) cp = b;
        else if (b >= 0xf0) { this.partial = b & 0x07; this.need = 3; continue; }
        else if (b >= 0xe0) { this.partial = b & 0x0f; this.need = 2; continue; }
        else { this.partial = b & 0x1f; this.need = 1; continue; }
      } else if (this.width > 1) {
        this.partial = this.partial * 256 + b;
        if (++this.need < this.width) continue;
        cp = this.partial;
        this.partial = 0;
        this.need = 0;
      } else cp = b;
      this.count++;
      if (this.badAt < 0 && !inRange(lo, this.hi!, cp)) {
        this.badAt = at + (i - start) - (this.utf8 ? 0 : this.width - 1);
        this.badCode = cp;
      }
    }
  }
}

function inRange(lo: readonly number[], hi: readonly number[], v: number): boolean {
  for (let i = 0; i < lo.length; i++) if (v >= lo[i]! && v <= hi[i]!) return true;
  return false;
}

/** `U+0041 'A'` */
export function describeChar(cp: number): string {
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return cp >= 0x20 && cp < 0x7f ? `${u} '${String.fromCharCode(cp)}'` : u;
}
