/**
 * Field edits on a stream being rewritten: an OutputVisitor wrapper that tracks the path of
 * each value and replaces the values a caller named. Sizes never change, so the vmdesc stays
 * valid and nothing else in the stream needs updating.
 *
 * Paths: field names joined by ".", array elements as "[i]", subsections by their name,
 * e.g. `env.regs[3]`, `dev.config[0]`, `cpu/msr_hyperv_hypercall.env.msr_hv_hypercall`.
 * A vmdesc "name[k]" (a repeated field name) may be written without "[0]" when k is 0.
 * `path@N` addresses byte N of a buffer.
 */
import { VmsError } from '../errors.js';
import type { OutputVisitor, StructInfo } from '../format/visitor.js';
import type { SectionHeader } from './events.js';

export interface FieldEdit {
  /** The text as given: `SECTION.FIELD=VALUE`. */
  readonly spec: string;
  /** Section idstr, or idstr:instance. */
  readonly section: string;
  readonly path: string;
  readonly value: string;
  /** How many values it changed (must end up 1). */
  applied: number;
}

/**
 * Splits `SECTION.FIELD=VALUE`. Section idstrs contain "." and ":" themselves, so the split
 * is only final once the stream's idstrs are known: `matchSection` does that.
 */
export function parseEdit(spec: string): { target: string; value: string } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new VmsError('E_USAGE', 'an edit must look like SECTION.FIELD=VALUE', { actual: spec });
  return { target: spec.slice(0, eq), value: spec.slice(eq + 1) };
}

/** The field path an edit names within section `h`, or undefined if it is about another section. */
export function matchSection(target: string, h: Pick<SectionHeader, 'idstr' | 'instance'>): string | undefined {
  for (const prefix of [`${h.idstr}:${h.instance}.`, ...(h.instance === 0 ? [`${h.idstr}.`] : [])]) {
    if (target.startsWith(prefix) && target.length > prefix.length) return target.slice(prefix.length);
  }
  // A bare idstr names instance 0; other instances need "idstr:instance".
  return undefined;
}

interface Frame {
  readonly label: string;
  readonly array: boolean;
  next: number;
}

/** Wraps an OutputVisitor; values whose path is in `edits` are replaced on the way through. */
export class FieldEditor implements OutputVisitor {
  private readonly stack: Frame[] = [];
  constructor(
    private readonly inner: OutputVisitor,
    private readonly edits: ReadonlyMap<string, FieldEdit>,
    private readonly section: string,
  ) {}

  get offset(): number {
    return this.inner.offset;
  }

  /** The path of a value named `name` at the current position (consumes an array index). */
  private label(name: string): string {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return '';
    if (top.array) return `${top.label}[${top.next++}]`;
    return top.label === '' ? name : `${top.label}.${name}`;
  }

  private find(label: string): FieldEdit | undefined {
    if (this.edits.size === 0) return undefined;
    return this.edits.get(label) ?? this.edits.get(label.replace(/\[0\]$/, '')) ?? this.edits.get(label.replace(/\[0\](?=[.[])/g, ''));
  }

  private push(label: string, array: boolean): void {
    this.stack.push({ label, array, next: 0 });
  }

  startStruct(name: string, info: StructInfo): void {
    this.push(this.stack.length === 0 ? '' : this.label(name), false);
    this.inner.startStruct(name, info);
  }
  endStruct(): void {
    this.stack.pop();
    this.inner.endStruct();
  }
  startArray(name: string, length: number): void {
    this.push(this.label(name), true);
    this.inner.startArray(name, length);
  }
  endArray(): void {
    this.stack.pop();
    this.inner.endArray();
  }
  startList(name: string): void {
    this.push(this.label(name), true);
    this.inner.startList(name);
  }
  listElement(): void {
    this.inner.listElement();
  }
  endList(): void {
    this.stack.pop();
    this.inner.endList();
  }
  startTree(name: string, nodeCount: number): void {
    this.push(this.label(name), true);
    this.inner.startTree(name, nodeCount);
  }
  treeNode(): void {
    this.inner.treeNode();
  }
  endTree(): void {
    this.stack.pop();
    this.inner.endTree();
  }
  startSubsection(name: string, version: number): void {
    this.push(this.label(name), false);
    this.inner.startSubsection(name, version);
  }
  endSubsection(): void {
    this.stack.pop();
    this.inner.endSubsection();
  }

  bool(name: string, v: boolean): void {
    const e = this.find(this.label(name));
    this.inner.bool(name, e === undefined ? v : this.parseBool(e));
  }
  int8(name: string, v: number): void {
    this.inner.int8(name, this.intOf(name, v, -0x80, 0x7f));
  }
  int16(name: string, v: number): void {
    this.inner.int16(name, this.intOf(name, v, -0x8000, 0x7fff));
  }
  int32(name: string, v: number): void {
    this.inner.int32(name, this.intOf(name, v, -0x80000000, 0x7fffffff));
  }
  uint8(name: string, v: number): void {
    this.inner.uint8(name, this.intOf(name, v, 0, 0xff));
  }
  uint16(name: string, v: number): void {
    this.inner.uint16(name, this.intOf(name, v, 0, 0xffff));
  }
  uint32(name: string, v: number): void {
    this.inner.uint32(name, this.intOf(name, v, 0, 0xffffffff));
  }
  int64(name: string, v: bigint): void {
    this.inner.int64(name, this.bigOf(name, v, -(1n << 63n), (1n << 63n) - 1n));
  }
  uint64(name: string, v: bigint): void {
    this.inner.uint64(name, this.bigOf(name, v, 0n, (1n << 64n) - 1n));
  }
  buffer(name: string, bytes: Uint8Array): void {
    this.inner.buffer(name, this.bytesOf(name, bytes));
  }
  string(name: string, s: string): void {
    const e = this.find(this.label(name));
    if (e !== undefined && e.value.length !== s.length) this.reject(e, `a string of ${s.length} characters (sizes cannot change)`);
    if (e !== undefined) e.applied++;
    this.inner.string(name, e === undefined ? s : e.value);
  }
  unused(name: string, size: number): void {
    this.label(name);
    this.inner.unused(name, size);
  }
  nullPointer(name: string): void {
    this.label(name);
    this.inner.nullPointer(name);
  }
  opaque(name: string, type: string, bytes: Uint8Array): void {
    this.inner.opaque(name, type, this.bytesOf(name, bytes));
  }

  private intOf(name: string, v: number, min: number, max: number): number {
    const e = this.find(this.label(name));
    if (e === undefined) return v;
    const n = this.parseInt(e, BigInt(min), BigInt(max));
    return Number(n);
  }

  private bigOf(name: string, v: bigint, min: bigint, max: bigint): bigint {
    const e = this.find(this.label(name));
    if (e === undefined) return v;
    return this.parseInt(e, min, max);
  }

  /** Whole buffer (hex of the same length), or one byte with `path@N`. */
  private bytesOf(name: string, bytes: Uint8Array): Uint8Array {
    const label = this.label(name);
    const whole = this.find(label);
    let out: Uint8Array | undefined;
    if (whole !== undefined) {
      const hex = whole.value.replace(/^0x/i, '').replace(/[\s:]/g, '');
      if (!/^([0-9a-f]{2})*$/i.test(hex) || hex.length !== bytes.length * 2) this.reject(whole, `${bytes.length} bytes in hex (sizes cannot change)`);
      out = Uint8Array.from(Buffer.from(hex, 'hex'));
      whole.applied++;
    }
    for (const e of this.edits.values()) {
      const at = e.path.lastIndexOf('@');
      if (at < 0) continue;
      const base = e.path.slice(0, at);
      if (base !== label && base !== label.replace(/\[0\]$/, '')) continue;
      const idx = Number(e.path.slice(at + 1));
      if (!Number.isInteger(idx) || idx < 0 || idx >= bytes.length) this.reject(e, `a byte index below ${bytes.length}`);
      out ??= bytes.slice();
      out[idx] = Number(this.parseInt(e, 0n, 255n));
    }
    return out ?? bytes;
  }

  private parseInt(e: FieldEdit, min: bigint, max: bigint): bigint {
    const t = e.value.trim();
    let n: bigint;
    try {
      if (!/^-?(0x[0-9a-f]+|0b[01]+|0o[0-7]+|\d+)$/i.test(t)) throw new Error('not an integer');
      n = t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t);
    } catch {
      return this.reject(e, 'an integer (decimal or 0x hex)');
    }
    if (n < min || n > max) this.reject(e, `an integer from ${min} to ${max}`);
    e.applied++;
    return n;
  }

  private parseBool(e: FieldEdit): boolean {
    const t = e.value.trim().toLowerCase();
    e.applied++;
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    return this.reject(e, 'true, false, 1 or 0');
  }

  private reject(e: FieldEdit, expected: string): never {
    throw new VmsError('E_USAGE', `cannot apply edit ${JSON.stringify(e.spec)}`, { path: [this.section, e.path], expected, actual: JSON.stringify(e.value) });
  }
}
