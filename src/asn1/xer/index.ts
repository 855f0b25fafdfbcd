/** XER output of a BER stream, written while the schema validator walks it. */
export { XerWriter } from './writer.js';
