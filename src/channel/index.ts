export * from './transport.js';
export * from './reader.js';
export * from './writer.js';
export * from './transports/memory.js';
