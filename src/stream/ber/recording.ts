/**
 * An OutputVisitor that records its calls to replay them later: a BER array or tree gives its
 * element count only at its end, and OutputVisitor wants it first.
 */
import type { OutputVisitor, StructInfo } from '../../format/visitor.js';

/** Records OutputVisitor calls (copying buffers) to replay once a count is known. */
export class RecordingVisitor implements OutputVisitor {
  private readonly ops: ((v: OutputVisitor) => void)[] = [];
  readonly offset = 0;
  replay(v: OutputVisitor): void {
    for (const op of this.ops) op(v);
  }
  startStruct(name: string, info: StructInfo): void {
    this.ops.push((v) => v.startStruct(name, info));
  }
  endStruct(): void {
    this.ops.push((v) => v.endStruct());
  }
  startArray(name: string, length: number): void {
    this.ops.push((v) => v.startArray(name, length));
  }
  endArray(): void {
    this.ops.push((v) => v.endArray());
  }
  startList(name: string): void {
    this.ops.push((v) => v.startList(name));
  }
  listElement(): void {
    this.ops.push((v) => v.listElement());
  }
  endList(): void {
    this.ops.push((v) => v.endList());
  }
  startTree(name: string, nodeCount: number): void {
    this.ops.push((v) => v.startTree(name, nodeCount));
  }
  treeNode(): void {
    this.ops.push((v) => v.treeNode());
  }
  endTree(): void {
    this.ops.push((v) => v.endTree());
  }
  startSubsection(name: string, version: number): void {
    this.ops.push((v) => v.startSubsection(name, version));
  }
  endSubsection(): void {
    this.ops.push((v) => v.endSubsection());
  }
  bool(name: string, x: boolean): void {
    this.ops.push((v) => v.bool(name, x));
  }
  int8(name: string, x: number): void {
    this.ops.push((v) => v.int8(name, x));
  }
  int16(name: string, x: number): void {
    this.ops.push((v) => v.int16(name, x));
  }
  int32(name: string, x: number): void {
    this.ops.push((v) => v.int32(name, x));
  }
  int64(name: string, x: bigint): void {
    this.ops.push((v) => v.int64(name, x));
  }
  uint8(name: string, x: number): void {
    this.ops.push((v) => v.uint8(name, x));
  }
  uint16(name: string, x: number): void {
    this.ops.push((v) => v.uint16(name, x));
  }
  uint32(name: string, x: number): void {
    this.ops.push((v) => v.uint32(name, x));
  }
  uint64(name: string, x: bigint): void {
    this.ops.push((v) => v.uint64(name, x));
  }
  buffer(name: string, b: Uint8Array): void {
    const c = b.slice();
    this.ops.push((v) => v.buffer(name, c));
  }
  string(name: string, s: string): void {
    this.ops.push((v) => v.string(name, s));
  }
  unused(name: string, size: number): void {
    this.ops.push((v) => v.unused(name, size));
  }
  nullPointer(name: string): void {
    this.ops.push((v) => v.nullPointer(name));
  }
  opaque(name: string, type: string, b: Uint8Array): void {
    const c = b.slice();
    this.ops.push((v) => v.opaque(name, type, c));
  }
}
