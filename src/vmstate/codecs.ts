/**
 * Element codecs: how one scalar or struct element is saved and loaded, with the value checks
 * done on save (range, type) and on load (QEMU `_EQUAL` and "int32 le"). Also the small
 * checking helpers the steps share.
 */
import { VmsError } from '../errors.js';
import type { InputVisitor, OutputVisitor } from '../format/visitor.js';
import type { FieldSpec, ScalarType } from './field.js';
import { planOf } from './plan.js';
import type { LoadLimits, Obj } from './plan.js';
import { loadStruct, saveStruct, zeroOf } from './struct.js';

/** Saves and loads one element (a scalar or a struct). */
export interface Codec {
  put(out: OutputVisitor, name: string, v: unknown): void;
  /** `prev` is the receiver's current value (checked by equal/le, the load target of structs). */
  get(inp: InputVisitor, name: string, prev: unknown, limits: LoadLimits): unknown;
  zero(): unknown;
}

/** The codec of an array element or single field: a scalar (with equal/le checks) or a struct. */
export function codecOf(spec: FieldSpec): Codec {
  if (spec.kind === 'struct') {
    const plan = planOf(spec.desc);
    const version = spec.version ?? spec.desc.version;
    return {
      put: (out, name, v) => saveStruct(plan, asObj(v, name, out.offset, plan.desc.name), out, version, name),
      get: (inp, name, prev, lim) => loadStruct(plan, inp, isObj(prev) ? prev : zeroOf(plan), version, lim, name),
      zero: () => zeroOf(plan),
    };
  }
  if (spec.kind !== 'scalar') throw new VmsError('E_DESCRIPTION', `${spec.kind} cannot be an array element`);
  const c = scalarCodec(spec.type);
  if (spec.equal) return equalCodec(c);
  return c;
}

function intCodec(
  type: ScalarType,
  min: number,
  max: number,
  put: (out: OutputVisitor, name: string, v: number) => void,
  get: (inp: InputVisitor, name: string) => number,
): Codec {
  return {
    put: (out, name, v) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) badValue(out, name, `${type} (${min}..${max})`, v);
      put(out, name, v);
    },
    get: (inp, name) => get(inp, name),
    zero: () => 0,
  };
}

function bigCodec(
  type: string,
  signed: boolean,
  put: (out: OutputVisitor, name: string, v: bigint) => void,
  get: (inp: InputVisitor, name: string) => bigint,
): Codec {
  return {
    put: (out, name, v) => {
      if (typeof v !== 'bigint' || (signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v)) !== v) {
        badValue(out, name, `${type} as a bigint`, v);
      }
      put(out, name, v);
    },
    get: (inp, name) => get(inp, name),
    zero: () => (type === 'timer' ? -1n : 0n),
  };
}

const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;

function scalarCodec(type: ScalarType): Codec {
  switch (type) {
    case 'bool':
      return {
        put: (out, name, v) => {
          if (typeof v !== 'boolean') badValue(out, name, 'a boolean', v);
          out.bool(name, v);
        },
        get: (inp, name) => inp.bool(name),
        zero: () => false,
      };
    case 'int8':
      return intCodec(type, -0x80, 0x7f, (o, n, v) => o.int8(n, v), (i, n) => i.int8(n));
    case 'int16':
      return intCodec(type, -0x8000, 0x7fff, (o, n, v) => o.int16(n, v), (i, n) => i.int16(n));
    case 'int32':
      return intCodec(type, I32_MIN, I32_MAX, (o, n, v) => o.int32(n, v), (i, n) => i.int32(n));
    case 'uint8':
      return intCodec(type, 0, 0xff, (o, n, v) => o.uint8(n, v), (i, n) => i.uint8(n));
    case 'uint16':
      return intCodec(type, 0, 0xffff, (o, n, v) => o.uint16(n, v), (i, n) => i.uint16(n));
    case 'uint32':
      return intCodec(type, 0, 0xffffffff, (o, n, v) => o.uint32(n, v), (i, n) => i.uint32(n));
    case 'int64':
    case 'timer':
      return bigCodec(type, true, (o, n, v) => o.int64(n, v), (i, n) => i.int64(n));
    case 'uint64':
      return bigCodec(type, false, (o, n, v) => o.uint64(n, v), (i, n) => i.uint64(n));
    case 'int32le': {
      const c = intCodec(type, I32_MIN, I32_MAX, (o, n, v) => o.int32(n, v), (i, n) => i.int32(n));
      return {
        put: c.put,
        // QEMU "int32 le": less-or-equal, not little-endian; 0 <= v <= the receiver's value.
        get: (inp, name, prev) => {
          const at = inp.offset;
          const v = inp.int32(name);
          if (!(v >= 0 && typeof prev === 'number' && v <= prev)) {
            throw new VmsError('E_MISMATCH', `${name} is out of range`, {
              offset: at,
              expected: `0 <= value <= ${String(prev)}`,
              actual: String(v),
            });
          }
          return v;
        },
        zero: c.zero,
      };
    }
    case 'string':
      return {
        put: (out, name, v) => {
          if (typeof v !== 'string') badValue(out, name, 'a string', v);
          out.string(name, v);
        },
        get: (inp, name) => inp.string(name),
        zero: () => '',
      };
  }
}

/** QEMU `_EQUAL` infos: the value read must be the receiver's current value. */
function equalCodec(c: Codec): Codec {
  return {
    put: c.put,
    get: (inp, name, prev, lim) => {
      const at = inp.offset;
      const v = c.get(inp, name, prev, lim);
      if (v !== prev) {
        throw new VmsError('E_MISMATCH', `${name} differs from the receiver's value`, {
          offset: at,
          expected: String(prev),
          actual: String(v),
        });
      }
      return v;
    },
    zero: c.zero,
  };
}

/** Reads an element count or byte size from an earlier integer field. */
export function countFrom(s: Obj, field: string, at: number): number {
  const n = s[field];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new VmsError('E_FORMAT', `count field ${field} is not a usable count`, {
      offset: at,
      expected: 'a non-negative integer',
      actual: String(n),
    });
  }
  return n;
}

/** Throws E_LIMIT when a count or size from the stream exceeds its limit (before allocating). */
export function limit(n: number, max: number, what: string, at: number): void {
  if (n > max) throw new VmsError('E_LIMIT', `${what}, more than the limit`, { offset: at, expected: `at most ${max}`, actual: String(n) });
}

/** A plain struct state (an object, not an array). */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value as a struct state, or E_USAGE naming what it was. */
export function asObj(v: unknown, name: string, at: number, vmsdName: string): Obj {
  if (!isObj(v)) throw new VmsError('E_USAGE', `${name} is not a ${vmsdName} object`, { offset: at, actual: describe(v) });
  return v;
}

/** E_USAGE for a value that cannot be saved as the description says. */
export function badValue(out: OutputVisitor, name: string, expected: string, v: unknown): never {
  throw new VmsError('E_USAGE', name === '' ? 'bad value to save' : `bad value to save for ${name}`, {
    offset: out.offset,
    expected,
    actual: describe(v),
  });
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : String(v);
}
