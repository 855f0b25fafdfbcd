/**
 * XBZRLE (spec §3.3): a page delta written as alternating runs. Each pair is a ULEB128
 * count of bytes that are unchanged ("zero run", since old XOR new is zero there), then a
 * ULEB128 count of changed bytes followed by those bytes. A trailing unchanged run is not
 * written. Counts use at most two ULEB128 bytes (values up to 0x3fff), enough for any page
 * up to 16 KiB; QEMU's peer has the same limit.
 *
 * The encoder compares 32-bit words where both pages are 4-byte aligned, because a page
 * that changed little is mostly long equal runs. The decoder applies the delta in place.
 */

import { VmsError, type PathElement } from '../errors.js';

/** The byte QEMU writes before an XBZRLE payload in a RAM record (ENCODING_FLAG_XBZRLE). */
export const XBZRLE_ENCODING_FLAG = 0x01;

/** Largest value a two-byte ULEB128 count can hold. */
export const ULEB128_SMALL_MAX = 0x3fff;

/** Returned by {@link xbzrleEncode} when the delta does not fit in the output limit. */
export const XBZRLE_OVERFLOW = -1;

/**
 * Writes `value` (0..0x3fff) as ULEB128 at `out[pos]`; returns the number of bytes (1 or 2).
 * The caller must leave 2 bytes of room.
 */
export function encodeUleb128Small(out: Uint8Array, pos: number, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > ULEB128_SMALL_MAX) {
    throw new VmsError('E_USAGE', 'ULEB128 count out of range', {
      expected: `an integer 0..${ULEB128_SMALL_MAX}`,
      actual: String(value),
    });
  }
  return putCount(out, pos, value);
}

/**
 * Reads a ULEB128 count of at most two bytes at `buf[pos]` (bytes past `end` are absent).
 * Returns `value * 4 + length` packed in one number so the hot path allocates nothing,
 * or -1 when the count is truncated or longer than two bytes. Use {@link ulebValue} and
 * {@link ulebLength} to unpack.
 */
export function decodeUleb128Small(buf: Uint8Array, pos: number, end: number = buf.length): number {
  if (pos >= end) return -1;
  const b0 = buf[pos]!;
  if (b0 < 0x80) return b0 * 4 + 1;
  if (pos + 1 >= end) return -1;
  const b1 = buf[pos + 1]!;
  if (b1 >= 0x80) return -1;
  return ((b0 & 0x7f) | (b1 << 7)) * 4 + 2;
}

/** The value part of a {@link decodeUleb128Small} result. */
export const ulebValue = (packed: number): number => packed >>> 2;
/** The byte length part of a {@link decodeUleb128Small} result. */
export const ulebLength = (packed: number): number => packed & 3;

/** {@link encodeUleb128Small} without the range check, for counts the encoder knows are in range. */
function putCount(out: Uint8Array, pos: number, value: number): number {
  if (value < 0x80) {
    out[pos] = value;
    return 1;
  }
  out[pos] = (value & 0x7f) | 0x80;
  out[pos + 1] = value >>> 7;
  return 2;
}

/** Whole-buffer 32-bit views, cached so aligned pages can be compared word-wise without allocating. */
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  let view = wordViews.get(buffer);
  if (view === undefined) {
    view = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, view);
  }
  return view;
}

/** True when some byte of the 32-bit value is zero (the classic has-zero-byte bit trick). */
const hasZeroByte = (x: number): boolean => ((x - 0x01010101) & ~x & 0x80808080) !== 0;

/**
 * Encodes the delta from `oldPage` to `newPage` (same length, at most 0x3fff bytes) into
 * `out`, using at most `limit` bytes. Returns the encoded length; 0 when the pages are
 * identical; {@link XBZRLE_OVERFLOW} (-1) when the delta does not fit in `limit`, as QEMU's
 * encoder does (the sender then sends the plain page).
 */
export function xbzrleEncode(
  oldPage: Uint8Array,
  newPage: Uint8Array,
  out: Uint8Array,
  limit: number = out.length,
): number {
  const len = newPage.length;
  if (oldPage.length !== len) {
    throw new VmsError('E_USAGE', 'XBZRLE pages differ in length', {
      expected: `${len} bytes`,
      actual: `${oldPage.length} bytes`,
    });
  }
  if (len > ULEB128_SMALL_MAX) {
    throw new VmsError('E_USAGE', 'XBZRLE page too large for two-byte counts', {
      expected: `at most ${ULEB128_SMALL_MAX} bytes`,
      actual: `${len} bytes`,
    });
  }
  if (limit > out.length) limit = out.length;

  // Word-wise comparison needs both pages 4-byte aligned in their buffers; pages usually are.
  const oldBase = oldPage.byteOffset >>> 2;
  const newBase = newPage.byteOffset >>> 2;
  const wordEnd = len & ~3;
  let oldWords: Uint32Array | undefined;
  let newWords: Uint32Array | undefined;
  if (((oldPage.byteOffset | newPage.byteOffset) & 3) === 0) {
    oldWords = wordsOf(oldPage.buffer);
    newWords = wordsOf(newPage.buffer);
    // A cached view can be stale if a resizable buffer changed size: then go byte-wise.
    if (oldBase + (wordEnd >>> 2) > oldWords.length || newBase + (wordEnd >>> 2) > newWords.length) {
      oldWords = undefined;
      newWords = undefined;
    }
  }

  let i = 0;
  let d = 0;
  while (i < len) {
    // Unchanged run.
    const zrunStart = i;
    if (oldWords !== undefined && newWords !== undefined) {
      while ((i & 3) !== 0 && i < len && oldPage[i] === newPage[i]) i++;
      if ((i & 3) === 0) {
        while (i < wordEnd && oldWords[oldBase + (i >>> 2)] === newWords[newBase + (i >>> 2)]) i += 4;
      }
    }
    while (i < len && oldPage[i] === newPage[i]) i++;
    if (i === len) break; // a trailing unchanged run is implied

    if (d + 2 > limit) return XBZRLE_OVERFLOW;
    d += putCount(out, d, i - zrunStart);

    // Changed run: stops at the first byte that is equal again.
    const nzrunStart = i;
    if (oldWords !== undefined && newWords !== undefined) {
      while ((i & 3) !== 0 && i < len && oldPage[i] !== newPage[i]) i++;
      if ((i & 3) === 0) {
        while (i < wordEnd && !hasZeroByte(oldWords[oldBase + (i >>> 2)]! ^ newWords[newBase + (i >>> 2)]!)) i += 4;
      }
    }
    while (i < len && oldPage[i] !== newPage[i]) i++;

    const nzrunLen = i - nzrunStart;
    if (d + nzrunLen + 2 > limit) return XBZRLE_OVERFLOW;
    d += putCount(out, d, nzrunLen);
    copyRun(newPage, nzrunStart, i, out, d);
    d += nzrunLen;
  }
  return d;
}

/** Where a decode happens, for error messages. */
export interface XbzrleWhere {
  /** Absolute stream offset of `encoded[0]`. Defaults to 0. */
  readonly offset?: number;
  /** Path to the page (e.g. `['ram', 'pc.ram', 0x1000]`). */
  readonly path?: readonly PathElement[];
}

/**
 * Applies an XBZRLE delta to `page` in place. Returns the end of the last changed byte
 * (how far into the page the delta reached). Anything malformed is a VmsError E_FORMAT
 * naming the stream offset: an encoded length above the page size, a truncated or
 * over-long count, an empty run where QEMU never writes one, or a run past the page end.
 * On error `page` may be partly updated; a migration fails outright then.
 */
export function xbzrleDecode(encoded: Uint8Array, page: Uint8Array, where: XbzrleWhere = {}): number {
  const base = where.offset ?? 0;
  const path = where.path ?? [];
  const slen = encoded.length;
  const dlen = page.length;
  const fail = (reason: string, at: number, expected: string, actual: string): VmsError =>
    new VmsError('E_FORMAT', reason, { offset: base + at, path, expected, actual });

  if (slen > dlen) {
    throw fail('XBZRLE encoded length exceeds the page size', 0, `at most ${dlen} bytes`, `${slen} bytes`);
  }
  let i = 0;
  let d = 0;
  while (i < slen) {
    // Unchanged run: may be empty only at the start of the page.
    let packed = decodeUleb128Small(encoded, i, slen);
    if (packed < 0) throw fail('XBZRLE run length is truncated or too long', i, 'a 1- or 2-byte ULEB128 count', describeVarint(encoded, i, slen));
    const zrun = ulebValue(packed);
    if (zrun === 0 && i !== 0) throw fail('XBZRLE unchanged run is empty', i, 'a count of at least 1 after the first run', '0');
    i += ulebLength(packed);
    d += zrun;
    if (d > dlen) throw fail('XBZRLE unchanged run passes the end of the page', i, `at most ${dlen} bytes`, `${d} bytes`);

    // Changed run: must follow, at least one literal byte.
    packed = decodeUleb128Small(encoded, i, slen);
    if (packed < 0) throw fail('XBZRLE run length is truncated or too long', i, 'a 1- or 2-byte ULEB128 count', describeVarint(encoded, i, slen));
    const nzrun = ulebValue(packed);
    if (nzrun === 0) throw fail('XBZRLE changed run is empty', i, 'a count of at least 1', '0');
    i += ulebLength(packed);
    if (d + nzrun > dlen) throw fail('XBZRLE changed run passes the end of the page', i, `at most ${dlen - d} bytes`, `${nzrun} bytes`);
    if (i + nzrun > slen) throw fail('XBZRLE literal bytes are truncated', i, `${nzrun} bytes`, `${slen - i} bytes`);
    copyRun(encoded, i, i + nzrun, page, d);
    i += nzrun;
    d += nzrun;
  }
  return d;
}

function describeVarint(buf: Uint8Array, pos: number, end: number): string {
  if (pos >= end) return 'end of data';
  const shown = Array.from(buf.subarray(pos, Math.min(end, pos + 3)), (b) => b.toString(16).padStart(2, '0'));
  return shown.join(' ');
}

/** Byte copy for short runs, `set` for long ones: a subarray view costs more than a few byte moves. */
function copyRun(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  const n = to - from;
  if (n < SHORT_RUN) {
    for (let k = 0; k < n; k++) dst[at + k] = src[from + k]!;
  } else {
    dst.set(src.subarray(from, to), at);
  }
}

/** Runs shorter than this are copied byte by byte (measured with the xbzrle benchmark in the tests). */
const SHORT_RUN = 32;
