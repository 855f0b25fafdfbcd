/**
 * Finds the vmdesc trailer from the end of a stream without walking the sections: the
 * trailer's position is only known once EOF is reached, but its shape is distinctive.
 * We look for `00 06 <be32 len> {"page_size"` where len reaches exactly to the end of the
 * stream; the caller still parses and checks the JSON.
 */

const OPENING = Buffer.from('{"page_size"', 'latin1');

export interface TrailerLocation {
  /** Stream offset of the 0x06 byte. */
  readonly offset: number;
  /** Stream offset of the first JSON byte. */
  readonly jsonOffset: number;
  readonly length: number;
}

/**
 * Searches `tail`, which holds the stream's bytes from offset `tailOffset` up to the very
 * end (`tailOffset + tail.length` is the stream length).
 */
export function locateTrailer(tail: Uint8Array, tailOffset: number): TrailerLocation | undefined {
  const end = tail.length;
  const hay = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  // Earliest candidates first: JSON text may itself contain the opening, but only the real
  // one has a length that reaches the end, so the first consistent match is the trailer.
  for (let p = hay.indexOf(OPENING, 6); p >= 6; p = hay.indexOf(OPENING, p + 1)) {
    if (tail[p - 5] === 0x06 && tail[p - 6] === 0x00) {
      const len = ((tail[p - 4]! << 24) >>> 0) + (tail[p - 3]! << 16) + (tail[p - 2]! << 8) + tail[p - 1]!;
      if (p + len === end) return { offset: tailOffset + p - 5, jsonOffset: tailOffset + p, length: len };
    }
  }
  return undefined;
}
