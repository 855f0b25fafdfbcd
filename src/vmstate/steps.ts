/**
 * Steps for fields that are more than one element: arrays (fixed, variable, of pointers),
 * buffers, bitmaps, lists, trees and tmp structs. Each returns the save/load closures of one
 * field with its layout decided once.
 */
import { VmsError } from '../errors.js';
import type { InputVisitor, OutputVisitor } from '../format/visitor.js';
import type { Codec } from './codecs.js';
import { asObj, badValue, countFrom, limit } from './codecs.js';
import { within } from './plan.js';
import type { LoadLimits, Obj, Plan, Step, StepBase } from './plan.js';
import { loadStruct, saveStruct, zeroOf } from './struct.js';

/** VMS_ARRAY (and VMS_ARRAY_OF_POINTER when `pointers`): `length` elements, no count on the wire. */
export function arrayStep(base: StepBase, length: number, c: Codec, pointers: boolean): Step {
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

/** VMS_VARRAY_*: the element count comes from an earlier field, times `multiply`. */
export function varrayStep(base: StepBase, count: string, multiply: number, c: Codec): Step {
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

/** VMSTATE_BUFFER / VBUFFER: raw bytes, their size fixed or from an earlier field. */
export function bufferStep(base: StepBase, sizeOf: (s: Obj, at: number) => number, zeroSize: number): Step {
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

/** VMSTATE_BITMAP: ceil(bits / 64) be64 words. */
export function bitmapStep(base: StepBase, bits: number | string): Step {
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

/** QTAILQ / QLIST: `01` + element for each, then `00`; elements load into fresh zero structs. */
export function listStep(base: StepBase, elem: Plan): Step {
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

/** GTree: be32 node count, `01` key value per node, `00`; the count must match the nodes. */
export function treeStep(base: StepBase, key: Plan | undefined, value: Plan): Step {
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

/** VMSTATE_WITH_TMP: a nested description over a temporary struct mapped from and to the parent. */
export function tmpStep(base: StepBase, tmp: Plan, init: (p: Obj) => Obj, apply: (t: Obj, p: Obj) => Obj): Step {
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
