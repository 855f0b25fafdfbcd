/**
 * OBJECT IDENTIFIER and RELATIVE-OID contents (X.690 8.19, 8.20): each subidentifier in
 * base 128, most significant first, bit 8 set on all but its last octet; an OID packs its
 * first two arcs into one subidentifier (40 * a + b).
 */
import { VmsError } from '../../errors.js';

/** Parses dotted notation ("1.2.840.113549") into arcs. */
export function parseOid(text: string): number[] {
  const parts = text.split('.');
  const arcs: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]*)$/.test(p)) {
      throw new VmsError('E_USAGE', 'object identifier arc is not a decimal number', { actual: text });
    }
    const v = Number(p);
    if (!Number.isSafeInteger(v)) throw new VmsError('E_USAGE', 'object identifier arc exceeds 2^53', { actual: p });
    arcs.push(v);
  }
  return arcs;
}

/** Contents octets of an OID (`relative` false) or RELATIVE-OID (`relative` true). */
export function encodeOid(oid: string | readonly number[], relative = false): Uint8Array {
  const arcs = typeof oid === 'string' ? parseOid(oid) : oid;
  const subids: number[] = [];
  if (relative) {
    subids.push(...arcs);
  } else {
    const a = arcs[0];
    const b = arcs[1];
    if (arcs.length < 2 || a === undefined || b === undefined || a > 2 || (a < 2 && b > 39)) {
      throw new VmsError('E_USAGE', 'object identifier needs two first arcs, 0..2 then 0..39 (any under 2)', {
        actual: arcs.join('.'),
      });
    }
    subids.push(a * 40 + b, ...arcs.slice(2));
  }
  let size = 0;
  for (const s of subids) size += subidSize(s);
  const out = new Uint8Array(size);
  let at = 0;
  for (const s of subids) {
    if (!Number.isSafeInteger(s) || s < 0) throw new VmsError('E_USAGE', 'object identifier arc is not a safe integer', { actual: String(s) });
    const n = subidSize(s);
    let v = s;
    for (let i = n - 1; i >= 0; i--) {
      out[at + i] = (v % 128) | (i === n - 1 ? 0 : 0x80);
      v = Math.floor(v / 128);
    }
    at += n;
  }
  return out;
}

/** Dotted notation of OID (or RELATIVE-OID) contents; throws E_BER on a malformed encoding. */
export function decodeOid(bytes: Uint8Array, relative = false): string {
  const subids: number[] = [];
  let v = 0;
  let fresh = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (fresh && b === 0x80) throw new VmsError('E_BER', 'object identifier subidentifier starts with 0x80', { offset: i });
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER) throw new VmsError('E_LIMIT', 'object identifier arc exceeds 2^53', { offset: i });
    fresh = (b & 0x80) === 0;
    if (fresh) {
      subids.push(v);
      v = 0;
    }
  }
  if (!fresh || bytes.length === 0) {
    throw new VmsError('E_BER', 'object identifier ends inside a subidentifier', { offset: bytes.length });
  }
  if (relative) return subids.join('.');
  const first = subids[0]!;
  const head = first < 80 ? `${Math.floor(first / 40)}.${first % 40}` : `2.${first - 80}`;
  return subids.length === 1 ? head : `${head}.${subids.slice(1).join('.')}`;
}

function subidSize(v: number): number {
  let n = 1;
  for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) n++;
  return n;
}
