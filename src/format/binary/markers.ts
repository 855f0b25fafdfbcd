/** The few marker bytes QEMU's binary VMState encoding has (spec §2.5, §2.6). */

/** QEMU_VM_SUBSECTION: a subsection header follows. */
export const SUBSECTION_MARKER = 0x05;
/** Before each QTAILQ/QLIST element and each GTree node. */
export const LIST_MORE = 0x01;
/** After the last list element or tree node. */
export const LIST_END = 0x00;
/** VMS_NULLPTR_MARKER: '0', written in place of a NULL element of an array of pointers. */
export const NULL_POINTER_MARKER = 0x30;
