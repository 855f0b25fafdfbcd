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
import type { VmdescDevice, VmdescField, VmdescStruct } from './vmdesc.js';

/** Limits on what a (possibly hostile) vmdesc may make us read. */
export interface DeviceDecodeLimits {
  /** Largest single field or array in bytes. */
  readonly maxFieldBytes: number;
  /** Stream offset past which no byte exists (known for files), else Infinity. */
  readonly streamEnd: number;
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
  const path: PathElement[] = [idstr];
  try {
    v?.startStruct(idstr, { vmsdName: dev.vmsd_name ?? idstr, version: dev.version ?? 0 });
    if (dev.vmsd_name === undefined && dev.size !== undefined && dev.fields === undefined) {
      // An old-style section with no field list: one blob.
      d.blob('data', 'buffer', dev.size, path);
    } else {
      d.fields(dev.fields ?? [], path);
      d.subsections(dev.vmsd_name ?? idstr, dev.subsections ?? [], path);
    }
    v?.endStruct();
  } catch (e) {
    if (isVmsError(e) && e.path.length === 0) throw e.within(...d.where);
    throw e;
  }
}

class DeviceWalker {
  /** Path of the value being read, for errors that come from the channel. */
  where: readonly PathElement[] = [];
  constructor(
    private readonly r: ChannelReader,
    private readonly v: OutputVisitor | undefined,
    private readonly limits: DeviceDecodeLimits,
  ) {}

  fields(fields: readonly VmdescField[], path: readonly PathElement[]): void {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.array_len !== undefined) {
        this.checkSize(f.size * f.array_len, [...path, f.name]);
        this.v?.startArray(f.name, f.array_len);
        for (let k = 0; k < f.array_len; k++) this.element(f, [...path, f.name, k]);
        this.v?.endArray();
      } else if (f.index === 0 && fields[i + 1]?.name === f.name && fields[i + 1]?.index === 1) {
        // Non-compressible array: each element described, with "index" 0, 1, 2...
        let n = 1;
        while (fields[i + n]?.name === f.name && fields[i + n]?.index === n) n++;
        this.v?.startArray(f.name, n);
        for (let k = 0; k < n; k++) this.element(fields[i + k]!, [...path, f.name, k]);
        this.v?.endArray();
        i += n - 1;
      } else {
        this.element(f, [...path, f.name]);
      }
    }
  }

  subsections(parent: string, subs: readonly VmdescStruct[], path: readonly PathElement[]): void {
    for (const s of subs) {
      const at = this.r.offset;
      this.where = [...path, s.vmsd_name];
      const type = this.r.u8();
      if (type !== SectionType.SUBSECTION) {
        throw new VmsError('E_FORMAT', `subsection ${s.vmsd_name} missing`, {
          offset: at,
          path: this.where,
          expected: '0x05 (QEMU_VM_SUBSECTION)',
          actual: hexByte(type),
        });
      }
      const name = this.r.countedString();
      const version = this.r.u32();
      if (name !== s.vmsd_name || !name.startsWith(parent)) {
        throw new VmsError('E_FORMAT', 'subsection name differs from the vmdesc', {
          offset: at + 1,
          path: this.where,
          expected: JSON.stringify(s.vmsd_name),
          actual: JSON.stringify(name),
        });
      }
      if (version !== s.version) {
        throw new VmsError('E_MISMATCH', 'subsection version differs from the vmdesc', {
          offset: at + 2 + name.length,
          path: this.where,
          expected: String(s.version),
          actual: String(version),
        });
      }
      this.v?.startSubsection(name, version);
      this.fields(s.fields ?? [], [...path, name]);
      this.subsections(name, s.subsections ?? [], [...path, name]);
      this.v?.endSubsection();
    }
  }

  private element(f: VmdescField, path: readonly PathElement[]): void {
    this.where = path;
    const name = f.name;
    const v = this.v;
    const r = this.r;
    switch (f.type) {
      case 'struct': {
        const s = f.struct!;
        const start = r.offset;
        v?.startStruct(name, { vmsdName: s.vmsd_name, version: s.version });
        this.fields(s.fields ?? [], path);
        this.subsections(s.vmsd_name, s.subsections ?? [], path);
        v?.endStruct();
        this.checkConsumed(start, f.size, path);
        return;
      }
      case 'tmp':
      case 'vstruct':
        if (f.fields !== undefined) {
          const start = r.offset;
          v?.startStruct(name, { vmsdName: f.vmsd_name ?? name, version: f.version ?? 0 });
          this.fields(f.fields, path);
          this.subsections(f.vmsd_name ?? name, f.subsections ?? [], path);
          v?.endStruct();
          this.checkConsumed(start, f.size, path);
          return;
        }
        break;
      default:
        if (this.primitive(f)) return;
    }
    this.blob(name, f.type, f.size, path);
  }

  /** Reads a primitive whose wire size matches its type; false if the type is not one of ours. */
  private primitive(f: VmdescField): boolean {
    const v = this.v;
    const r = this.r;
    const name = f.name;
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
      case 'int8':
        if (f.size !== 1) return false;
        if (v === undefined) r.skipBuffered(1);
        else v.int8(name, r.i8());
        return true;
      case 'uint8':
      case 'uint8 equal':
        if (f.size !== 1) return false;
        if (v === undefined) r.skipBuffered(1);
        else v.uint8(name, r.u8());
        return true;
      case 'int16':
        if (f.size !== 2) return false;
        if (v === undefined) r.skipBuffered(2);
        else v.int16(name, r.i16());
        return true;
      case 'uint16':
      case 'uint16 equal':
        if (f.size !== 2) return false;
        if (v === undefined) r.skipBuffered(2);
        else v.uint16(name, r.u16());
        return true;
      case 'int32':
      case 'int32 le':
      case 'int32 equal':
        if (f.size !== 4) return false;
        if (v === undefined) r.skipBuffered(4);
        else v.int32(name, r.i32());
        return true;
      case 'uint32':
      case 'uint32 equal':
        if (f.size !== 4) return false;
        if (v === undefined) r.skipBuffered(4);
        else v.uint32(name, r.u32());
        return true;
      case 'int64':
      case 'timer':
        if (f.size !== 8) return false;
        if (v === undefined) r.skipBuffered(8);
        else v.int64(name, r.i64());
        return true;
      case 'uint64':
        if (f.size === 1) {
          // vmstate_info_nullptr is also named "uint64" (spec §2.6): one 0x30 byte.
          if (r.peekU8() !== 0x30) return false;
          r.u8();
          v?.nullPointer(name);
          return true;
        }
        if (f.size !== 8) return false;
        if (v === undefined) r.skipBuffered(8);
        else v.uint64(name, r.u64());
        return true;
      case 'int64 equal':
        // vmstate_info_uint64_equal (a name quirk).
        if (f.size !== 8) return false;
        if (v === undefined) r.skipBuffered(8);
        else v.uint64(name, r.u64());
        return true;
      case 'CPU_Double_U':
        if (f.size !== 8) return false;
        if (v === undefined) r.skipBuffered(8);
        else v.uint64(name, r.u64());
        return true;
      case 'buffer':
      case 'pci config':
        this.checkSize(f.size, this.where);
        if (v === undefined) r.skipBuffered(f.size);
        else v.buffer(name, r.bytesView(f.size));
        return true;
      case 'unused_buffer':
        this.checkSize(f.size, this.where);
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
  blob(name: string, type: string, size: number, path: readonly PathElement[]): void {
    this.where = path;
    this.checkSize(size, path);
    if (this.v === undefined) this.r.skipBuffered(size);
    else if (type === 'buffer') this.v.buffer(name, this.r.bytesView(size));
    else this.v.opaque(name, type, this.r.bytesView(size));
  }

  private checkSize(size: number, path: readonly PathElement[]): void {
    const at = this.r.offset;
    if (size > this.limits.maxFieldBytes) {
      throw new VmsError('E_LIMIT', `vmdesc field of ${size} bytes exceeds the limit`, {
        offset: at,
        path,
        expected: `at most ${this.limits.maxFieldBytes} bytes`,
      });
    }
    if (at + size > this.limits.streamEnd) {
      throw new VmsError('E_TRUNCATED', 'stream ends inside a field the vmdesc describes', {
        offset: at,
        path,
        expected: `${size} bytes`,
        actual: `${this.limits.streamEnd - at} left in the stream`,
      });
    }
  }

  /** A struct's described size (subsections included) must match what its fields consumed. */
  private checkConsumed(start: number, size: number, path: readonly PathElement[]): void {
    const used = this.r.offset - start;
    if (used !== size) {
      throw new VmsError('E_FORMAT', 'struct size differs from the vmdesc', {
        offset: start,
        path,
        expected: `${size} bytes`,
        actual: `${used} bytes read`,
      });
    }
  }
}

function hexByte(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

function isAllZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
