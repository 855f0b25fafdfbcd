/**
 * The vmdesc JSON trailer (spec §1.7): its types, a checked parse, and QEMU's exact
 * serialisation (JSONWriter: `", "` between members, `": "` after keys, \uXXXX escapes in
 * uppercase hex for characters below 0x20 and from 0x7F). JSON.stringify differs, so we
 * emit the separators ourselves.
 */
import { VmsError, type PathElement } from '../errors.js';

/** One field as the sender described it. */
export interface VmdescField extends VmdescBody {
  readonly name: string;
  readonly type: string;
  /** Bytes written for one element (structs include their subsections). */
  readonly size: number;
  /** Only element 0 is described; the array has this many. */
  readonly array_len?: number;
  /** Every element is described; this is element `index`. */
  readonly index?: number;
  /** For type "struct". */
  readonly struct?: VmdescStruct;
  /** For "tmp" and "vstruct": the nested VMSD inlined (with its fields and subsections). */
  readonly vmsd_name?: string;
  readonly version?: number;
}

/** What a VMSD as sent holds: its fields, then its subsections. */
export interface VmdescBody {
  readonly fields?: readonly VmdescField[];
  readonly subsections?: readonly VmdescStruct[];
}

/** A VMSD as sent: a nested struct or a subsection. */
export interface VmdescStruct extends VmdescBody {
  readonly vmsd_name: string;
  readonly version: number;
}

/** One FULL section that was written (iterative sections such as "ram" are not listed). */
export interface VmdescDevice extends VmdescBody {
  readonly name: string;
  readonly instance_id: number;
  readonly vmsd_name?: string;
  readonly version?: number;
  /** Old-style sections (no VMSD): total bytes, described as one "data" buffer. */
  readonly size?: number;
}

export interface Vmdesc {
  readonly page_size: number;
  readonly devices: readonly VmdescDevice[];
}

/** Any JSON value, for serialising in QEMU's style. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** Nesting deeper than this is refused (QEMU's VMSDs nest a handful of levels). */
const MAX_DEPTH = 64;

/**
 * Parses and checks a vmdesc. `offset` is where the JSON starts in the stream, for errors.
 * Every member the decoder relies on is type-checked, so a damaged trailer gives a VmsError
 * naming the path, not a TypeError later.
 */
export function parseVmdesc(json: Uint8Array, offset?: number): Vmdesc {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new VmsError('E_FORMAT', 'vmdesc trailer is not valid JSON', {
      offset,
      path: ['vmdesc'],
      actual: e instanceof Error ? e.message : String(e),
    });
  }
  // One mutable path, copied only when something is wrong (vmdescs have thousands of fields).
  const path: PathElement[] = [];
  const fail = (expected: string, actual: unknown, last?: PathElement): never => {
    throw new VmsError('E_FORMAT', 'vmdesc trailer has an unexpected shape', {
      offset,
      path: ['vmdesc', ...path, ...(last !== undefined ? [last] : [])],
      expected,
      actual: JSON.stringify(actual)?.slice(0, 60) ?? String(actual),
    });
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const str = (o: Record<string, unknown>, k: string): void => {
    if (typeof o[k] !== 'string') fail('a string', o[k], k);
  };
  const int = (o: Record<string, unknown>, k: string, optional = false): void => {
    const v = o[k];
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('a non-negative integer', v, k);
  };
  const list = (o: Record<string, unknown>, k: string, each: (v: unknown) => void): void => {
    const a = o[k];
    if (a === undefined) return;
    if (!Array.isArray(a)) return fail('an array', a, k);
    path.push(k, 0);
    for (let i = 0; i < a.length; i++) {
      path[path.length - 1] = i;
      each(a[i]);
    }
    path.length -= 2;
  };
  const checkStruct = (v: unknown): void => {
    if (path.length > MAX_DEPTH * 3) fail(`nesting of at most ${MAX_DEPTH}`, 'deeper');
    if (!isObj(v)) return fail('an object', v);
    str(v, 'vmsd_name');
    int(v, 'version');
    checkMembers(v);
  };
  const checkMembers = (o: Record<string, unknown>): void => {
    list(o, 'fields', checkField);
    list(o, 'subsections', checkStruct);
  };
  const checkField = (v: unknown): void => {
    if (path.length > MAX_DEPTH * 3) fail(`nesting of at most ${MAX_DEPTH}`, 'deeper');
    if (!isObj(v)) return fail('an object', v);
    str(v, 'name');
    str(v, 'type');
    int(v, 'size');
    int(v, 'array_len', true);
    int(v, 'index', true);
    if (v.type === 'struct') {
      path.push('struct');
      checkStruct(v.struct);
      path.pop();
    }
    if (v.vmsd_name !== undefined || v.fields !== undefined) {
      str(v, 'vmsd_name');
      int(v, 'version');
      checkMembers(v);
    }
  };
  const root = value;
  if (!isObj(root)) return fail('an object', root);
  int(root, 'page_size');
  if (!Array.isArray(root.devices)) fail('an array', root.devices, 'devices');
  list(root, 'devices', (d) => {
    if (!isObj(d)) return fail('an object', d);
    str(d, 'name');
    int(d, 'instance_id');
    if (d.vmsd_name !== undefined) str(d, 'vmsd_name');
    int(d, 'version', true);
    int(d, 'size', true);
    checkMembers(d);
  });
  return root as unknown as Vmdesc;
}

/** QEMU's JSONWriter output for any JSON value (keys in insertion order). */
export function serializeQemuJson(v: JsonValue): string {
  const out: string[] = [];
  write(v, out);
  return out.join('');
}

function write(v: JsonValue, out: string[]): void {
  if (v === null) out.push('null');
  else if (typeof v === 'boolean') out.push(v ? 'true' : 'false');
  else if (typeof v === 'number') out.push(Number.isInteger(v) ? String(v) : formatDouble(v));
  else if (typeof v === 'string') out.push(quote(v));
  else if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(', ');
      write(v[i] as JsonValue, out);
    }
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const [k, val] of Object.entries(v as Record<string, JsonValue>)) {
      if (val === undefined) continue;
      if (!first) out.push(', ');
      first = false;
      out.push(quote(k), ': ');
      write(val, out);
    }
    out.push('}');
  }
}

/** QEMU prints doubles with %.17g; vmdesc never holds any, so this only keeps output valid JSON. */
function formatDouble(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x22: '\\"',
  0x5c: '\\\\',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
};

/** A quoted string: short escapes, else \uXXXX (uppercase) below 0x20 and from 0x7F; surrogate pairs stay pairs. */
function quote(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short === undefined && c >= 0x20 && c < 0x7f) continue;
    out += s.slice(run, i) + (short ?? `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`);
    run = i + 1;
  }
  return out + s.slice(run) + '"';
}

/** The vmdesc bytes QEMU would write for `desc`. */
export function encodeVmdesc(desc: Vmdesc): Uint8Array {
  return new TextEncoder().encode(serializeQemuJson(desc as unknown as JsonValue));
}
