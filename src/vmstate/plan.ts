/**
 * Compiles a description once (WeakMap) into a plan: one step per field, each a pair of
 * closures that save/load that field with its layout already decided, so the interpreter
 * does no per-value switching. Steps and element codecs live here; the struct-level walk
 * (hooks, presence, subsections, paths) is in struct.ts.
 */
import { VmsError, isVmsError } from '../errors.js';
import type { PathElement } from '../errors.js';
import type { InputVisitor, OutputVisitor } from '../format/visitor.js';
import type { ExistsTest, FieldSpec, ScalarType } from './field.js';
import type { AnyVmsd } from './infer.js';
import { loadStruct, saveStruct, zeroOf } from './struct.js';

/** A struct's state at run time. */
export type Obj = Record<string, unknown>;

/** Limits checked before a count or size from the stream is trusted. */
export interface LoadLimits {
  /** Most elements in one array, list or tree. */
  readonly maxElements: number;
  /** Most bytes in one buffer or bitmap. */
  readonly maxBytes: number;
}

/** Saves and loads one element (a scalar or a struct). */
interface Codec {
  put(out: OutputVisitor, name: string, v: unknown): void;
  /** `prev` is the receiver's current value (checked by equal/le, the load target of structs). */
  get(inp: InputVisitor, name: string, prev: unknown, limits: LoadLimits): unknown;
  zero(): unknown;
}

/** One field, compiled. */
export interface Step {
  readonly name: string;
  readonly since: number;
  readonly exists: ((state: Obj, version: number) => boolean) | undefined;
  readonly mustExist: boolean;
  /** True when the field has a value in the state type. */
  readonly hasState: boolean;
  save(state: Obj, out: OutputVisitor): void;
  /** Loads into `state` (the interpreter's fresh copy; the only object it may change). */
  load(state: Obj, inp: InputVisitor, limits: LoadLimits): void;
  zero(): unknown;
}

/** Hooks with their parameter types as the interpreter sees them. */
export interface PlanHooks {
  readonly preSave: ((s: Obj) => Obj) | undefined;
  readonly preLoad: ((s: Obj) => Obj | void) | undefined;
  readonly postLoad: ((s: Obj, version: number) => Obj | void) | undefined;
  readonly needed: ((s: Obj) => boolean) | undefined;
}

export interface Plan {
  readonly desc: AnyVmsd;
  readonly steps: readonly Step[];
  readonly hooks: PlanHooks;
  readonly subsections: readonly Plan[];
  readonly subsectionByName: ReadonlyMap<string, Plan>;
}

const plans = new WeakMap<AnyVmsd, Plan>();

/** The compiled plan of a description (compiled on first use, then cached). */
export function planOf(desc: AnyVmsd): Plan {
  const cached = plans.get(desc);
  if (cached !== undefined) return cached;
  const steps: Step[] = [];
  const subsections: Plan[] = [];
  const subsectionByName = new Map<string, Plan>();
  // Hook parameter types were erased when stored; they receive this description's state.
  const hooks = desc.hooks as unknown as PlanHooks;
  const plan: Plan = {
    desc,
    steps,
    hooks: { preSave: hooks.preSave, preLoad: hooks.preLoad, postLoad: hooks.postLoad, needed: hooks.needed },
    subsections,
    subsectionByName,
  };
  // Registered before compiling fields, so a description reached again while compiling terminates.
  plans.set(desc, plan);
  for (const [name, field] of Object.entries(desc.fields)) {
    steps.push(compileStep(name, field.spec, field.since, field.exists, field.mustExist));
  }
  for (const sub of desc.subsections) {
    const p = planOf(sub);
    subsections.push(p);
    subsectionByName.set(sub.name, p);
  }
  return plan;
}

/** Prepends a path element to a VmsError; anything else (NEED_MORE, bugs) passes unchanged. */
export function within(e: unknown, ...outer: PathElement[]): unknown {
  return isVmsError(e) ? e.within(...outer) : e;
}

function compileStep(name: string, spec: FieldSpec, since: number, exists: ExistsTest | undefined, mustExist: boolean): Step {
  const s = buildStep(name, spec, since, exists, mustExist);
  // One object shape for every step, so the struct walk's property reads stay monomorphic.
  return {
    name: s.name,
    since: s.since,
    exists: s.exists,
    mustExist: s.mustExist,
    hasState: s.hasState,
    save: s.save,
    load: s.load,
    zero: s.zero,
  };
}

function buildStep(name: string, spec: FieldSpec, since: number, exists: ExistsTest | undefined, mustExist: boolean): Step {
  const base = {
    name,
    since,
    // Stored with its parameter type erased; it receives this description's state.
    exists: exists as ((state: Obj, version: number) => boolean) | undefined,
    mustExist,
  };
  switch (spec.kind) {
    case 'scalar':
    case 'struct': {
      const c = codecOf(spec);
      return {
        ...base,
        hasState: true,
        save: (s, out) => c.put(out, name, s[name]),
        load: (s, inp, lim) => {
          s[name] = c.get(inp, name, s[name], lim);
        },
        zero: () => c.zero(),
      };
    }
    case 'array':
      return arrayStep(base, spec.length, codecOf(spec.elem), false);
    case 'pointers':
      return arrayStep(base, spec.length, codecOf(spec.elem), true);
    case 'varray':
      return varrayStep(base, spec.count, spec.multiply, codecOf(spec.elem));
    case 'buffer':
      return bufferStep(base, () => spec.size, spec.size);
    case 'vbuffer':
      return bufferStep(base, (s, at) => countFrom(s, spec.size, at) * spec.multiply, 0);
    case 'unused':
      return {
        ...base,
        hasState: false,
        save: (_s, out) => out.unused(name, spec.size),
        load: (_s, inp) => inp.unused(name, spec.size),
        zero: () => undefined,
      };
    case 'nullptr':
      return {
        ...base,
        hasState: false,
        save: (_s, out) => out.nullPointer(name),
        load: (_s, inp) => inp.nullPointer(name),
        zero: () => undefined,
      };
    case 'validate':
      // Presence is the test and mustExist is set: the struct walk does the checking.
      return { ...base, hasState: false, save: () => {}, load: () => {}, zero: () => undefined };
    case 'bitmap':
      return bitmapStep(base, spec.bits);
    case 'list':
      return listStep(base, planOf(spec.desc));
    case 'tree':
      return treeStep(base, spec.key === 'direct' ? undefined : planOf(spec.key), planOf(spec.value));
    case 'tmp':
      return tmpStep(base, planOf(spec.desc), spec.init as (p: Obj) => Obj, spec.apply as (t: Obj, p: Obj) => Obj);
  }
}

type StepBase = Pick<Step, 'name' | 'since' | 'exists' | 'mustExist'>;

// ---- element codecs ----------------------------------------------------------------------

function codecOf(spec: FieldSpec): Codec {
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

// ---- arrays ------------------------------------------------------------------------------

function arrayStep(base: StepBase, length: number, c: Codec, pointers: boolean): Step {
  const name = base.name;
  return {
    ...base,
    hasState: true,
    save: (s, out) => {
      const v = s[name];
      if (!Array.isArray(v) || v.length !== length) badValue(out, '', `an array of ${length} elements`, v);
      saveElements(out, name, v, length, c, pointers);
    },
    load: (s, inp, lim) => {
      s[name] = loadElements(inp, name, s[name], length, c, pointers, lim);
    },
    zero: () => zeros(length, c),
  };
}

function varrayStep(base: StepBase, count: string, multiply: number, c: Codec): Step {
  const name = base.name;
  return {
    ...base,
    hasState: true,
    save: (s, out) => {
      const n = countFrom(s, count, out.offset) * multiply;
      const v = s[name];
      if (!Array.isArray(v) || v.length !== n) {
        badValue(out, '', `an array of ${n} elements (${count} = ${String(s[count])}${multiply === 1 ? '' : ` x ${multiply}`})`, v);
      }
      saveElements(out, name, v, n, c, false);
    },
    load: (s, inp, lim) => {
      const n = countFrom(s, count, inp.offset) * multiply;
      limit(n, lim.maxElements, `${name} has ${n} elements`, inp.offset);
      s[name] = loadElements(inp, name, s[name], n, c, false, lim);
    },
    zero: () => [],
  };
}

function saveElements(out: OutputVisitor, name: string, v: readonly unknown[], n: number, c: Codec, pointers: boolean): void {
  out.startArray(name, n);
  let i = 0;
  try {
    for (; i < n; i++) {
      const e = v[i];
      if (pointers && e === null) out.nullPointer(name);
      else c.put(out, name, e);
    }
  } catch (e) {
    throw within(e, i);
  }
  out.endArray();
}

function loadElements(
  inp: InputVisitor,
  name: string,
  prev: unknown,
  n: number,
  c: Codec,
  pointers: boolean,
  lim: LoadLimits,
): unknown[] {
  const old: readonly unknown[] = Array.isArray(prev) ? prev : [];
  const result: unknown[] = [];
  inp.startArray(name, n);
  let i = 0;
  try {
    for (; i < n; i++) {
      const p = old[i];
      // QEMU decides by the receiver's pointer, not the wire: a NULL slot expects the marker.
      if (pointers && p === null) {
        inp.nullPointer(name);
        result.push(null);
      } else {
        result.push(c.get(inp, name, p, lim));
      }
    }
  } catch (e) {
    throw within(e, i);
  }
  inp.endArray();
  return result;
}

function zeros(n: number, c: Codec): unknown[] {
  const a: unknown[] = [];
  for (let i = 0; i < n; i++) a.push(c.zero());
  return a;
}

// ---- buffers and bitmaps -----------------------------------------------------------------

function bufferStep(base: StepBase, sizeOf: (s: Obj, at: number) => number, zeroSize: number): Step {
  const name = base.name;
  return {
    ...base,
    hasState: true,
    save: (s, out) => {
      const n = sizeOf(s, out.offset);
      const v = s[name];
      if (!(v instanceof Uint8Array) || v.length !== n) badValue(out, '', `a Uint8Array of ${n} bytes`, v);
      out.buffer(name, v);
    },
    load: (s, inp, lim) => {
      const n = sizeOf(s, inp.offset);
      limit(n, lim.maxBytes, `${name} has ${n} bytes`, inp.offset);
      // The visitor's view is only valid until the next read: keep a copy.
      s[name] = inp.buffer(name, n).slice();
    },
    zero: () => new Uint8Array(zeroSize),
  };
}

function bitmapStep(base: StepBase, bits: number | string): Step {
  const name = base.name;
  const wordsOf = (s: Obj, at: number): number => Math.ceil((typeof bits === 'number' ? bits : countFrom(s, bits, at)) / 64);
  return {
    ...base,
    hasState: true,
    save: (s, out) => {
      const n = wordsOf(s, out.offset);
      const v = s[name];
      if (!(v instanceof BigUint64Array) || v.length !== n) badValue(out, '', `a BigUint64Array of ${n} words`, v);
      out.startArray(name, n);
      for (let i = 0; i < n; i++) out.uint64(name, v[i]!);
      out.endArray();
    },
    load: (s, inp, lim) => {
      const n = wordsOf(s, inp.offset);
      limit(n * 8, lim.maxBytes, `${name} has ${n} words`, inp.offset);
      const words = new BigUint64Array(n);
      inp.startArray(name, n);
      for (let i = 0; i < n; i++) words[i] = inp.uint64(name);
      inp.endArray();
      s[name] = words;
    },
    zero: () => new BigUint64Array(typeof bits === 'number' ? Math.ceil(bits / 64) : 0),
  };
}

// ---- lists, trees, tmp -------------------------------------------------------------------

function listStep(base: StepBase, elem: Plan): Step {
  const name = base.name;
  const version = elem.desc.version;
  return {
    ...base,
    hasState: true,
    save: (s, out) => {
      const v = s[name];
      if (!Array.isArray(v)) badValue(out, '', 'an array of list elements', v);
      out.startList(name);
      let i = 0;
      try {
        for (; i < v.length; i++) {
          out.listElement();
          saveStruct(elem, asObj(v[i], name, out.offset, elem.desc.name), out, version, name);
        }
      } catch (e) {
        throw within(e, i);
      }
      out.endList();
    },
    load: (s, inp, lim) => {
      const result: Obj[] = [];
      inp.startList(name);
      try {
        while (inp.listHasNext()) {
          limit(result.length + 1, lim.maxElements, `${name} has more elements`, inp.offset);
          result.push(loadStruct(elem, inp, zeroOf(elem), version, lim, name));
        }
      } catch (e) {
        throw within(e, result.length);
      }
      inp.endList();
      s[name] = result;
    },
    zero: () => [],
  };
}

function treeStep(base: StepBase, key: Plan | undefined, value: Plan): Step {
  const name = base.name;
  return {
    ...base,
    hasState: true,
    save: (s, out) => {
      const v = s[name];
      if (!Array.isArray(v)) badValue(out, '', 'an array of [key, value] entries', v);
      out.startTree(name, v.length);
      let i = 0;
      try {
        for (; i < v.length; i++) {
          const entry: unknown = v[i];
          if (!Array.isArray(entry) || entry.length !== 2) badValue(out, '', 'a [key, value] entry', entry);
          out.treeNode();
          if (key === undefined) {
            const k: unknown = entry[0];
            if (typeof k !== 'bigint' || BigInt.asUintN(64, k) !== k) badValue(out, 'key', 'a uint64 key as a bigint', k);
            out.uint64('key', k);
          } else {
            saveStruct(key, asObj(entry[0], 'key', out.offset, key.desc.name), out, key.desc.version, 'key');
          }
          saveStruct(value, asObj(entry[1], 'value', out.offset, value.desc.name), out, value.desc.version, 'value');
        }
      } catch (e) {
        throw within(e, i);
      }
      out.endTree();
    },
    load: (s, inp, lim) => {
      const countAt = inp.offset;
      const count = inp.startTree(name);
      limit(count, lim.maxElements, `${name} has ${count} nodes`, countAt);
      const result: [unknown, Obj][] = [];
      try {
        while (inp.treeHasNext()) {
          if (result.length === count) {
            throw new VmsError('E_FORMAT', `${name} has more nodes than its count`, {
              offset: inp.offset,
              expected: `${count} nodes`,
              actual: 'another node',
            });
          }
          const k = key === undefined ? inp.uint64('key') : loadStruct(key, inp, zeroOf(key), key.desc.version, lim, 'key');
          result.push([k, loadStruct(value, inp, zeroOf(value), value.desc.version, lim, 'value')]);
        }
      } catch (e) {
        throw within(e, result.length);
      }
      if (result.length !== count) {
        throw new VmsError('E_FORMAT', `${name} has fewer nodes than its count`, {
          offset: inp.offset,
          expected: `${count} nodes`,
          actual: `${result.length}`,
        });
      }
      inp.endTree();
      s[name] = result;
    },
    zero: () => [],
  };
}

function tmpStep(base: StepBase, tmp: Plan, init: (p: Obj) => Obj, apply: (t: Obj, p: Obj) => Obj): Step {
  const name = base.name;
  const version = tmp.desc.version;
  return {
    ...base,
    hasState: false,
    save: (s, out) => saveStruct(tmp, init(s), out, version, name),
    load: (s, inp, lim) => {
      const loaded = loadStruct(tmp, inp, init({ ...s }), version, lim, name);
      Object.assign(s, apply(loaded, { ...s }));
    },
    zero: () => undefined,
  };
}

// ---- helpers -----------------------------------------------------------------------------

/** Reads an element count or byte size from an earlier integer field. */
function countFrom(s: Obj, field: string, at: number): number {
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

function limit(n: number, max: number, what: string, at: number): void {
  if (n > max) throw new VmsError('E_LIMIT', `${what}, more than the limit`, { offset: at, expected: `at most ${max}`, actual: String(n) });
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asObj(v: unknown, name: string, at: number, vmsdName: string): Obj {
  if (!isObj(v)) throw new VmsError('E_USAGE', `${name} is not a ${vmsdName} object`, { offset: at, actual: describe(v) });
  return v;
}

function badValue(out: OutputVisitor, name: string, expected: string, v: unknown): never {
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
