/**
 * QEMU's vmdesc description of what a save wrote (spec §1.7): per field its VMStateInfo type
 * name and the bytes written for one element, arrays compressed to element 0 when QEMU would,
 * nested structs, tmp and vstruct inlined, and only the subsections actually sent. The stream
 * layer wraps each result in a device entry and serialises it with QEMU's separators.
 */
import type { OutputVisitor, StructInfo } from '../format/visitor.js';
import type { Field, FieldSpec, ScalarType } from './field.js';
import type { AnyVmsd, StateOf } from './infer.js';
import { planOf } from './plan.js';
import type { Obj, Plan } from './plan.js';
import { saveStruct } from './struct.js';

/** One described field (key order as QEMU writes them). */
export interface VmdescFieldJson {
  name: string;
  array_len?: number;
  index?: number;
  type: string;
  struct?: VmdescStructJson;
  vmsd_name?: string;
  version?: number;
  fields?: VmdescFieldJson[];
  size: number;
}

/** A described struct or subsection. */
export interface VmdescStructJson {
  vmsd_name: string;
  version: number;
  fields: VmdescFieldJson[];
  subsections?: VmdescStructJson[];
}

/** QEMU VMStateInfo names (`uint64 equal` is called "int64 equal" in QEMU: a name quirk). */
function infoName(type: ScalarType, equal: boolean): string {
  if (type === 'int32le') return 'int32 le';
  if (type === 'timer' || type === 'string' || type === 'bool') return type;
  if (!equal) return type;
  return type === 'uint64' ? 'int64 equal' : `${type} equal`;
}

/** Describes how `state` saves as `desc` (the same choices `save` makes). */
export function describeSave<D extends AnyVmsd>(desc: D, state: StateOf<D>): VmdescStructJson {
  return describeStruct(planOf(desc), state as Obj, desc.version);
}

function describeStruct(plan: Plan, state: Obj, version: number): VmdescStructJson {
  const s = plan.hooks.preSave !== undefined ? plan.hooks.preSave(state) : state;
  const fields: VmdescFieldJson[] = [];
  for (const [name, field] of Object.entries(plan.desc.fields)) {
    const present = field.exists !== undefined ? field.exists(s as never, version) : field.since <= version;
    if (present) describeField(plan, name, field, s, fields);
  }
  const out: VmdescStructJson = { vmsd_name: plan.desc.name, version, fields };
  const subs: VmdescStructJson[] = [];
  for (const sub of plan.subsections) {
    if (sub.hooks.needed !== undefined && !sub.hooks.needed(s)) continue;
    subs.push(describeStruct(sub, s, sub.desc.version));
  }
  if (subs.length > 0) out.subsections = subs;
  return out;
}

function describeField(plan: Plan, name: string, field: Field<unknown>, s: Obj, out: VmdescFieldJson[]): void {
  const spec = field.spec;
  const v = s[name];
  switch (spec.kind) {
    case 'scalar':
    case 'struct':
      out.push(element(name, spec, v, {}));
      return;
    case 'array':
    case 'varray':
    case 'pointers': {
      const items = Array.isArray(v) ? v : [];
      const n = items.length;
      if (n === 0) return; // QEMU describes elements only
      if (field.exists === undefined && compressible(spec.elem)) {
        out.push(element(name, spec.elem, items[0], n > 1 ? { array_len: n } : {}));
      } else {
        for (let i = 0; i < n; i++) out.push(element(name, spec.elem, items[i], n > 1 ? { index: i } : {}));
      }
      return;
    }
    case 'buffer':
      out.push({ name, type: 'buffer', size: spec.size });
      return;
    case 'vbuffer':
      out.push({ name, type: 'buffer', size: v instanceof Uint8Array ? v.length : 0 });
      return;
    case 'unused':
      out.push({ name, type: 'unused_buffer', size: spec.size });
      return;
    case 'nullptr':
      out.push({ name, type: 'uint64', size: 1 }); // QEMU's nullptr info is named "uint64"
      return;
    case 'bitmap':
      out.push({ name, type: 'bitmap', size: v instanceof BigUint64Array ? v.length * 8 : 0 });
      return;
    case 'list':
    case 'tree':
      // The field's own compiled step, driven into a byte counter.
      const step = plan.steps.find((st) => st.name === name);
      out.push({ name, type: spec.kind === 'list' ? 'qtailq' : 'gtree', size: measure((o) => step?.save(s, o)) });
      return;
    case 'tmp': {
      const tmp = planOf(spec.desc);
      const t = (spec.init as (p: Obj) => Obj)(s);
      const inner = describeStruct(tmp, t, tmp.desc.version);
      const size = measure((o) => saveStruct(tmp, t, o, tmp.desc.version, name));
      out.push({ name, type: 'tmp', vmsd_name: inner.vmsd_name, version: inner.version, fields: inner.fields, size });
      return;
    }
    case 'validate':
      return; // no bytes, no element: QEMU does not describe it
  }
}

/** One element of a field: a scalar or a struct (vstruct inlined, struct nested). */
function element(name: string, spec: FieldSpec, v: unknown, where: { array_len?: number; index?: number }): VmdescFieldJson {
  if (v === null) return { name, ...where, type: spec.kind === 'scalar' ? infoName(spec.type, spec.equal) : 'struct', size: 1 };
  if (spec.kind === 'struct') {
    const plan = planOf(spec.desc);
    const version = spec.version ?? spec.desc.version;
    const inner = describeStruct(plan, v as Obj, version);
    const size = measure((o) => saveStruct(plan, v as Obj, o, version, name));
    if (spec.version !== undefined) {
      return { name, ...where, type: 'vstruct', vmsd_name: inner.vmsd_name, version: inner.version, fields: inner.fields, size };
    }
    return { name, ...where, type: 'struct', struct: inner, size };
  }
  if (spec.kind !== 'scalar') return { name, ...where, type: spec.kind, size: 0 };
  const size = spec.type === 'string' ? 1 + (typeof v === 'string' ? v.length : 0) : SCALAR_SIZE[spec.type];
  return { name, ...where, type: infoName(spec.type, spec.equal), size };
}

const SCALAR_SIZE: Record<Exclude<ScalarType, 'string'>, number> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int32le: 4,
  int64: 8,
  uint64: 8,
  timer: 8,
};

/** QEMU compresses an array to element 0 when elements cannot differ in layout. */
function compressible(elem: FieldSpec): boolean {
  if (elem.kind === 'scalar') return elem.type !== 'string';
  if (elem.kind !== 'struct') return false;
  const d = elem.desc;
  if (d.subsections.length > 0) return false;
  return Object.values(d.fields).every((f) => f.exists === undefined && (f.spec.kind === 'scalar' ? f.spec.type !== 'string' : f.spec.kind === 'array' || f.spec.kind === 'buffer' || f.spec.kind === 'unused' || (f.spec.kind === 'struct' && compressible(f.spec))));
}

/** Bytes `write` puts through a visitor (sizes as QEMU measures them: bytes actually written). */
function measure(write: (o: OutputVisitor) => void): number {
  const c = new ByteCounter();
  write(c);
  return c.offset;
}

/** An OutputVisitor that only counts the bytes QEMU's binary encoding would write. */
class ByteCounter implements OutputVisitor {
  offset = 0;
  startStruct(_n: string, _i: StructInfo): void {}
  endStruct(): void {}
  startArray(): void {}
  endArray(): void {}
  startList(): void {}
  listElement(): void {
    this.offset += 1;
  }
  endList(): void {
    this.offset += 1;
  }
  startTree(): void {
    this.offset += 4;
  }
  treeNode(): void {
    this.offset += 1;
  }
  endTree(): void {
    this.offset += 1;
  }
  startSubsection(name: string): void {
    this.offset += 1 + 1 + name.length + 4;
  }
  endSubsection(): void {}
  bool(): void {
    this.offset += 1;
  }
  int8(): void {
    this.offset += 1;
  }
  int16(): void {
    this.offset += 2;
  }
  int32(): void {
    this.offset += 4;
  }
  int64(): void {
    this.offset += 8;
  }
  uint8(): void {
    this.offset += 1;
  }
  uint16(): void {
    this.offset += 2;
  }
  uint32(): void {
    this.offset += 4;
  }
  uint64(): void {
    this.offset += 8;
  }
  buffer(_n: string, b: Uint8Array): void {
    this.offset += b.length;
  }
  string(_n: string, s: string): void {
    this.offset += 1 + s.length;
  }
  unused(_n: string, size: number): void {
    this.offset += size;
  }
  nullPointer(): void {
    this.offset += 1;
  }
  opaque(_n: string, _t: string, b: Uint8Array): void {
    this.offset += b.length;
  }
}
