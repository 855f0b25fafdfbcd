/** VMState: typed, versioned, declarative descriptions of device state, and their interpreter. */
export * from './field.js';
export type { AnyVmsd, FieldMap, FieldsState, Prettify, StateOf, SubsectionsState, Vmsd, VmsdHooks } from './infer.js';
export { describes, vmstate } from './describe.js';
export type { VmsdInput } from './describe.js';
export { save, isNeeded } from './save.js';
export { load, emptyState, DEFAULT_MAX_BYTES, DEFAULT_MAX_ELEMENTS } from './load.js';
export type { LoadOptions } from './load.js';
export { describeSave } from './vmdesc.js';
export type { VmdescFieldJson, VmdescStructJson } from './vmdesc.js';
