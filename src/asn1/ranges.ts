/** Integer range sets for SIZE and value constraints: normalize, union, intersect. */
import type { IntRange, Ranges } from './types.js';

const lowerLess = (a: bigint | undefined, b: bigint | undefined): boolean =>
  a === undefined ? b !== undefined : b !== undefined && a < b;

/** Sorts and merges overlapping or adjacent ranges; drops empty ones. */
export function normalizeRanges(input: readonly IntRange[]): IntRange[] {
  const rs = input.filter((r) => r.min === undefined || r.max === undefined || r.min <= r.max);
  rs.sort((a, b) => (lowerLess(a.min, b.min) ? -1 : lowerLess(b.min, a.min) ? 1 : 0));
  const out: IntRange[] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    // Adjacent integer ranges (1..3, 4..6) merge too.
    if (last !== undefined && (last.max === undefined || r.min === undefined || r.min <= last.max + 1n)) {
      const max = last.max === undefined || r.max === undefined ? undefined : last.max > r.max ? last.max : r.max;
      out[out.length - 1] = { min: last.min, max };
    } else {
      out.push(r);
    }
  }
  return out;
}

export function unionRanges(a: Ranges, b: Ranges): Ranges {
  return { ranges: normalizeRanges([...a.ranges, ...b.ranges]), extensible: a.extensible || b.extensible };
}

/** Both constraints apply; the result is extensible only if both are (X.680 51.3 serial application keeps the last flag, but any non-extensible side bounds the values). */
export function intersectRanges(a: Ranges, b: Ranges): Ranges {
  const out: IntRange[] = [];
  for (const x of a.ranges) {
    for (const y of b.ranges) {
      const min = x.min === undefined ? y.min : y.min === undefined ? x.min : x.min > y.min ? x.min : y.min;
      const max = x.max === undefined ? y.max : y.max === undefined ? x.max : x.max < y.max ? x.max : y.max;
      if (min === undefined || max === undefined || min <= max) out.push({ min, max });
    }
  }
  return { ranges: normalizeRanges(out), extensible: a.extensible && b.extensible };
}

export const singleRange = (min: bigint | undefined, max: bigint | undefined, extensible = false): Ranges => ({
  ranges: normalizeRanges([{ min, max }]),
  extensible,
});

/** `0..MAX`, `1..4 | 8`, `MIN..-1`: the notation, for messages and XER comments. */
export function formatRanges(r: Ranges): string {
  const parts = r.ranges.map((x) =>
    x.min !== undefined && x.max !== undefined && x.min === x.max
      ? String(x.min)
      : `${x.min ?? 'MIN'}..${x.max ?? 'MAX'}`,
  );
  const text = parts.length === 0 ? '(none)' : parts.join(' | ');
  return r.extensible ? `${text}, ...` : text;
}
