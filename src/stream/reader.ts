/**
 * The streaming reader: walks a whole migration stream (spec §1, §3) and reports it as
 * StreamVisitor events. Memory stays bounded: RAM pages are views into the channel buffer;
 * only device data may be buffered, and only when no vmdesc is at hand.
 *
 * Where the vmdesc comes from, since it sits after EOF:
 *  - a seekable source (a file, bytes in memory): we read the tail first and find the
 *    trailer by its shape (trailer.ts), then check it when the walk reaches it;
 *  - a pipe: at the first device section we buffer the rest of the stream (device data,
 *    never RAM; capped by `maxDeviceTail`) and look for the trailer at its end;
 *  - no trailer at all (suppress-vmdesc machine types): each device section is split off by
 *    the structure of what follows it (split.ts) and kept opaque.
 *
 * Footers are detected, not configured: after each section a 0x7e byte (never a section
 * type) is a footer. Mixed presence is an error, as QEMU's loader would see it.
 *
 * RAM block fields the stream does not announce: the GPA is read when the configuration
 * lists x-ignore-shared (QEMU only announces that capability); the postcopy page size is
 * read after a POSTCOPY_ADVISE command where the next be64 is a power of two ≥ 4 KiB (names
 * never start with 0), or as `postcopyPageSizes` says.
 */
import { ChannelReader, NEED_MORE, type ReaderOptions } from '../channel/reader.js';
import type { ByteSource } from '../channel/transport.js';
import { VmsError, isVmsError } from '../errors.js';
import type { OutputVisitor } from '../format/visitor.js';
import { configuredPageSize, decodeCommand, decodeConfiguration, hasCapability } from './config.js';
import {
  Command,
  DEFAULT_PAGE_SIZE,
  QEMU_VM_FILE_MAGIC,
  QEMU_VM_FILE_VERSION,
  QEMU_VM_FILE_VERSION_COMPAT,
  RAM_IDSTR,
  SECTION_KIND_BY_BYTE,
  SectionType,
} from './constants.js';
import { decodeDescribed, decodeWithDescriptions, type DescriptionOutcome, type Descriptions } from './descriptions.js';
import { decodeDevice } from './device.js';
import type { Configuration, SectionHeader, StreamVisitor } from './events.js';
import { RamDecoder } from './ram.js';
import { findPayloadEnd } from './split.js';
import { locateTrailer, type TrailerLocation } from './trailer.js';
import { parseVmdesc, type Vmdesc, type VmdescDevice } from './vmdesc.js';

export interface StreamReaderOptions {
  /** A vmdesc to decode device sections with, instead of the stream's own trailer. */
  readonly vmdesc?: Vmdesc;
  /** Hand RAM page contents to the visitor. Defaults to true. */
  readonly pageData?: boolean;
  /** Decode XBZRLE pages against a copy of RAM the reader keeps. Defaults to false. */
  readonly decodeXbzrle?: boolean;
  /** Inflate compressed pages. Defaults to false. */
  readonly decodeCompressed?: boolean;
  /** Whether RAM blocks carry a page size (postcopy-ram). Defaults to 'auto' (see above). */
  readonly postcopyPageSizes?: boolean | 'auto';
  /** Target page size when neither configuration nor vmdesc says. Defaults to 4096. */
  readonly pageSize?: number;
  /** Most bytes buffered after RAM to find the trailer on a pipe. Defaults to 64 MiB. */
  readonly maxDeviceTail?: number;
  /** Largest device field a vmdesc may describe. Defaults to 64 MiB. */
  readonly maxFieldBytes?: number;
  /** Largest vmdesc trailer. Defaults to 64 MiB. */
  readonly maxTrailer?: number;
  /** Bytes read from the end of a seekable source to find the trailer. Defaults to 1 MiB (grown as needed). */
  readonly tailWindow?: number;
  readonly reader?: ReaderOptions;
  /**
   * Descriptions from elsewhere (descriptions.ts) for sections the stream's own vmdesc does
   * not describe: each is tried on the section's bytes and used only if it fits exactly.
   */
  readonly descriptions?: Descriptions;
  /** Told, before `sectionEnd`, what the descriptions did for each section they were tried on. */
  readonly onDescription?: (h: SectionHeader, outcome: DescriptionOutcome) => void;
}

export const DEFAULT_MAX_DEVICE_TAIL = 64 << 20;
export const DEFAULT_MAX_FIELD_BYTES = 64 << 20;
export const DEFAULT_MAX_TRAILER = 64 << 20;

/** What a walk found, for callers that want a summary without writing a visitor. */
export interface StreamSummary {
  readonly bytes: number;
  readonly configuration?: Configuration;
  readonly footers: boolean | undefined;
  readonly trailer: boolean;
  readonly vmdesc?: Vmdesc;
  readonly pageSize: number;
}

/** Reads a whole stream from a source or from bytes in memory, calling `visitor` for each item. */
export async function readStream(
  source: ByteSource | Uint8Array,
  visitor: StreamVisitor,
  options: StreamReaderOptions = {},
): Promise<StreamSummary> {
  const parser = new StreamParser(source, visitor, options);
  try {
    return await parser.run();
  } finally {
    if (!(source instanceof Uint8Array)) await source.close().catch(() => undefined);
  }
}

class StreamParser {
  private readonly r: ChannelReader;
  private readonly v: StreamVisitor;
  private readonly o: StreamReaderOptions;
  private readonly streamSize: number | undefined;
  private vmdesc: Vmdesc | undefined;
  private vmdescFromOption: boolean;
  private readonly devices = new Map<string, VmdescDevice>();
  /** Where the pre-located trailer starts (checked when the walk reaches it). */
  private knownTrailer: TrailerLocation | undefined;
  /** The rest of the stream is buffered (pipe, no vmdesc yet): its view and start offset. */
  private tail: { bytes: Uint8Array; offset: number; limit: number } | undefined;
  private readonly sections = new Map<number, SectionHeader>();
  private readonly seenIds = new Set<number>();
  private footers: boolean | undefined;
  private configuration: Configuration | undefined;
  private pageSize: number;
  private ram: RamDecoder | undefined;
  private sawTrailer = false;
  /** A POSTCOPY_ADVISE command was seen (RAM blocks may then carry page sizes). */
  private postcopyAdvised = false;

  constructor(
    private readonly source: ByteSource | Uint8Array,
    visitor: StreamVisitor,
    options: StreamReaderOptions,
  ) {
    this.r = new ChannelReader(source, options.reader);
    this.v = visitor;
    this.o = options;
    this.streamSize = source instanceof Uint8Array ? source.length : source.size;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.vmdescFromOption = options.vmdesc !== undefined;
    if (options.vmdesc !== undefined) this.useVmdesc(options.vmdesc);
  }

  async run(): Promise<StreamSummary> {
    await this.preloadTrailer();
    const r = this.r;
    const v = this.v;
    const header = await r.retry(() => {
      const at = r.offset;
      const magic = r.u32();
      if (magic !== QEMU_VM_FILE_MAGIC) {
        throw new VmsError('E_FORMAT', 'not a QEMU migration stream', {
          offset: at,
          expected: 'magic 0x5145564d ("QEVM")',
          actual: `0x${magic.toString(16).padStart(8, '0')}`,
        });
      }
      const version = r.u32();
      if (version !== QEMU_VM_FILE_VERSION) {
        throw new VmsError('E_VERSION', version === QEMU_VM_FILE_VERSION_COMPAT ? 'SaveVM v2 format is obsolete' : 'unsupported stream version', {
          offset: at + 4,
          expected: 'version 3',
          actual: `${version}`,
        });
      }
      return { magic, version };
    });
    await v.header?.(header);
    if ((await r.fill(1)) && r.peekU8() === SectionType.CONFIGURATION) {
      const c = await r.retry(() => {
        r.u8();
        return decodeConfiguration(r);
      });
      this.configuration = c;
      const ps = configuredPageSize(c);
      if (ps !== undefined) this.pageSize = ps;
      await v.configuration?.(c);
    }
    await this.items(0, Infinity);
    // After EOF: the trailer, or nothing.
    if (await r.fill(1)) {
      const at = r.offset;
      const t = r.peekU8();
      if (t !== SectionType.VMDESCRIPTION) {
        throw new VmsError('E_FORMAT', 'unexpected bytes after EOF', { offset: at, expected: '0x06 (vmdesc trailer) or the end', actual: hex(t) });
      }
      await this.trailer();
      if (await r.fill(1)) {
        throw new VmsError('E_FORMAT', 'bytes after the vmdesc trailer', { offset: r.offset, expected: 'the end of the stream', actual: hex(r.peekU8()) });
      }
    }
    const total = r.offset;
    await v.end?.(total);
    return {
      bytes: total,
      ...(this.configuration !== undefined ? { configuration: this.configuration } : {}),
      footers: this.footers,
      trailer: this.sawTrailer,
      ...(this.vmdesc !== undefined ? { vmdesc: this.vmdesc } : {}),
      pageSize: this.pageSize,
    };
  }

  /** Items until EOF (depth 0) or until `end` (inside a PACKAGED blob). */
  private async items(depth: number, end: number): Promise<void> {
    const r = this.r;
    for (;;) {
      if (depth > 0 && r.offset >= end) {
        if (r.offset > end) throw new VmsError('E_FORMAT', 'packaged data overruns its length', { offset: end, path: ['packaged'] });
        return;
      }
      if (!(await r.fill(1))) {
        throw new VmsError('E_TRUNCATED', 'stream ends before QEMU_VM_EOF', { offset: r.offset, expected: 'a section, a command or EOF (0x00)' });
      }
      const at = r.offset;
      const type = r.u8();
      if (type === SectionType.EOF) {
        await this.v.eof?.(at, depth);
        if (depth === 0) return;
        continue;
      }
      if (type === SectionType.COMMAND) {
        const c = await this.retryFrom(() => decodeCommand(r));
        if (c.cmd === Command.POSTCOPY_ADVISE) {
          this.postcopyAdvised = true;
          if (this.ram !== undefined) this.ram.postcopyAdvised = true;
        }
        await this.v.command?.(c);
        if (c.cmd === Command.PACKAGED) {
          const len = Number(c.detail.length);
          if (depth > 0) throw new VmsError('E_FORMAT', 'PACKAGED command inside a package', { offset: at, path: ['packaged'] });
          if (this.streamSize !== undefined && r.offset + len > this.streamSize) {
            throw new VmsError('E_TRUNCATED', 'packaged data is longer than the stream', { offset: at, path: ['packaged'], expected: `${len} bytes` });
          }
          await this.items(1, r.offset + len);
          await this.v.packagedEnd?.();
        }
        continue;
      }
      const kind = SECTION_KIND_BY_BYTE[type];
      if (kind === undefined) {
        throw new VmsError('E_FORMAT', 'unknown section type', {
          offset: at,
          expected: 'a section type (0x00-0x04), a command (0x08)',
          actual: hex(type),
        });
      }
      await this.section(kind, at, depth);
    }
  }

  /** Like reader.retry, after the unit's type byte (already read, so never re-read). */
  private async retryFrom<T>(decode: () => T): Promise<T> {
    const r = this.r;
    const afterType = r.mark();
    for (;;) {
      try {
        return decode();
      } catch (e) {
        if (e !== NEED_MORE) throw e;
        r.reset(afterType);
        await r.more();
      }
    }
  }

  private async section(kind: SectionHeader['kind'], at: number, depth: number): Promise<void> {
    const r = this.r;
    let h = await this.retryFrom((): SectionHeader => {
      const id = r.u32();
      if (kind === 'part' || kind === 'end') {
        const started = this.sections.get(id);
        if (started === undefined) {
          throw new VmsError('E_FORMAT', `section id ${id} was never started`, { offset: at + 1, expected: 'the id of a START section', actual: `${id}` });
        }
        return { kind, id, idstr: started.idstr, instance: started.instance, version: started.version, offset: at, depth };
      }
      const idstr = r.countedString();
      const instance = r.u32();
      const version = r.u32();
      const description = kind === 'full' ? this.devices.get(deviceKey(idstr, instance)) : undefined;
      return { kind, id, idstr, instance, version, offset: at, depth, ...(description !== undefined ? { description } : {}) };
    });
    if (kind === 'start') this.sections.set(h.id, h);
    this.seenIds.add(h.id);
    const isRam = h.idstr === RAM_IDSTR && kind !== 'full';
    if (!isRam && h.description === undefined && this.vmdesc === undefined && this.tail === undefined) {
      // First device section on a pipe: find the trailer first, so the header can carry its description.
      await this.bufferTail();
      const description = this.devices.get(deviceKey(h.idstr, h.instance));
      if (description !== undefined && kind === 'full') h = { ...h, description };
    }
    await this.v.sectionStart?.(h);
    try {
      if (isRam) {
        if (h.version !== 4) {
          throw new VmsError('E_VERSION', 'unsupported RAM section version', { offset: at, expected: 'version 4', actual: `${h.version}` });
        }
        await this.ramDecoder().section(h, this.v);
      } else {
        await this.device(h);
      }
    } catch (e) {
      throw isVmsError(e) ? relabel(e, h) : e;
    }
    const payloadEnd = r.offset;
    const footer = await this.footer(h);
    await this.v.sectionEnd?.(h, { payloadEnd, footer });
  }

  private ramDecoder(): RamDecoder {
    if (this.ram === undefined) {
      this.ram = new RamDecoder(this.r, {
        pageSize: this.pageSize,
        pageData: this.o.pageData ?? true,
        decodeXbzrle: this.o.decodeXbzrle ?? false,
        decodeCompressed: this.o.decodeCompressed ?? false,
        ignoreShared: this.configuration !== undefined && hasCapability(this.configuration, 'x-ignore-shared'),
        postcopyPageSizes: this.o.postcopyPageSizes ?? 'auto',
        maxBlocks: 4096,
      });
      this.ram.postcopyAdvised = this.postcopyAdvised;
    }
    return this.ram;
  }

  /** Reads an optional footer and checks it names this section. */
  private async footer(h: SectionHeader): Promise<boolean> {
    const r = this.r;
    const present = (await r.fill(1)) && r.peekU8() === SectionType.FOOTER;
    if (this.footers !== undefined && present !== this.footers) {
      throw new VmsError('E_FORMAT', present ? 'unexpected section footer' : 'missing section footer', {
        offset: r.offset,
        path: [sectionLabel(h)],
        expected: present ? 'no footer, as in earlier sections' : `0x7e footer for section ${h.id}`,
        actual: (await r.fill(1)) ? hex(r.peekU8()) : 'the end of the stream',
      });
    }
    this.footers = present;
    if (!present) return false;
    const at = r.offset;
    const id = await r.retry(() => {
      r.u8();
      return r.u32();
    });
    if (id !== h.id) {
      throw new VmsError('E_MISMATCH', 'mismatched section id in footer', { offset: at + 1, path: [sectionLabel(h)], expected: `${h.id}`, actual: `${id}` });
    }
    return true;
  }

  private async device(h: SectionHeader): Promise<void> {
    const r = this.r;
    const desc = h.description;
    const fv: OutputVisitor | undefined = this.v.deviceFields?.(h);
    if (desc !== undefined && h.kind === 'full') {
      if (desc.version !== undefined && desc.version !== h.version) {
        throw new VmsError('E_MISMATCH', 'section version differs from its vmdesc entry', {
          offset: h.offset,
          expected: `${desc.version}`,
          actual: `${h.version}`,
        });
      }
      const limits = {
        maxFieldBytes: this.o.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES,
        streamEnd: this.streamSize ?? (this.tail !== undefined ? this.tail.offset + this.tail.bytes.length : Infinity),
      };
      const d = desc;
      const start = r.mark();
      await r.retry(() => decodeDevice(r, h.idstr, d, undefined, limits));
      if (fv !== undefined) {
        r.reset(start);
        decodeDevice(r, h.idstr, d, fv, limits);
      }
      return;
    }
    // Nothing describes it: find its end by what follows.
    if (this.tail === undefined) await this.bufferTail();
    const tail = this.tail!;
    const from = r.offset - tail.offset;
    const end = findPayloadEnd(tail.bytes, from, h.id, { seenIds: this.seenIds, footers: this.footers, limit: tail.limit });
    if (end < 0) {
      // Usually the stream was cut short (which also took the trailer away).
      const cut = tail.limit === tail.bytes.length;
      throw new VmsError(cut ? 'E_TRUNCATED' : 'E_FORMAT', 'cannot find the end of an undescribed section', {
        offset: r.offset,
        expected: 'a vmdesc entry, or a footer/next section header after the data',
        actual: cut ? `the stream ends at byte ${tail.offset + tail.bytes.length} with no trailer and no end found` : 'no plausible end',
      });
    }
    const payloadOffset = r.offset;
    const bytes = r.bytesView(end - from);
    const descs = this.o.descriptions;
    if (descs !== undefined && h.kind === 'full') {
      const maxFieldBytes = this.o.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
      const outcome = decodeWithDescriptions(descs, h, bytes, payloadOffset, maxFieldBytes);
      this.o.onDescription?.(h, outcome);
      if (outcome.decoded) {
        if (fv !== undefined) decodeDescribed(h.idstr, outcome.device, bytes, fv, maxFieldBytes);
        return;
      }
    }
    if (fv !== undefined) {
      fv.startStruct(h.idstr, { vmsdName: h.idstr, version: h.version });
      fv.opaque('data', 'unknown', bytes);
      fv.endStruct();
    }
  }

  /** Buffers the rest of the stream (device data after RAM), then looks for the trailer in it. */
  private async bufferTail(): Promise<void> {
    const r = this.r;
    const cap = this.o.maxDeviceTail ?? DEFAULT_MAX_DEVICE_TAIL;
    while (await r.fill(r.buffered + 1)) {
      if (r.buffered > cap) {
        throw new VmsError('E_LIMIT', 'device data without a vmdesc is too large to buffer', {
          offset: r.offset,
          expected: `at most ${cap} bytes after the RAM sections`,
        });
      }
    }
    const offset = r.mark();
    const bytes = r.bytesView(r.buffered);
    r.reset(offset);
    const loc = this.vmdesc === undefined ? locateTrailer(bytes, offset) : this.knownTrailer;
    if (loc !== undefined && this.vmdesc === undefined) {
      this.knownTrailer = loc;
      const json = bytes.subarray(loc.jsonOffset - offset, loc.jsonOffset - offset + loc.length);
      this.useVmdesc(parseVmdesc(json, loc.jsonOffset));
    }
    const limit = loc !== undefined ? loc.offset - offset : bytes.length;
    this.tail = { bytes, offset, limit };
  }

  /** On a seekable source, reads the tail first and locates the trailer in it. */
  private async preloadTrailer(): Promise<void> {
    if (this.vmdescFromOption) return;
    const src = this.source;
    const size = this.streamSize;
    if (size === undefined) return;
    let window = Math.min(size, this.o.tailWindow ?? 1 << 20);
    const maxTrailer = this.o.maxTrailer ?? DEFAULT_MAX_TRAILER;
    for (;;) {
      let tail: Uint8Array;
      if (src instanceof Uint8Array) tail = src.subarray(size - window);
      else if (src.seek !== undefined) tail = await readAt(src, size - window, window);
      else return;
      const loc = locateTrailer(tail, size - window);
      if (loc !== undefined) {
        this.knownTrailer = loc;
        const json = tail.subarray(loc.jsonOffset - (size - window));
        try {
          this.useVmdesc(parseVmdesc(json, loc.jsonOffset));
        } catch {
          // A damaged trailer: fall back to the walk, which reports it where it is.
          this.knownTrailer = undefined;
        }
        return;
      }
      if (window >= size || window >= maxTrailer) return;
      window = Math.min(size, window * 4, maxTrailer);
    }
  }

  private useVmdesc(d: Vmdesc): void {
    this.vmdesc = d;
    this.devices.clear();
    for (const dev of d.devices) this.devices.set(deviceKey(dev.name, dev.instance_id), dev);
    if (this.ram === undefined && d.page_size > 0 && (d.page_size & (d.page_size - 1)) === 0) this.pageSize = d.page_size;
  }

  private async trailer(): Promise<void> {
    const r = this.r;
    const at = r.offset;
    const len = await r.retry(() => {
      r.u8();
      return r.u32();
    });
    const max = this.o.maxTrailer ?? DEFAULT_MAX_TRAILER;
    if (len > max || (this.streamSize !== undefined && at + 5 + len > this.streamSize)) {
      throw new VmsError(len > max ? 'E_LIMIT' : 'E_TRUNCATED', 'vmdesc trailer length is out of range', {
        offset: at + 1,
        path: ['vmdesc'],
        expected: `at most ${Math.min(max, (this.streamSize ?? Infinity) - at - 5)} bytes`,
        actual: `${len}`,
      });
    }
    if (!(await r.fill(len))) {
      throw new VmsError('E_TRUNCATED', 'stream ends inside the vmdesc trailer', { offset: r.offset, path: ['vmdesc'], expected: `${len} bytes` });
    }
    const json = r.bytesView(len);
    // The trailer found up front is these very bytes (same place, same length): parsed already.
    const known = this.knownTrailer;
    const vmdesc =
      known !== undefined && known.offset === at && known.length === len && this.vmdesc !== undefined && !this.vmdescFromOption
        ? this.vmdesc
        : parseVmdesc(json, at + 5);
    this.sawTrailer = true;
    if (this.vmdesc === undefined) this.useVmdesc(vmdesc);
    await this.v.trailer?.({ json, vmdesc, offset: at });
  }
}

/** Reads `n` bytes at `position` from a seekable source, then seeks back to 0. */
async function readAt(src: ByteSource, position: number, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  src.seek!(position);
  let got = 0;
  while (got < n) {
    const k = await src.read(out.subarray(got));
    if (k === 0) break;
    got += k;
  }
  src.seek!(0);
  return out.subarray(0, got);
}

function deviceKey(name: string, instance: number): string {
  return `${name}\u0000${instance}`;
}

/** "section 2(ram)" as QEMU names sections in its errors. */
export function sectionLabel(h: Pick<SectionHeader, 'id' | 'idstr' | 'instance'>): string {
  return `section ${h.id}(${h.idstr}${h.instance !== 0 ? `:${h.instance}` : ''})`;
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

/** Puts "section N(idstr)" first in an error's path (replacing a leading bare idstr). */
function relabel(e: VmsError, h: SectionHeader): VmsError {
  const label = sectionLabel(h);
  if (e.path[0] === label) return e;
  const rest = e.path[0] === h.idstr ? e.path.slice(1) : e.path;
  return new VmsError(e.code, e.reason, { offset: e.offset, path: [label, ...rest], expected: e.expected, actual: e.actual, cause: e.cause });
}
