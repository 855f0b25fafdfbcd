export * from './errors.js';
export * from './channel/index.js';
export type * from './format/visitor.js';
