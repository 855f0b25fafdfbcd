/**
 * A compiled type as text and back: the object graph reachable from an AsnType (shared TypeDefs
 * and the cycles of recursive types kept), for the schema cache. Only what compiled types are made
 * of is accepted: plain objects, arrays, strings, numbers, booleans, null, undefined, bigint and
 * Uint8Array. Anything else (a Map, a class instance, a function) makes `encodeTypeGraph` throw, so
 * a type the cache cannot hold exactly is never cached.
 *
 * Text form (JSON): `{ "v": 1, "nodes": [...] }`, node 0 the root. A node is `{ "a": [values] }`
 * (an array) or `{ "o": { key: value } }` (an object, keys in order). A value is a JSON string,
 * number, boolean or null, or `{ "$": i }` (node i), `{ "u": 1 }` (undefined), `{ "n": "123" }`
 * (bigint), `{ "b": "0aff" }` (Uint8Array, hex).
 */
import { VmsError } from '../../errors.js';
import type { AsnType } from '../types.js';

const FORMAT = 1;

type Encoded = string | number | boolean | null | { readonly $: number } | { readonly u: 1 } | { readonly n: string } | { readonly b: string };
type Node = { readonly a: Encoded[] } | { readonly o: Record<string, Encoded> };

/** The graph reachable from `root` as text; throws E_USAGE on anything but the kinds listed above. */
export function encodeTypeGraph(root: AsnType): string {
  const index = new Map<object, number>();
  const nodes: Node[] = [];
  const queue: object[] = [];
  const ref = (o: object): Encoded => {
    let i = index.get(o);
    if (i === undefined) {
      i = queue.length;
      index.set(o, i);
      queue.push(o);
    }
    return { $: i };
  };
  const value = (v: unknown): Encoded => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        // JSON has no -0, NaN or Infinity: those would not come back as they were.
        if (!Number.isFinite(v) || Object.is(v, -0)) throw unsupported(`number ${v}`);
        return v;
      case 'undefined':
        return { u: 1 };
      case 'bigint':
        return { n: v.toString() };
      case 'object':
        if (v === null) return null;
        if (v instanceof Uint8Array && v.constructor === Uint8Array) return { b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
        if (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype) return ref(v);
        throw unsupported(`an object of class ${(v as object).constructor?.name ?? 'null'}`);
      default:
        throw unsupported(typeof v);
    }
  };
  ref(root);
  for (let i = 0; i < queue.length; i++) {
    const o = queue[i]!;
    if (Array.isArray(o)) {
      // A sparse array (holes) would come back with undefined elements instead.
      for (let k = 0; k < o.length; k++) if (!(k in o)) throw unsupported('a sparse array');
      nodes.push({ a: o.map(value) });
    } else {
      if (Object.getOwnPropertySymbols(o).length > 0) throw unsupported('symbol keys');
      const out: Record<string, Encoded> = {};
      for (const k of Object.keys(o)) out[k] = value((o as Record<string, unknown>)[k]);
      nodes.push({ o: out });
    }
  }
  return JSON.stringify({ v: FORMAT, nodes });
}

/** The graph `encodeTypeGraph` wrote; throws E_USAGE when the text is not such a graph. */
export function decodeTypeGraph(text: string): AsnType {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new VmsError('E_USAGE', 'cached schema is not JSON', { expected: 'a type graph', actual: (e as Error).message });
  }
  const d = doc as { v?: unknown; nodes?: unknown };
  if (typeof d !== 'object' || d === null || d.v !== FORMAT || !Array.isArray(d.nodes) || d.nodes.length === 0) {
    throw bad('a type graph of format 1', 'another document');
  }
  const raw = d.nodes as unknown[];
  // Shells first, so references (cycles included) resolve to the same objects.
  const shells: object[] = raw.map((n, i) => {
    if (typeof n !== 'object' || n === null) throw bad('an object node', `node ${i}`);
    if (Array.isArray((n as { a?: unknown }).a)) return [];
    if (typeof (n as { o?: unknown }).o === 'object' && (n as { o?: unknown }).o !== null) return {};
    throw bad('an array or object node', `node ${i}`);
  });
  const value = (e: unknown): unknown => {
    if (e === null || typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean') return e;
    if (typeof e !== 'object') throw bad('a value', typeof e);
    const x = e as { $?: unknown; u?: unknown; n?: unknown; b?: unknown };
    if (typeof x.$ === 'number') {
      const s = shells[x.$];
      if (s === undefined) throw bad(`a node below ${shells.length}`, String(x.$));
      return s;
    }
    if (x.u === 1) return undefined;
    if (typeof x.n === 'string' && /^-?[0-9]+$/.test(x.n)) return BigInt(x.n);
    if (typeof x.b === 'string' && /^(?:[0-9a-f]{2})*$/.test(x.b)) return Uint8Array.from(Buffer.from(x.b, 'hex'));
    throw bad('a reference, undefined, bigint or bytes', JSON.stringify(e).slice(0, 40));
  };
  raw.forEach((n, i) => {
    const shell = shells[i]!;
    const node = n as { a?: unknown[]; o?: Record<string, unknown> };
    if (Array.isArray(shell)) for (const e of node.a!) shell.push(value(e));
    else for (const k of Object.keys(node.o!)) (shell as Record<string, unknown>)[k] = value(node.o![k]);
  });
  const root = shells[0]!;
  if (Array.isArray(root) || typeof (root as { name?: unknown }).name !== 'string' || typeof (root as { def?: unknown }).def !== 'object') {
    throw bad('an AsnType at node 0', 'something else');
  }
  return root as AsnType;
}

function unsupported(what: string): VmsError {
  return new VmsError('E_USAGE', `a compiled type holds ${what}, which the schema cache cannot store`, { expected: 'plain objects, arrays, strings, numbers, booleans, bigints and bytes', actual: what });
}

function bad(expected: string, actual: string): VmsError {
  return new VmsError('E_USAGE', 'cached schema is not a type graph', { expected, actual });
}
