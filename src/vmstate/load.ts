/** Loading a state through any input visitor. */
import { VmsError } from '../errors.js';
import type { InputVisitor } from '../format/visitor.js';
import type { AnyVmsd, StateOf } from './infer.js';
import { planOf, within } from './plan.js';
import type { LoadLimits, Obj } from './plan.js';
import { loadStruct, zeroOf } from './struct.js';

/** Most elements one array, list or tree may have on load. */
export const DEFAULT_MAX_ELEMENTS = 1 << 24;
/** Most bytes one buffer or bitmap may have on load (the reader's default maxBuffer). */
export const DEFAULT_MAX_BYTES = 256 << 20;

export interface LoadOptions {
  /** Most elements in one array, list or tree. Defaults to DEFAULT_MAX_ELEMENTS (16 Mi). */
  readonly maxElements?: number;
  /** Most bytes in one buffer or bitmap. Defaults to DEFAULT_MAX_BYTES (256 MiB). */
  readonly maxBytes?: number;
}

/**
 * Loads `desc` saved with `version` (the section or subsection header's; defaults to the
 * description's own) and returns a NEW state: fields absent from the stream keep `target`'s
 * values, as in QEMU. `target` is never changed, so a failed load applies nothing, and a
 * load that ran out of input (NEED_MORE) can simply run again.
 *
 * Throws VmsError: E_VERSION (too new / too old), E_TRUNCATED, E_UNKNOWN (subsection),
 * E_MISMATCH (equal / le fields), E_VALIDATION (must-exist, validate), E_FORMAT, E_LIMIT.
 */
export function load<D extends AnyVmsd>(
  desc: D,
  input: InputVisitor,
  target: StateOf<D>,
  version: number = desc.version,
  options: LoadOptions = {},
): StateOf<D> {
  const t: unknown = target;
  if (typeof t !== 'object' || t === null) {
    throw new VmsError('E_USAGE', `load target of ${desc.name} is not an object`, { path: [desc.name], actual: String(t) });
  }
  const limits: LoadLimits = {
    maxElements: options.maxElements ?? DEFAULT_MAX_ELEMENTS,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
  };
  try {
    // The interpreter builds exactly the fields of `desc` on a copy of `target`.
    return loadStruct(planOf(desc), input, t as Obj, version, limits, desc.name) as StateOf<D>;
  } catch (e) {
    throw within(e, desc.name);
  }
}

/** A fresh all-zero state of `desc` (timers -1n, fixed arrays and buffers sized), a handy load target. */
export function emptyState<D extends AnyVmsd>(desc: D): StateOf<D> {
  // Built from the description's own fields, so it has the inferred shape.
  return zeroOf(planOf(desc)) as StateOf<D>;
}
