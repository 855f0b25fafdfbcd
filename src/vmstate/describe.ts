/** The `vmstate()` builder: checks a description once and freezes it. */
import { VmsError } from '../errors.js';
import type { FieldSpec } from './field.js';
import type { AnyVmsd, FieldMap, FieldsState, Prettify, StateOf, SubsectionsState, Vmsd, VmsdHooks } from './infer.js';

/** What `vmstate()` takes. */
export interface VmsdInput<F extends FieldMap, Subs extends readonly AnyVmsd[], S> extends VmsdHooks<S> {
  /** VMSD name; a subsection's name must start with its parent's ("cpu/msr"). At most 255 bytes. */
  readonly name: string;
  /** Defaults to 1. */
  readonly version?: number;
  /** Defaults to `version`. */
  readonly minVersion?: number;
  readonly fields: F;
  readonly subsections?: Subs;
}

/** Integer kinds a VARRAY count, VBUFFER size or bitmap length may live in. */
const COUNT_TYPES = new Set(['uint8', 'uint16', 'uint32', 'int32']);

/**
 * Describes a struct (QEMU VMStateDescription). The state type is inferred from the fields
 * and subsections: `StateOf<typeof d>`. Throws E_DESCRIPTION for a description QEMU's loader
 * could not use (counts after their arrays, subsection names without the parent prefix...).
 */
export function vmstate<const F extends FieldMap, const Subs extends readonly AnyVmsd[] = []>(
  def: VmsdInput<F, Subs, Prettify<FieldsState<F> & SubsectionsState<Subs>>>,
): Vmsd<F, Prettify<FieldsState<F> & SubsectionsState<Subs>>> {
  const version = def.version ?? 1;
  const minVersion = def.minVersion ?? version;
  const fail = (reason: string, path: (string | number)[] = []): never => {
    throw new VmsError('E_DESCRIPTION', reason, { path: [String(def.name), ...path] });
  };
  if (typeof def.name !== 'string' || def.name.length === 0 || def.name.length > 255) {
    fail('a description needs a name of 1..255 characters');
  }
  if (!isVersion(version) || !isVersion(minVersion) || minVersion > version) {
    fail(`bad versions: version ${version}, minVersion ${minVersion}`);
  }
  const seen = new Map<string, FieldSpec>();
  for (const [name, field] of Object.entries(def.fields)) {
    if (name === '__proto__' || /^(0|[1-9]\d*)$/.test(name)) fail(`field name ${JSON.stringify(name)} is not allowed`, [name]);
    if (!isVersion(field.since)) fail(`bad since ${field.since}`, [name]);
    checkSpec(field.spec, seen, (r) => fail(r, [name]));
    seen.set(name, field.spec);
  }
  const subs = def.subsections ?? [];
  const subNames = new Set<string>();
  for (const sub of subs) {
    if (!sub.name.startsWith(def.name) || sub.name.length <= def.name.length) {
      fail(`subsection ${sub.name} must be named ${def.name}<suffix> so the loader can find it`);
    }
    if (subNames.has(sub.name)) fail(`subsection ${sub.name} is listed twice`);
    subNames.add(sub.name);
  }
  const hooks: VmsdHooks<Prettify<FieldsState<F> & SubsectionsState<Subs>>> = Object.freeze({
    preSave: def.preSave,
    preLoad: def.preLoad,
    postLoad: def.postLoad,
    needed: def.needed,
  });
  const out = {
    name: def.name,
    version,
    minVersion,
    fields: Object.freeze({ ...def.fields }),
    subsections: Object.freeze([...subs]),
    hooks,
  };
  // Phantom cast: `__state` exists only in the type.
  return Object.freeze(out) as unknown as Vmsd<F, Prettify<FieldsState<F> & SubsectionsState<Subs>>>;
}

function isVersion(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function checkSpec(spec: FieldSpec, earlier: ReadonlyMap<string, FieldSpec>, fail: (reason: string) => never): void {
  const countField = (name: string, what: string): void => {
    const f = earlier.get(name);
    if (f === undefined) fail(`${what} field ${name} must come earlier in the same description`);
    if (f.kind !== 'scalar' || !COUNT_TYPES.has(f.type)) fail(`${what} field ${name} must be uint8, uint16, uint32 or int32`);
  };
  const size = (n: number, what: string): void => {
    if (!Number.isInteger(n) || n < 0) fail(`${what} must be a non-negative integer, not ${n}`);
  };
  switch (spec.kind) {
    case 'array':
    case 'pointers':
      size(spec.length, 'array length');
      checkElement(spec.elem, fail);
      return;
    case 'varray':
      countField(spec.count, 'count');
      size(spec.multiply, 'multiply');
      checkElement(spec.elem, fail);
      return;
    case 'buffer':
    case 'unused':
      size(spec.size, 'size');
      return;
    case 'vbuffer':
      countField(spec.size, 'size');
      size(spec.multiply, 'multiply');
      return;
    case 'bitmap':
      if (typeof spec.bits === 'string') countField(spec.bits, 'bit count');
      else size(spec.bits, 'bit count');
      return;
    case 'struct':
      if (spec.version !== undefined && !isVersion(spec.version)) fail(`bad vstruct version ${spec.version}`);
      return;
    default:
      return;
  }
}

function checkElement(elem: FieldSpec, fail: (reason: string) => never): void {
  if (elem.kind !== 'scalar' && elem.kind !== 'struct') fail(`array elements must be scalars or structs, not ${elem.kind}`);
}

/** Mutual assignability, so a renamed, retyped, missing or extra field is a compile error. */
type SameState<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * Checks at compile time that a description carries exactly the state type `S` (the role of
 * QEMU's type_check macros): `const d = describes<MyDevice>()(vmstate({...}))`. A field whose
 * name or type differs from `S` breaks the build, not a migration.
 */
export function describes<S>(): <D extends AnyVmsd>(
  desc: D & (SameState<StateOf<D>, S> extends true ? unknown : { readonly stateDiffersFrom: S; readonly described: StateOf<D> }),
) => D {
  return (desc) => desc;
}
