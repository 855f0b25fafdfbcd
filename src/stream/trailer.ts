/**
 * Finds the vmdesc trailer from the end of a stream without walking the sections: the
 * trailer's position is only known once EOF is reached, but its shape is distinctive.
 * We look for `00 06 <be32 len> {"page_size"` where len reaches exactly to the end of the
 * stream; the caller still parses and checks the JSON.
 */

const OPENING = new TextEncoder().encode('{"page_size"');

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
  // Earliest candidates first: JSON text may itself contain the opening, but only the real
  // one has a length that reaches the end, so the first consistent match is the trailer.
  let p = tail.indexOf(OPENING[0]!, 6);
  while (p >= 6 && p + OPENING.length <= end) {
    if (matchesOpening(tail, p) && tail[p - 5] === 0x06 && tail[p - 6] === 0x00) {
      const len = ((tail[p - 4]! << 24) >>> 0) + (tail[p - 3]! << 16) + (tail[p - 2]! << 8) + tail[p - 1]!;
      if (p + len === end) return { offset: tailOffset + p - 5, jsonOffset: tailOffset + p, length: len };
    }
    p = tail.indexOf(OPENING[0]!, p + 1);
  }
  return undefined;
}

function matchesOpening(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < OPENING.length; i++) if (b[at + i] !== OPENING[i]) return false;
  return true;
}
