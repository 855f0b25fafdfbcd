/**
 * Zero-page detection over 32-bit words (QEMU buffer_is_zero): OR four words per step and
 * stop at the first non-zero one, so a random page costs one step and a zero page 1024
 * word reads. No allocation: callers keep one Int32Array view per RAM block.
 */

/** True when words [first, first+count) of `w` are all zero. `count` is a multiple of 4. */
export function wordsAreZero(w: Int32Array, first: number, count: number): boolean {
  const end = first + count;
  for (let i = first; i < end; i += 4) {
    if ((w[i]! | w[i + 1]! | w[i + 2]! | w[i + 3]!) !== 0) return false;
  }
  return true;
}

/** An Int32Array over `bytes` for wordsAreZero (bytes must start on a 4-byte boundary). */
export function wordView(bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
}
