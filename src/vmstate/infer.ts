/** The description type and the state types inferred from it (zod-style phantom types). */
import type { Field, NoState } from './field.js';

/** Field name → field, in wire order (integer-like names are refused: they would reorder). */
export type FieldMap = { readonly [name: string]: Field<unknown> };

export type Prettify<T> = { [K in keyof T]: T[K] } & {};

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Keys of fields that carry state (not unused/validate/tmp/null markers). */
type StateKeys<F extends FieldMap> = { [K in keyof F]: F[K] extends Field<NoState> ? never : K }[keyof F];

/** The state carried by a field map. */
export type FieldsState<F extends FieldMap> = { -readonly [K in StateKeys<F>]: F[K]['__value'] };

/** Subsections share their parent's state (same opaque in QEMU), so their fields merge in. */
export type SubsectionsState<S extends readonly AnyVmsd[]> = UnionToIntersection<StateOf<S[number]>>;

/** Hooks of a description; `S` is the state type (the description's own fields and subsections). */
export interface VmsdHooks<S> {
  /** Returns the state to save instead of `state` (QEMU pre_save, without mutating the source). */
  readonly preSave?: (state: S) => S;
  /** Runs on the fresh copy before fields load (QEMU pre_load); may return a replacement. */
  readonly preLoad?: (state: S) => S | void;
  /** Runs after fields and subsections loaded (QEMU post_load); may return a replacement. */
  readonly postLoad?: (state: S, version: number) => S | void;
  /** Subsections (and top-level sections) are sent only when this returns true. */
  readonly needed?: (state: S) => boolean;
}

/** Hooks with their state types erased (the interpreter passes each the matching state). */
export interface ErasedHooks {
  readonly preSave?: ((state: never) => unknown) | undefined;
  readonly preLoad?: ((state: never) => unknown) | undefined;
  readonly postLoad?: ((state: never, version: number) => unknown) | undefined;
  readonly needed?: ((state: never) => boolean) | undefined;
}

/** A VMState description: plain frozen data plus the phantom state type `S`. */
export interface Vmsd<F extends FieldMap = FieldMap, S = unknown> {
  readonly name: string;
  /** Version written in section/subsection headers; fields with `since` <= it are saved. */
  readonly version: number;
  /** Lowest incoming version accepted on load. */
  readonly minVersion: number;
  readonly fields: F;
  readonly subsections: readonly AnyVmsd[];
  readonly hooks: VmsdHooks<S>;
  /** Phantom: never present at run time. */
  readonly __state: S;
}

/** Any description, whatever its state type. */
export interface AnyVmsd {
  readonly name: string;
  readonly version: number;
  readonly minVersion: number;
  readonly fields: FieldMap;
  readonly subsections: readonly AnyVmsd[];
  readonly hooks: ErasedHooks;
  readonly __state: unknown;
}

/** The state type a description saves and loads. */
export type StateOf<D> = D extends { readonly __state: infer S } ? S : never;
