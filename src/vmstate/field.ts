/**
 * Field builders (QEMU's VMSTATE_* macros as data). Each returns a frozen plain object whose
 * phantom `__value` type is the state value it carries, so a description's state type can be
 * inferred (see infer.ts). Fields that carry no state (unused bytes, NULL markers, validate,
 * tmp) have the value type NoState and are left out of the state type.
 */
import type { AnyVmsd, StateOf } from './infer.js';

/** Wire types of single values (QEMU VMStateInfo names in vmdesc are listed in vmdesc.ts). */
export type ScalarType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  /** be32 that must satisfy 0 <= v <= the receiver's current value (QEMU "int32 le"). */
  | 'int32le'
  /** be64 expiry in ns, -1 = not armed (QEMU "timer"). */
  | 'timer'
  /** u8 length + bytes, latin1. */
  | 'string';

/**
 * A field's presence test (QEMU field_exists): given the state (on load: as loaded so far)
 * and the stream version, true when the field is on the wire. Declare the parameter with
 * the state shape you need; the interpreter passes the whole struct state.
 */
export type ExistsTest = (state: never, version: number) => boolean;

/** Presence options common to all fields (spec §2.4). */
export interface Presence {
  /** First version that has this field (QEMU `_V` macros). Defaults to 0. */
  readonly since?: number;
  /** Presence test; when given it alone decides and `since` is ignored (QEMU `_TEST`). */
  readonly exists?: ExistsTest;
  /** Fail with E_VALIDATION when the field is absent (QEMU VMS_MUST_EXIST). Defaults to false. */
  readonly mustExist?: boolean;
}

/** Options of integer fields. */
export interface IntOptions extends Presence {
  /** On load, the value read must equal the receiver's current value (QEMU `_EQUAL`). */
  readonly equal?: boolean;
}

/** Value type of fields that carry no state (a brand; no value has it). */
export interface NoState {
  readonly __vmstreamNoState: never;
}

/** How a field is laid out; the interpreter switches on `kind` once, when compiling. */
export type FieldSpec =
  | { readonly kind: 'scalar'; readonly type: ScalarType; readonly equal: boolean }
  /** A nested struct; `version` set means VMSTATE_VSTRUCT (else it uses the desc's own version). */
  | { readonly kind: 'struct'; readonly desc: AnyVmsd; readonly version: number | undefined }
  | { readonly kind: 'array'; readonly elem: FieldSpec; readonly length: number }
  /** Count from an earlier field (VMS_VARRAY_*), times `multiply` (VMS_MULTIPLY_ELEMENTS). */
  | { readonly kind: 'varray'; readonly elem: FieldSpec; readonly count: string; readonly multiply: number }
  /** Fixed array whose null elements go out as a 0x30 marker (VMS_ARRAY_OF_POINTER). */
  | { readonly kind: 'pointers'; readonly elem: FieldSpec; readonly length: number }
  | { readonly kind: 'buffer'; readonly size: number }
  /** Size from an earlier field times `multiply` (VMS_VBUFFER, VMS_MULTIPLY). */
  | { readonly kind: 'vbuffer'; readonly size: string; readonly multiply: number }
  | { readonly kind: 'unused'; readonly size: number }
  /** ceil(bits/64) be64 words; `bits` fixed or from an earlier field. */
  | { readonly kind: 'bitmap'; readonly bits: number | string }
  | { readonly kind: 'nullptr' }
  | { readonly kind: 'list'; readonly desc: AnyVmsd }
  /** `key` 'direct' = be64 keys (VMSTATE_GTREE_DIRECT_KEY_V), else a key struct. */
  | { readonly kind: 'tree'; readonly key: 'direct' | AnyVmsd; readonly value: AnyVmsd }
  | {
      readonly kind: 'tmp';
      readonly desc: AnyVmsd;
      readonly init: (parent: never) => unknown;
      readonly apply: (tmp: never, parent: never) => unknown;
    }
  | { readonly kind: 'validate' };

/** A field: layout, presence, and (phantom) the state value type `T`. */
export interface Field<T> {
  readonly spec: FieldSpec;
  readonly since: number;
  readonly exists: ExistsTest | undefined;
  readonly mustExist: boolean;
  /** Phantom: never present at run time. */
  readonly __value: T;
}

/** One GTree node: key (bigint for direct keys, else the key struct's state) and value. */
export type TreeEntry<K, V> = [key: K, value: V];

function make<T>(spec: FieldSpec, o: Presence | undefined): Field<T> {
  const f = {
    spec: Object.freeze(spec),
    since: o?.since ?? 0,
    exists: o?.exists,
    mustExist: o?.mustExist ?? false,
  };
  // Phantom cast: `__value` exists only in the type.
  return Object.freeze(f) as unknown as Field<T>;
}

function scalar<T>(type: ScalarType, o?: IntOptions): Field<T> {
  return make<T>({ kind: 'scalar', type, equal: o?.equal ?? false }, o);
}

/** VMSTATE_BOOL: 1 byte; any non-zero loads as true. */
export const bool = (o?: Presence): Field<boolean> => scalar('bool', o);
export const int8 = (o?: IntOptions): Field<number> => scalar('int8', o);
export const int16 = (o?: IntOptions): Field<number> => scalar('int16', o);
export const int32 = (o?: IntOptions): Field<number> => scalar('int32', o);
export const int64 = (o?: IntOptions): Field<bigint> => scalar('int64', o);
export const uint8 = (o?: IntOptions): Field<number> => scalar('uint8', o);
export const uint16 = (o?: IntOptions): Field<number> => scalar('uint16', o);
export const uint32 = (o?: IntOptions): Field<number> => scalar('uint32', o);
export const uint64 = (o?: IntOptions): Field<bigint> => scalar('uint64', o);
/** VMSTATE_INT32_POSITIVE_LE: load requires 0 <= v <= the receiver's current value. */
export const int32le = (o?: Presence): Field<number> => scalar('int32le', o);
/** VMSTATE_TIMER: expiry in ns as be64, -1n when not armed. */
export const timer = (o?: Presence): Field<bigint> => scalar('timer', o);
/** A counted string (u8 length + latin1 bytes, at most 255). */
export const string = (o?: Presence): Field<string> => scalar('string', o);

/** VMSTATE_STRUCT: nested struct, saved and loaded with its own current version (never on the wire). */
export function struct<D extends AnyVmsd>(desc: D, o?: Presence): Field<StateOf<D>> {
  return make({ kind: 'struct', desc, version: undefined }, o);
}

/** VMSTATE_VSTRUCT: nested struct saved and loaded with the given version. */
export function vstruct<D extends AnyVmsd>(desc: D, version: number, o?: Presence): Field<StateOf<D>> {
  return make({ kind: 'struct', desc, version }, o);
}

/** VMSTATE_*_ARRAY: `length` elements, no count on the wire. */
export function array<T>(elem: Field<T>, length: number, o?: Presence): Field<T[]> {
  return make({ kind: 'array', elem: elem.spec, length }, o);
}

/** Options of variable arrays. */
export interface VarrayOptions extends Presence {
  /** Elements per count unit (VMS_MULTIPLY_ELEMENTS). Defaults to 1. */
  readonly multiply?: number;
}

/**
 * VMSTATE_VARRAY_{UINT8,UINT16,UINT32,INT32}: element count from the earlier field `count`
 * (one of those four types) of the same description.
 */
export function varray<T>(elem: Field<T>, count: string, o?: VarrayOptions): Field<T[]> {
  return make({ kind: 'varray', elem: elem.spec, count, multiply: o?.multiply ?? 1 }, o);
}

/** VMSTATE_ARRAY_OF_POINTER(_TO_STRUCT): null elements are a 0x30 marker on the wire. */
export function pointerArray<T>(elem: Field<T>, length: number, o?: Presence): Field<(T | null)[]> {
  return make({ kind: 'pointers', elem: elem.spec, length }, o);
}

/** VMSTATE_BUFFER: `size` raw bytes. */
export function buffer(size: number, o?: Presence): Field<Uint8Array> {
  return make({ kind: 'buffer', size }, o);
}

/** VMSTATE_VBUFFER(_UINT32)(_MULTIPLY): byte count from the earlier integer field `size`. */
export function vbuffer(size: string, o?: VarrayOptions): Field<Uint8Array> {
  return make({ kind: 'vbuffer', size, multiply: o?.multiply ?? 1 }, o);
}

/** VMSTATE_UNUSED: `size` zero bytes on save, skipped on load. */
export function unused(size: number, o?: Presence): Field<NoState> {
  return make({ kind: 'unused', size }, o);
}

/**
 * VMSTATE_BITMAP: bit i is bit (i % 64) of word i / 64, as QEMU's unsigned long array on a
 * 64-bit host; `bits` is a number or the name of an earlier integer field.
 */
export function bitmap(bits: number | string, o?: Presence): Field<BigUint64Array> {
  return make({ kind: 'bitmap', bits }, o);
}

/** A lone NULL-pointer marker (0x30), checked on load. */
export function nullPointer(o?: Presence): Field<NoState> {
  return make({ kind: 'nullptr' }, o);
}

/** VMSTATE_QTAILQ_V / VMSTATE_QLIST_V: `01` + element … `00`. Elements use the desc's version. */
export function list<D extends AnyVmsd>(desc: D, o?: Presence): Field<StateOf<D>[]> {
  return make({ kind: 'list', desc }, o);
}

/**
 * VMSTATE_GTREE_V / VMSTATE_GTREE_DIRECT_KEY_V: be32 count, then `01` key value per node,
 * then `00`. Entries are saved in array order (QEMU walks the tree in key order).
 */
export function tree<V extends AnyVmsd>(key: 'direct', value: V, o?: Presence): Field<TreeEntry<bigint, StateOf<V>>[]>;
export function tree<K extends AnyVmsd, V extends AnyVmsd>(
  key: K,
  value: V,
  o?: Presence,
): Field<TreeEntry<StateOf<K>, StateOf<V>>[]>;
export function tree(key: 'direct' | AnyVmsd, value: AnyVmsd, o?: Presence): Field<TreeEntry<unknown, unknown>[]> {
  return make({ kind: 'tree', key, value }, o);
}

/** How a VMSTATE_WITH_TMP field maps between the parent state and the temporary struct. */
export interface TmpMapping<P, T> {
  /** Builds the temporary struct from the parent (QEMU: zeroed tmp with `parent` set). */
  readonly init: (parent: P) => T;
  /** After the tmp loaded (its postLoad ran), returns the updated parent. */
  readonly apply: (tmp: T, parent: P) => P;
}

/** VMSTATE_WITH_TMP: a nested description over a temporary struct; no header on the wire. */
export function withTmp<D extends AnyVmsd, P>(desc: D, mapping: TmpMapping<P, StateOf<D>>, o?: Presence): Field<NoState> {
  // Parameter types are erased for storage; compile.ts calls them with the matching values.
  return make({ kind: 'tmp', desc, init: mapping.init as (p: never) => unknown, apply: mapping.apply as (t: never, p: never) => unknown }, o);
}

/** VMSTATE_VALIDATE: no bytes; load (and save) fail with E_VALIDATION when `test` is false. */
export function validate(test: ExistsTest): Field<NoState> {
  return make({ kind: 'validate' }, { exists: test, mustExist: true });
}
