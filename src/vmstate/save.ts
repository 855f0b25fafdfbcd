/** Saving a state through any output visitor. */
import { VmsError } from '../errors.js';
import type { OutputVisitor } from '../format/visitor.js';
import type { AnyVmsd, StateOf } from './infer.js';
import { planOf, within } from './plan.js';
import type { Obj } from './plan.js';
import { saveStruct } from './struct.js';

/**
 * Saves `state` as `desc` with its current version: fields present at that version, then
 * each subsection whose `needed` is true (spec §2.4, §2.5). The section header is the
 * stream layer's job. Never changes `state` (preSave returns derived data). Errors carry
 * the path `desc.field[index].sub`.
 */
export function save<D extends AnyVmsd>(desc: D, state: StateOf<D>, out: OutputVisitor): void {
  const s: unknown = state;
  if (typeof s !== 'object' || s === null) {
    throw new VmsError('E_USAGE', `state of ${desc.name} is not an object`, { path: [desc.name], actual: String(s) });
  }
  try {
    saveStruct(planOf(desc), s as Obj, out, desc.version, desc.name);
  } catch (e) {
    throw within(e, desc.name);
  }
}

/** True when a section (or subsection) of `desc` should be sent for `state` (QEMU `needed`). */
export function isNeeded<D extends AnyVmsd>(desc: D, state: StateOf<D>): boolean {
  const needed = planOf(desc).hooks.needed;
  return needed === undefined || needed(state as Obj);
}
