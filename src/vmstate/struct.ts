/**
 * The struct-level walk of the VMState interpreter (spec §2.4, §2.5): hooks, field presence,
 * subsections. Load never changes its target: it copies each struct it enters and returns the
 * copy, so a failed load applies nothing.
 */
import { VmsError } from '../errors.js';
import type { InputVisitor, OutputVisitor } from '../format/visitor.js';
import { within } from './plan.js';
import type { LoadLimits, Obj, Plan, Step } from './plan.js';

/** Presence (spec §2.4): an existence test alone decides; otherwise `since <= version`. */
function present(step: Step, state: Obj, version: number): boolean {
  const exists = step.exists;
  return exists === undefined ? step.since <= version : exists(state, version);
}

function mustExistFailed(plan: Plan, step: Step, version: number, at: number, saving: boolean): never {
  throw new VmsError('E_VALIDATION', `${saving ? 'output' : 'input'} validation failed: ${plan.desc.name}/${step.name}`, {
    offset: at,
    expected: `${step.name} present (version ${version})`,
    actual: 'absent',
  });
}

/** Saves `state` as `plan`'s struct with `version` (fields, then needed subsections). */
export function saveStruct(plan: Plan, state: Obj, out: OutputVisitor, version: number, name: string): void {
  const s = plan.hooks.preSave !== undefined ? plan.hooks.preSave(state) : state;
  out.startStruct(name, { vmsdName: plan.desc.name, version });
  const steps = plan.steps;
  let i = 0;
  try {
    for (; i < steps.length; i++) {
      const step = steps[i]!;
      if (present(step, s, version)) step.save(s, out);
      else if (step.mustExist) mustExistFailed(plan, step, version, out.offset, true);
    }
  } catch (e) {
    throw i < steps.length ? within(e, steps[i]!.name) : e;
  }
  for (const sub of plan.subsections) {
    const needed = sub.hooks.needed;
    if (needed !== undefined && !needed(s)) continue;
    try {
      out.startSubsection(sub.desc.name, sub.desc.version);
      saveStruct(sub, s, out, sub.desc.version, sub.desc.name);
      out.endSubsection();
    } catch (e) {
      throw within(e, sub.desc.name);
    }
  }
  out.endStruct();
}

/** Checks an incoming version against the description (QEMU "too new" / "too old"). */
export function checkVersion(plan: Plan, version: number, at: number): void {
  const d = plan.desc;
  if (version > d.version) {
    throw new VmsError('E_VERSION', `${d.name}: incoming version ${version} is too new`, {
      offset: at,
      expected: `at most ${d.version}`,
      actual: String(version),
    });
  }
  if (version < d.minVersion) {
    throw new VmsError('E_VERSION', `${d.name}: incoming version ${version} is too old`, {
      offset: at,
      expected: `at least ${d.minVersion}`,
      actual: String(version),
    });
  }
}

/** Loads `plan`'s struct saved with `version` and returns a new state built on `target`. */
export function loadStruct(plan: Plan, inp: InputVisitor, target: Obj, version: number, limits: LoadLimits, name: string): Obj {
  checkVersion(plan, version, inp.offset);
  let s: Obj = { ...target };
  if (plan.hooks.preLoad !== undefined) s = plan.hooks.preLoad(s) ?? s;
  inp.startStruct(name, { vmsdName: plan.desc.name, version });
  const steps = plan.steps;
  let i = 0;
  try {
    for (; i < steps.length; i++) {
      const step = steps[i]!;
      if (present(step, s, version)) step.load(s, inp, limits);
      else if (step.mustExist) mustExistFailed(plan, step, version, inp.offset, false);
    }
  } catch (e) {
    throw i < steps.length ? within(e, steps[i]!.name) : e;
  }
  s = loadSubsections(plan, inp, s, limits);
  inp.endStruct();
  if (plan.hooks.postLoad !== undefined) s = plan.hooks.postLoad(s, version) ?? s;
  return s;
}

/**
 * QEMU's vmstate_subsection_load: while the next item is a subsection named with our prefix,
 * load it (in stream order); an unknown name with our prefix is fatal, since its bytes
 * cannot be skipped.
 */
function loadSubsections(plan: Plan, inp: InputVisitor, state: Obj, limits: LoadLimits): Obj {
  let s = state;
  for (;;) {
    const at = inp.offset;
    const header = inp.nextSubsection(plan.desc.name);
    if (header === undefined) return s;
    const sub = plan.subsectionByName.get(header.name);
    if (sub === undefined) {
      const known = [...plan.subsectionByName.keys()];
      throw new VmsError('E_UNKNOWN', `unknown subsection ${header.name}`, {
        offset: at,
        path: [header.name],
        expected: known.length === 0 ? 'no subsections' : `one of ${known.join(', ')}`,
        actual: header.name,
      });
    }
    // QEMU keeps the subsection version in a uint8_t: 256 arrives as 0.
    const version = header.version & 0xff;
    try {
      s = loadStruct(sub, inp, s, version, limits, header.name);
      inp.endSubsection();
    } catch (e) {
      throw within(e, header.name);
    }
  }
}

/**
 * A fresh all-zero state for `plan` (numbers 0, bigints 0n, timers -1n, fixed arrays and
 * buffers of their size, variable ones empty), like QEMU's zeroed allocation of a new list
 * element or tree node. Subsection fields are included.
 */
export function zeroOf(plan: Plan): Obj {
  const s: Obj = {};
  fillZero(plan, s);
  return s;
}

function fillZero(plan: Plan, s: Obj): void {
  for (const step of plan.steps) if (step.hasState) s[step.name] = step.zero();
  for (const sub of plan.subsections) fillZero(sub, s);
}
