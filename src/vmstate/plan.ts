/**
 * Compiles a description once (WeakMap) into a plan: one step per field, each a pair of
 * closures that save/load that field with its layout already decided, so the interpreter
 * does no per-value switching. Element codecs are in codecs.ts, multi-element steps in
 * steps.ts, and the struct-level walk (hooks, presence, subsections, paths) in struct.ts.
 */
import { isVmsError } from '../errors.js';
import type { PathElement } from '../errors.js';
import type { InputVisitor, OutputVisitor } from '../format/visitor.js';
import type { ExistsTest, FieldSpec } from './field.js';
import type { AnyVmsd } from './infer.js';
import { codecOf, countFrom } from './codecs.js';
import { arrayStep, bitmapStep, bufferStep, listStep, tmpStep, treeStep, varrayStep } from './steps.js';

/** A struct's state at run time. */
export type Obj = Record<string, unknown>;

/** Limits checked before a count or size from the stream is trusted. */
export interface LoadLimits {
  /** Most elements in one array, list or tree. */
  readonly maxElements: number;
  /** Most bytes in one buffer or bitmap. */
  readonly maxBytes: number;
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

export type StepBase = Pick<Step, 'name' | 'since' | 'exists' | 'mustExist'>;
