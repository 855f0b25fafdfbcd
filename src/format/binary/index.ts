/** QEMU's binary VMState encoding as a pair of format visitors. */
export { BinaryOutputVisitor } from './output.js';
export { BinaryInputVisitor } from './input.js';
export { LIST_END, LIST_MORE, NULL_POINTER_MARKER, SUBSECTION_MARKER } from './markers.js';
