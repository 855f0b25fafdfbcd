/**
 * Decodes a device (FULL) section field by field, driven by its vmdesc entry (spec §1.7,
 * §2.5, §2.6): the vmdesc is a per-stream record of what was written, so it says exactly
 * which fields, array lengths and subsections are on the wire. Values go to an
 * OutputVisitor; types we do not know become `opaque` of their described size.
 *
 * Synchronous over a ChannelReader: the reader makes sure the section is buffered first
 * (a dry run with no visitor inside `retry`), then runs it again with the visitor.
 */
import type { ChannelReader } from '../channel/reader.js';
import { VmsError, isVmsError, type PathElement } from '../errors.js';
import type { OutputVisitor } from '../format/visitor.js';
import { SectionType } from './constants.js';
import type { VmdescBody, VmdescDevice, VmdescField, VmdescStruct } from './vmdesc.js';

/** Limits on what a (possibly hostile) vmdesc may make us read. */
export interface DeviceDecodeLimits {
  /** Largest single field or array in bytes. */
  readonly maxFieldBytes: number;
  /** Stream offset past which no byte exists (known for files), else Infinity. */
  readonly streamEnd: number;
  /**
   * The description was not written for this stream (descriptions.ts): subsections are
   * read as they appear, by QEMU's own rule, and struct sizes are not checked (either may
   * differ between streams). Defaults to false.
   */
  readonly foreign?: boolean;
}

/** Decodes one device section's payload (everything between the header and the footer). */
export function decodeDevice(
  r: ChannelReader,
  idstr: string,
  dev: VmdescDevice,
  v: OutputVisitor | undefined,
  limits: DeviceDecodeLimits,
): void {
  const d = new DeviceWalker(r, v, limits);
  d.stack.push(idstr);
  try {
    v?.startStruct(idstr, { vmsdName: dev.vmsd_name ?? idstr, version: dev.version ?? 0 });
    if (dev.vmsd_name === undefined && dev.size !== undefined && dev.fields === undefined) {
      // An old-style section with no field list: one blob.
      d.stack.push('data');
      d.blob('data', 'buffer', dev.size);
      d.stack.pop();
    } else {
      d.fields(dev.fields ?? []);
      d.subsections(dev.vmsd_name ?? idstr, dev.subsections ?? []);
    }
    v?.endStruct();
  } catch (e) {
    // Errors from the channel (truncation) carry no path: give them the field's.
    if (isVmsError(e) && e.path.length === 0) throw e.within(...d.stack);
    throw e;
  }
}

class DeviceWalker {
  /** Path of the value being read (mutable; copied only into errors). */
  readonly stack: PathElement[] = [];
  constructor(
    private readonly r: ChannelReader,
    private readonly v: OutputVisitor | undefined,
    private readonly limits: DeviceDecodeLimits,
  ) {}

  fields(fields: readonly VmdescField[]): void {
    const st = this.stack;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      st.push(f.name);
      if (f.array_len !== undefined) {
        this.checkSize(f.size * f.array_len);
        this.array(f.name, f.array_len, fields, i, false);
      } else if (f.index === 0 && fields[i + 1]?.name === f.name && fields[i + 1]?.index === 1) {
        // Non-compressible array: each element described, with "index" 0, 1, 2...
        let n = 1;
        while (fields[i + n]?.name === f.name && fields[i + n]?.index === n) n++;
        this.array(f.name, n, fields, i, true);
        i += n - 1;
      } else {
        this.element(f);
      }
      st.pop();
    }
  }

  /** `n` elements: fields[first] each time, or (`described`) fields[first + k] for element k. */
  private array(name: string, n: number, fields: readonly VmdescField[], first: number, described: boolean): void {
    const st = this.stack;
    this.v?.startArray(name, n);
    st.push(0);
    for (let k = 0; k < n; k++) {
      st[st.length - 1] = k;
      this.element(fields[described ? first + k : first]!);
    }
    st.pop();
    this.v?.endArray();
  }

  subsections(parent: string, subs: readonly VmdescStruct[]): void {
    if (this.limits.foreign === true) {
      this.presentSubsections(parent, subs);
      return;
    }
    for (const s of subs) {
      const at = this.r.offset;
      this.stack.push(s.vmsd_name);
      const type = this.r.u8();
      if (type !== SectionType.SUBSECTION) {
        throw new VmsError('E_FORMAT', `subsection ${s.vmsd_name} missing`, {
          offset: at,
          path: this.stack.slice(),
          expected: '0x05 (QEMU_VM_SUBSECTION)',
          actual: hexByte(type),
        });
      }
      const name = this.r.countedString();
      const version = this.r.u32();
      if (name !== s.vmsd_name || !name.startsWith(parent)) {
        throw new VmsError('E_FORMAT', 'subsection name differs from the vmdesc', {
          offset: at + 1,
          path: this.stack.slice(),
          expected: JSON.stringify(s.vmsd_name),
          actual: JSON.stringify(name),
        });
      }
      this.subsectionBody(s, name, version, at, 'vmdesc');
    }
  }

  /**
   * QEMU's loader rule (spec §2.5): while the next byte is 0x05 and the name starts with the
   * parent's VMSD name, a subsection follows and must be one we know; anything else ends them.
   */
  private presentSubsections(parent: string, subs: readonly VmdescStruct[]): void {
    const r = this.r;
    while (r.has(2) && r.peekU8() === SectionType.SUBSECTION) {
      const len = r.peekAt(1);
      if (!r.has(2 + len)) return;
      let name = '';
      for (let i = 0; i < len; i++) name += String.fromCharCode(r.peekAt(2 + i));
      if (!name.startsWith(parent)) return;
      const s = subs.find((x) => x.vmsd_name === name);
      if (s === undefined) {
        throw new VmsError('E_MISMATCH', `subsection ${name} is not in the description`, {
          offset: r.offset,
          path: [...this.stack, name],
          expected: subs.length === 0 ? 'no subsections' : subs.map((x) => x.vmsd_name).join(', '),
          actual: JSON.stringify(name),
        });
      }
      this.subsectionFrom(s);
    }
  }

  /** One subsection whose header is next and known to name `s`. */
  private subsectionFrom(s: VmdescStruct): void {
    const r = this.r;
    const at = r.offset;
    this.stack.push(s.vmsd_name);
    r.u8();
    const name = r.countedString();
    this.subsectionBody(s, name, r.u32(), at, 'description');
  }

  /** A subsection after its header (at `at`, already on the stack): version check, then its fields. */
  private subsectionBody(s: VmdescStruct, name: string, version: number, at: number, source: 'vmdesc' | 'description'): void {
    if (version !== s.version) {
      throw new VmsError('E_MISMATCH', `subsection version differs from the ${source}`, {
        offset: at + 2 + name.length,
        path: this.stack.slice(),
        expected: String(s.version),
        actual: String(version),
      });
    }
    this.v?.startSubsection(name, version);
    this.fields(s.fields ?? []);
    this.subsections(name, s.subsections ?? []);
    this.v?.endSubsection();
    this.stack.pop();
  }

  private element(f: VmdescField): void {
    const name = f.name;
    switch (f.type) {
      case 'struct': {
        const s = f.struct!;
        return this.struct(name, s.vmsd_name, s.version, s, f.size);
      }
      case 'tmp':
      case 'vstruct':
        if (f.fields !== undefined) return this.struct(name, f.vmsd_name ?? name, f.version ?? 0, f, f.size);
        break;
      default:
        if (this.primitive(f)) return;
    }
    this.blob(name, f.type, f.size);
  }

  /** A nested struct (its fields and subsections), which must take exactly its described size. */
  private struct(name: string, vmsdName: string, version: number, body: VmdescBody, size: number): void {
    const start = this.r.offset;
    this.v?.startStruct(name, { vmsdName, version });
    this.fields(body.fields ?? []);
    this.subsections(vmsdName, body.subsections ?? []);
    this.v?.endStruct();
    this.checkConsumed(start, size);
  }

  /** Reads a primitive whose wire size matches its type; false if the type is not one of ours. */
  private primitive(f: VmdescField): boolean {
    const v = this.v;
    const r = this.r;
    const name = f.name;
    const fixed = FIXED.get(f.type);
    // A "uint64" of one byte is vmstate_info_nullptr under the same name (spec §2.6): below.
    if (fixed !== undefined && !(f.size === 1 && f.type === 'uint64')) {
      if (f.size !== fixed.size) return false;
      if (v === undefined) r.skipBuffered(fixed.size);
      else fixed.put(v, name, r);
      return true;
    }
    switch (f.type) {
      case 'bool': {
        if (f.size !== 1) return false;
        const b = r.peekU8();
        // QEMU loads any non-zero byte as true; keep other bytes exactly, as opaque.
        if (b > 1) return false;
        r.u8();
        v?.bool(name, b === 1);
        return true;
      }
      case 'uint64':
        // vmstate_info_nullptr: one 0x30 byte.
        if (r.peekU8() !== 0x30) return false;
        r.u8();
        v?.nullPointer(name);
        return true;
      case 'buffer':
      case 'pci config':
        this.checkSize(f.size);
        if (v === undefined) r.skipBuffered(f.size);
        else v.buffer(name, r.bytesView(f.size));
        return true;
      case 'unused_buffer':
        this.checkSize(f.size);
        if (v === undefined) r.skipBuffered(f.size);
        else {
          // QEMU writes zeros; other bytes are kept exactly, as opaque, so rewrites stay identical.
          const b = r.bytesView(f.size);
          if (isAllZero(b)) v.unused(name, f.size);
          else v.opaque(name, f.type, b);
        }
        return true;
      case 'pci irq state':
        if (f.size !== 16) return false;
        if (v === undefined) r.skipBuffered(16);
        else {
          v.startArray(name, 4);
          for (let k = 0; k < 4; k++) v.int32(name, r.i32());
          v.endArray();
        }
        return true;
      default:
        return false;
    }
  }

  /** Bytes kept whole, of their described size (types we do not decode). */
  blob(name: string, type: string, size: number): void {
    this.checkSize(size);
    if (this.v === undefined) this.r.skipBuffered(size);
    else if (type === 'buffer') this.v.buffer(name, this.r.bytesView(size));
    else this.v.opaque(name, type, this.r.bytesView(size));
  }

  private checkSize(size: number): void {
    const at = this.r.offset;
    if (size > this.limits.maxFieldBytes) {
      throw new VmsError('E_LIMIT', `vmdesc field of ${size} bytes exceeds the limit`, {
        offset: at,
        path: this.stack.slice(),
        expected: `at most ${this.limits.maxFieldBytes} bytes`,
      });
    }
    if (at + size > this.limits.streamEnd) {
      throw new VmsError('E_TRUNCATED', 'stream ends inside a field the vmdesc describes', {
        offset: at,
        path: this.stack.slice(),
        expected: `${size} bytes`,
        actual: `${this.limits.streamEnd - at} left in the stream`,
      });
    }
  }

  /** A struct's described size (subsections included) must match what its fields consumed. */
  private checkConsumed(start: number, size: number): void {
    if (this.limits.foreign === true) return;
    const used = this.r.offset - start;
    if (used !== size) {
      throw new VmsError('E_FORMAT', 'struct size differs from the vmdesc', {
        offset: start,
        path: this.stack.slice(),
        expected: `${size} bytes`,
        actual: `${used} bytes read`,
      });
    }
  }
}

/** Types read as one number of a fixed size: the size and the visitor call (QEMU's names, quirks included). */
const FIXED = new Map<string, { readonly size: number; readonly put: (v: OutputVisitor, name: string, r: ChannelReader) => void }>();
const fixed = (size: number, put: (v: OutputVisitor, name: string, r: ChannelReader) => void, ...types: string[]): void => {
  for (const t of types) FIXED.set(t, { size, put });
};
fixed(1, (v, name, r) => v.int8(name, r.i8()), 'int8');
fixed(1, (v, name, r) => v.uint8(name, r.u8()), 'uint8', 'uint8 equal');
fixed(2, (v, name, r) => v.int16(name, r.i16()), 'int16');
fixed(2, (v, name, r) => v.uint16(name, r.u16()), 'uint16', 'uint16 equal');
fixed(4, (v, name, r) => v.int32(name, r.i32()), 'int32', 'int32 le', 'int32 equal');
fixed(4, (v, name, r) => v.uint32(name, r.u32()), 'uint32', 'uint32 equal');
fixed(8, (v, name, r) => v.int64(name, r.i64()), 'int64', 'timer');
// "int64 equal" is vmstate_info_uint64_equal (a name quirk).
fixed(8, (v, name, r) => v.uint64(name, r.u64()), 'uint64', 'int64 equal', 'CPU_Double_U');

function hexByte(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

function isAllZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
