/** BER (X.690) encoding primitives: tags, lengths, a one-pass writer and a streaming reader. */
export * from './tag.js';
export * from './length.js';
export * from './header.js';
export * from './integer.js';
export * from './oid.js';
export * from './real.js';
export * from './text.js';
export * from './writer.js';
export * from './reader.js';
