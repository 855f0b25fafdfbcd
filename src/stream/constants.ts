/** Wire constants of QEMU 7.2's migration stream (spec §1.1, §1.6, §3.1). */

/** "QEVM", the be32 at offset 0. */
export const QEMU_VM_FILE_MAGIC = 0x5145564d;
/** The obsolete v2 format, rejected as QEMU does. */
export const QEMU_VM_FILE_VERSION_COMPAT = 0x00000002;
/** The only accepted version. */
export const QEMU_VM_FILE_VERSION = 0x00000003;

export const SectionType = {
  EOF: 0x00,
  START: 0x01,
  PART: 0x02,
  END: 0x03,
  FULL: 0x04,
  SUBSECTION: 0x05,
  VMDESCRIPTION: 0x06,
  CONFIGURATION: 0x07,
  COMMAND: 0x08,
  FOOTER: 0x7e,
} as const;

/** The kinds of section that carry a payload, by their type byte. */
export type SectionKind = 'start' | 'part' | 'end' | 'full';

export const SECTION_KIND_BY_BYTE: Readonly<Record<number, SectionKind>> = {
  0x01: 'start',
  0x02: 'part',
  0x03: 'end',
  0x04: 'full',
};

export const SECTION_BYTE_BY_KIND: Readonly<Record<SectionKind, number>> = {
  start: 0x01,
  part: 0x02,
  end: 0x03,
  full: 0x04,
};

/** QEMU_VM_COMMAND numbers (spec §1.6). */
export const Command = {
  INVALID: 0,
  OPEN_RETURN_PATH: 1,
  PING: 2,
  POSTCOPY_ADVISE: 3,
  POSTCOPY_LISTEN: 4,
  POSTCOPY_RUN: 5,
  POSTCOPY_RAM_DISCARD: 6,
  PACKAGED: 7,
  ENABLE_COLO: 8,
  POSTCOPY_RESUME: 9,
  RECV_BITMAP: 10,
} as const;

export const COMMAND_NAMES: readonly string[] = [
  'INVALID',
  'OPEN_RETURN_PATH',
  'PING',
  'POSTCOPY_ADVISE',
  'POSTCOPY_LISTEN',
  'POSTCOPY_RUN',
  'POSTCOPY_RAM_DISCARD',
  'PACKAGED',
  'ENABLE_COLO',
  'POSTCOPY_RESUME',
  'RECV_BITMAP',
];

/** Payload length each command must have; -1 = variable, undefined = not accepted. */
export const COMMAND_LENGTHS: readonly (number | undefined)[] = [undefined, 0, 4, -1, 0, 0, -1, 4, 0, 0, -1];

/** RAM_SAVE_FLAG_* bits in the low bits of a RAM record's be64 header (spec §3.1). */
export const RamFlag = {
  FULL: 0x01,
  ZERO: 0x02,
  MEM_SIZE: 0x04,
  PAGE: 0x08,
  EOS: 0x10,
  CONTINUE: 0x20,
  XBZRLE: 0x40,
  HOOK: 0x80,
  COMPRESS_PAGE: 0x100,
} as const;

/** The RAM section's idstr and the version QEMU 7.2 writes. */
export const RAM_IDSTR = 'ram';
export const RAM_VERSION = 4;

/** x86's TARGET_PAGE_SIZE, used until the configuration or vmdesc says otherwise. */
export const DEFAULT_PAGE_SIZE = 4096;
