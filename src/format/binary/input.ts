/**
 * Reads QEMU's binary encoding through a ChannelReader (spec §0, §2.5, §2.6), mirroring
 * BinaryOutputVisitor. Every read is a direct reader call; a short buffer throws the reader's
 * NEED_MORE sentinel (run the load inside `reader.retry`) or E_TRUNCATED once input has ended.
 */
import { VmsError } from '../../errors.js';
import type { ChannelReader } from '../../channel/reader.js';
import type { InputVisitor, StructInfo, SubsectionHeader } from '../visitor.js';
import { LIST_END, LIST_MORE, NULL_POINTER_MARKER, SUBSECTION_MARKER } from './markers.js';

export class BinaryInputVisitor implements InputVisitor {
  constructor(readonly reader: ChannelReader) {}

  get offset(): number {
    return this.reader.offset;
  }

  startStruct(_name: string, _info: StructInfo): void {}
  endStruct(): void {}
  startArray(_name: string, _length: number): void {}
  endArray(): void {}

  startList(_name: string): void {}
  listHasNext(): boolean {
    return this.marker('list element marker');
  }
  endList(): void {}

  startTree(_name: string): number {
    return this.reader.u32();
  }
  treeHasNext(): boolean {
    return this.marker('tree node marker');
  }
  endTree(): void {}

  /**
   * QEMU's vmstate_subsection_load peek: a 05 byte, then a name at least one byte longer than
   * `parent` and starting with it, is ours; anything else belongs to an outer level. A stream
   * that ends right here has no subsection.
   */
  nextSubsection(parent: string): SubsectionHeader | undefined {
    const r = this.reader;
    if (!r.has(1) && r.sourceDone) return undefined;
    if (r.peekU8() !== SUBSECTION_MARKER) return undefined;
    const len = r.peekAt(1);
    if (len < parent.length + 1) return undefined;
    for (let i = 0; i < parent.length; i++) {
      if (r.peekAt(2 + i) !== parent.charCodeAt(i)) return undefined;
    }
    r.skipBuffered(1);
    const name = r.countedString();
    const version = r.u32();
    return { name, version };
  }
  endSubsection(): void {}

  bool(_name: string): boolean {
    return this.reader.u8() !== 0;
  }
  int8(_name: string): number {
    return this.reader.i8();
  }
  int16(_name: string): number {
    return this.reader.i16();
  }
  int32(_name: string): number {
    return this.reader.i32();
  }
  int64(_name: string): bigint {
    return this.reader.i64();
  }
  uint8(_name: string): number {
    return this.reader.u8();
  }
  uint16(_name: string): number {
    return this.reader.u16();
  }
  uint32(_name: string): number {
    return this.reader.u32();
  }
  uint64(_name: string): bigint {
    return this.reader.u64();
  }

  buffer(_name: string, size: number): Uint8Array {
    return this.reader.bytesView(size);
  }

  string(_name: string): string {
    return this.reader.countedString();
  }

  unused(_name: string, size: number): void {
    this.reader.skipBuffered(size);
  }

  nullPointer(name: string): void {
    const at = this.reader.offset;
    const b = this.reader.u8();
    if (b !== NULL_POINTER_MARKER) {
      throw new VmsError('E_FORMAT', `${name}: NULL pointer placeholder missing`, {
        offset: at,
        expected: '0x30',
        actual: hexByte(b),
      });
    }
  }

  opaque(_name: string, _type: string, size: number): Uint8Array {
    return this.reader.bytesView(size);
  }

  private marker(what: string): boolean {
    const at = this.reader.offset;
    const b = this.reader.u8();
    if (b === LIST_MORE) return true;
    if (b === LIST_END) return false;
    throw new VmsError('E_FORMAT', `bad ${what}`, { offset: at, expected: '0x01 or 0x00', actual: hexByte(b) });
  }
}

function hexByte(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}
