/**
 * The format layer's contract (QEMU's Visitor). The VMState interpreter drives a visitor
 * with named, typed values and structure; the visitor decides how they look on the channel.
 * The binary visitors produce exactly QEMU's bytes (where structure calls write nothing,
 * lists write 01/00 markers, subsections write a 05 header...); the BER visitors write a
 * self-describing tree. VMState never knows which one it is driving.
 *
 * 64-bit integers are bigint (addresses and -1 sentinels do not fit a double); narrower
 * ones are number. Names are field names; array elements are visited with the array's name.
 */

export type IntKind = 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64';

/** The value type a primitive kind carries: bigint for the 64-bit kinds, number otherwise. */
export type IntValue<K extends IntKind> = K extends 'int64' | 'uint64' ? bigint : number;

/** What a struct carries besides its fields: its VMSD name and the version its fields use. */
export interface StructInfo {
  /** The VMState description's name (for a top-level section, the VMSD name, not the idstr). */
  readonly vmsdName: string;
  /** The version the fields were saved with (a nested struct's own version; never on QEMU's wire). */
  readonly version: number;
}

/** Writes values (QEMU's output visitor). */
export interface OutputVisitor {
  /** Bytes written so far (absolute stream offset of the next value, for error messages). */
  readonly offset: number;

  /** Start of a struct: a section's top level, a nested struct, or a subsection's body. */
  startStruct(name: string, info: StructInfo): void;
  endStruct(): void;

  /** A fixed or variable array of `length` elements follows (its count is not on QEMU's wire). */
  startArray(name: string, length: number): void;
  endArray(): void;

  /** A linked list (QTAILQ/QLIST): `listElement()` before each element, `endList()` after the last. */
  startList(name: string): void;
  listElement(): void;
  endList(): void;

  /** A tree (GTree): its node count first; `treeNode()` before each key/value pair. */
  startTree(name: string, nodeCount: number): void;
  treeNode(): void;
  endTree(): void;

  /** A subsection (name, version) whose fields follow, then `endSubsection()`. */
  startSubsection(name: string, version: number): void;
  endSubsection(): void;

  bool(name: string, v: boolean): void;
  int8(name: string, v: number): void;
  int16(name: string, v: number): void;
  int32(name: string, v: number): void;
  int64(name: string, v: bigint): void;
  uint8(name: string, v: number): void;
  uint16(name: string, v: number): void;
  uint32(name: string, v: number): void;
  uint64(name: string, v: bigint): void;

  /** A run of bytes whose length the description knows (not written on QEMU's wire). */
  buffer(name: string, bytes: Uint8Array): void;
  /** A counted string (u8 length + bytes on QEMU's wire). */
  string(name: string, s: string): void;
  /** `size` reserved bytes (VMSTATE_UNUSED): QEMU writes zeros and the loader skips them. */
  unused(name: string, size: number): void;
  /** The placeholder for a NULL element of an array of pointers (0x30 on QEMU's wire). */
  nullPointer(name: string): void;
  /** Bytes of a type no description covers, kept whole; `type` is the vmdesc type name. */
  opaque(name: string, type: string, bytes: Uint8Array): void;
}

/** A subsection header met on input. */
export interface SubsectionHeader {
  readonly name: string;
  readonly version: number;
}

/**
 * Reads values (QEMU's input visitor). Calls mirror OutputVisitor; where the binary format
 * carries a marker (list elements, subsections) the input visitor answers a question.
 * Reads are synchronous; a channel-backed visitor lets NEED_MORE propagate (see
 * ChannelReader.retry) and throws VmsError E_TRUNCATED once the input has ended.
 */
export interface InputVisitor {
  /** Absolute stream offset of the next value (for error messages). */
  readonly offset: number;

  startStruct(name: string, info: StructInfo): void;
  endStruct(): void;
  startArray(name: string, length: number): void;
  endArray(): void;

  startList(name: string): void;
  /** True if another element follows (consumes QEMU's 01), false at the end (consumes 00). */
  listHasNext(): boolean;
  endList(): void;

  /** Reads the node count. */
  startTree(name: string): number;
  /** True if another node follows (01), false at the end (00). */
  treeHasNext(): boolean;
  endTree(): void;

  /**
   * Peeks for a subsection of the struct named `parent`: if the next item is a subsection
   * whose name starts with `parent`, consumes its header and returns it; otherwise consumes
   * nothing and returns undefined (the bytes belong to an outer level), as QEMU's loader.
   */
  nextSubsection(parent: string): SubsectionHeader | undefined;
  endSubsection(): void;

  bool(name: string): boolean;
  int8(name: string): number;
  int16(name: string): number;
  int32(name: string): number;
  int64(name: string): bigint;
  uint8(name: string): number;
  uint16(name: string): number;
  uint32(name: string): number;
  uint64(name: string): bigint;

  /**
   * `size` bytes. Returns a view that stays valid only until the next read; copy to keep.
   * (The binary visitor reads exactly `size`; BER checks the encoded length equals it.)
   */
  buffer(name: string, size: number): Uint8Array;
  string(name: string): string;
  /** Skips `size` reserved bytes (QEMU does not look at them). */
  unused(name: string, size: number): void;
  /** Consumes a NULL-pointer placeholder; throws E_FORMAT if something else is there. */
  nullPointer(name: string): void;
  opaque(name: string, type: string, size: number): Uint8Array;
}
