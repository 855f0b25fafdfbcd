/**
 * QEMU's binary encoding, written through a ChannelWriter (spec §0, §2.5, §2.6). Structure
 * calls write nothing, because QEMU's wire carries no structure: the loader must know the
 * description. The only markers are list/tree element bytes, tree counts, subsection headers
 * and the NULL-pointer placeholder.
 */
import { VmsError } from '../../errors.js';
import type { ChannelWriter } from '../../channel/writer.js';
import type { OutputVisitor, StructInfo } from '../visitor.js';
import { LIST_END, LIST_MORE, NULL_POINTER_MARKER, SUBSECTION_MARKER } from './markers.js';

export class BinaryOutputVisitor implements OutputVisitor {
  constructor(readonly writer: ChannelWriter) {}

  get offset(): number {
    return this.writer.bytesPut;
  }

  startStruct(_name: string, _info: StructInfo): void {}
  endStruct(): void {}
  startArray(_name: string, _length: number): void {}
  endArray(): void {}

  // QTAILQ/QLIST: 01 before each element, 00 after the last.
  startList(_name: string): void {}
  listElement(): void {
    this.writer.u8(LIST_MORE);
  }
  endList(): void {
    this.writer.u8(LIST_END);
  }

  // GTree: be32 node count, then 01 before each node, 00 after the last.
  startTree(_name: string, nodeCount: number): void {
    this.writer.u32(nodeCount);
  }
  treeNode(): void {
    this.writer.u8(LIST_MORE);
  }
  endTree(): void {
    this.writer.u8(LIST_END);
  }

  // QEMU_VM_SUBSECTION: 05, counted name, be32 version.
  startSubsection(name: string, version: number): void {
    this.writer.u8(SUBSECTION_MARKER);
    this.writer.countedString(name);
    this.writer.u32(version);
  }
  endSubsection(): void {}

  bool(_name: string, v: boolean): void {
    this.writer.u8(v ? 1 : 0);
  }
  int8(_name: string, v: number): void {
    this.writer.i8(v);
  }
  int16(_name: string, v: number): void {
    this.writer.i16(v);
  }
  int32(_name: string, v: number): void {
    this.writer.i32(v);
  }
  int64(_name: string, v: bigint): void {
    this.writer.i64(v);
  }
  uint8(_name: string, v: number): void {
    this.writer.u8(v);
  }
  uint16(_name: string, v: number): void {
    this.writer.u16(v);
  }
  uint32(_name: string, v: number): void {
    this.writer.u32(v);
  }
  uint64(_name: string, v: bigint): void {
    this.writer.u64(v);
  }

  /** Large buffers go out by reference: they must not change until the writer drains. */
  buffer(_name: string, bytes: Uint8Array): void {
    this.writer.bytes(bytes);
  }

  string(name: string, s: string): void {
    if (s.length > 255) {
      throw new VmsError('E_LIMIT', `string ${name} is too long for a counted string`, {
        offset: this.offset,
        expected: 'at most 255 bytes',
        actual: `${s.length} characters`,
      });
    }
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0xff) {
        throw new VmsError('E_FORMAT', `string ${name} has a character outside latin1`, {
          offset: this.offset,
          expected: 'characters U+0000..U+00FF',
          actual: `U+${s.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')} at index ${i}`,
        });
      }
    }
    this.writer.countedString(s);
  }

  unused(_name: string, size: number): void {
    this.writer.zeros(size);
  }

  nullPointer(_name: string): void {
    this.writer.u8(NULL_POINTER_MARKER);
  }

  opaque(_name: string, _type: string, bytes: Uint8Array): void {
    this.writer.bytes(bytes);
  }
}
