/**
 * Finds where a device section ends when nothing describes it (old machine types without
 * a vmdesc, or sections the vmdesc does not list). Device payloads carry no length, so we
 * look for what must follow: a footer `7e <this id>` (when footers are on), then a
 * plausible next header (type 0x04/0x01 with an unseen id, a printable counted idstr and
 * small instance and version numbers), or the EOF byte right before the trailer or the end.
 * This is a heuristic: the payload then stays opaque.
 */

export interface SplitContext {
  /** Section ids already met (a new FULL/START must use another). */
  readonly seenIds: ReadonlySet<number>;
  /** Whether earlier sections had footers; undefined when no section told us yet. */
  readonly footers: boolean | undefined;
  /** Index in `buf` where the device data can end at the latest (the trailer, or the end). */
  readonly limit: number;
}

/** Returns the index in `buf` where the payload starting at `from` ends, or -1. */
export function findPayloadEnd(buf: Uint8Array, from: number, id: number, ctx: SplitContext): number {
  const tryFooters = ctx.footers !== false;
  const tryBare = ctx.footers !== true;
  if (tryFooters) {
    for (let q = buf.indexOf(0x7e, from); q >= 0 && q + 5 <= ctx.limit; q = buf.indexOf(0x7e, q + 1)) {
      if (be32(buf, q + 1) === id && plausibleNext(buf, q + 5, ctx)) return q;
    }
  }
  if (tryBare) {
    for (let q = from; q < ctx.limit; q++) {
      if (plausibleNext(buf, q, ctx)) return q;
    }
  }
  return -1;
}

function plausibleNext(buf: Uint8Array, p: number, ctx: SplitContext): boolean {
  if (p >= ctx.limit) return false;
  const t = buf[p]!;
  if (t === 0x00) return p + 1 === ctx.limit || trailerAt(buf, p + 1, ctx.limit);
  if (t !== 0x04 && t !== 0x01) return false;
  if (p + 6 > ctx.limit) return false;
  const id = be32(buf, p + 1);
  if (id > 0xffff || ctx.seenIds.has(id)) return false;
  const len = buf[p + 5]!;
  if (len === 0 || p + 6 + len + 8 > ctx.limit) return false;
  for (let i = 0; i < len; i++) {
    const c = buf[p + 6 + i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  const instance = be32(buf, p + 6 + len);
  const version = be32(buf, p + 10 + len);
  return instance <= 0xffff && version <= 0xffff;
}

/** A vmdesc trailer header (0x06, be32 length, '{') that fits before `limit`. */
function trailerAt(buf: Uint8Array, p: number, limit: number): boolean {
  return p + 6 <= limit && buf[p] === 0x06 && buf[p + 5] === 0x7b && p + 5 + be32(buf, p + 1) <= limit;
}

function be32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
}
