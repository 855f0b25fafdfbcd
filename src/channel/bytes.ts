/** Small byte-array helpers shared by the layers above the channel. */

/** The parts one after another in a new array (`total`, when given, is their summed length). */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  let n = total ?? 0;
  if (total === undefined) for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
