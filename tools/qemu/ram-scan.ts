/**
 * A self-contained walker for the front of a QEMU 7.2 migration stream: header,
 * configuration record, commands and the iterative `ram` sections (spec §1, §3), up to the
 * first device (FULL) section, whose layout needs VMSDs. Used by the fixture tools to count
 * RAM record kinds (proving an XBZRLE stream really holds 0x40 records) and, optionally, to
 * rebuild RAM contents so they can be compared with what QEMU itself loaded.
 *
 * This is tooling, not the library's stream parser: it trusts sizes only after bounds checks
 * and reports problems as VmsError, but it makes no attempt at streaming.
 */

import { createHash } from 'node:crypto';
import { VmsError } from '../../src/errors.js';
import { xbzrleDecode, XBZRLE_ENCODING_FLAG } from '../../src/stream/xbzrle.js';

const PAGE_SIZE = 4096;
const MAGIC = 0x5145564d;

// RAM_SAVE_FLAG_* (spec §3.1)
const FLAG_ZERO = 0x02;
const FLAG_MEM_SIZE = 0x04;
const FLAG_PAGE = 0x08;
const FLAG_EOS = 0x10;
const FLAG_CONTINUE = 0x20;
const FLAG_XBZRLE = 0x40;
const FLAG_COMPRESS_PAGE = 0x100;
const KNOWN_FLAGS = FLAG_ZERO | FLAG_MEM_SIZE | FLAG_PAGE | FLAG_EOS | FLAG_CONTINUE | FLAG_XBZRLE | FLAG_COMPRESS_PAGE;

export interface RamBlockInfo {
  readonly name: string;
  readonly length: number;
  /** Guest physical address, sent only with x-ignore-shared. */
  readonly gpa?: number;
}

export interface RamRecordCounts {
  zero: number;
  page: number;
  xbzrle: number;
  compressed: number;
  /** RAM sections seen (START + PART + END). */
  sections: number;
}

export interface RamScan {
  /** Machine type from the configuration record, if the stream has one. */
  readonly machine: string | undefined;
  /** Names of configuration subsections present. */
  readonly configurationSubsections: readonly string[];
  /** Capabilities listed in `configuration/capabilities`. */
  readonly capabilities: readonly string[];
  readonly blocks: readonly RamBlockInfo[];
  readonly records: RamRecordCounts;
  /** Stream offset of the first section (after the header and configuration). */
  readonly firstSectionOffset: number;
  /** Whether section footers (0x7e) were found after RAM sections. */
  readonly footers: boolean;
  /** Stream offset of the first device (FULL) section or EOF, where this walker stops. */
  readonly stopOffset: number;
  /** Rebuilt RAM per block, when asked for (pages never sent stay zero). */
  readonly ram: ReadonlyMap<string, Uint8Array> | undefined;
}

export interface ScanOptions {
  /** Rebuild RAM block contents (applies ZERO, PAGE and XBZRLE records). */
  readonly rebuild?: boolean;
  /** Largest block length accepted for rebuilding, in bytes. Defaults to 256 MiB. */
  readonly maxRebuildBytes?: number;
  /** Called with the raw bytes of each RAM page record (header word, block name, payload). */
  readonly onRecord?: (bytes: Uint8Array) => void;
  /** With `rebuild`: called for each XBZRLE record with the page before and after applying it. */
  readonly onXbzrle?: (record: XbzrleRecord) => void;
}

export interface XbzrleRecord {
  readonly block: string;
  readonly addr: number;
  /** Stream offset of the delta's first byte. */
  readonly offset: number;
  readonly encoded: Uint8Array;
  /** A copy of the page before the delta. */
  readonly before: Uint8Array;
  /** The page after it (a view into the rebuilt RAM: copy it to keep it). */
  readonly after: Uint8Array;
}

/** Walks `buf` from the header through the RAM sections; throws VmsError on malformed input. */
export function scanRam(buf: Uint8Array, options: ScanOptions = {}): RamScan {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > buf.length) {
      throw new VmsError('E_TRUNCATED', `stream ends inside ${what}`, { offset: pos, expected: `${n} bytes`, actual: `${buf.length - pos} bytes` });
    }
  };
  const u8 = (what: string): number => {
    need(1, what);
    return buf[pos++]!;
  };
  const be16 = (what: string): number => {
    need(2, what);
    const v = dv.getUint16(pos, false);
    pos += 2;
    return v;
  };
  const be32 = (what: string): number => {
    need(4, what);
    const v = dv.getUint32(pos, false);
    pos += 4;
    return v;
  };
  // RAM offsets and sizes fit in 2^53 for any machine we run, so numbers are fine here.
  const be64 = (what: string): number => {
    need(8, what);
    const v = dv.getUint32(pos, false) * 2 ** 32 + dv.getUint32(pos + 4, false);
    pos += 8;
    return v;
  };
  const counted = (what: string): string => {
    const len = u8(`${what} length`);
    need(len, what);
    const s = String.fromCharCode(...buf.subarray(pos, pos + len));
    pos += len;
    return s;
  };

  if (be32('the magic') !== MAGIC) throw new VmsError('E_FORMAT', 'not a QEMU migration stream', { offset: 0, expected: 'QEVM magic' });
  const version = be32('the version');
  if (version !== 3) throw new VmsError('E_VERSION', 'unsupported stream version', { offset: 4, expected: '3', actual: String(version) });

  let machine: string | undefined;
  const configurationSubsections: string[] = [];
  const capabilities: string[] = [];
  if (buf[pos] === 0x07) {
    pos++;
    const len = be32('the machine name length');
    if (len > 255) throw new VmsError('E_LIMIT', 'machine name too long', { offset: pos - 4, actual: String(len) });
    need(len, 'the machine name');
    machine = String.fromCharCode(...buf.subarray(pos, pos + len));
    pos += len;
    while (buf[pos] === 0x05) {
      const at = pos++;
      const name = counted('a configuration subsection name');
      be32('a subsection version');
      configurationSubsections.push(name);
      if (name === 'configuration/capabilities') {
        const count = be32('the capability count');
        if (count > 64) throw new VmsError('E_LIMIT', 'too many capabilities', { offset: pos - 4, actual: String(count) });
        for (let i = 0; i < count; i++) capabilities.push(counted('a capability name'));
      } else if (name === 'configuration/target-page-bits') {
        be32('target page bits');
      } else if (name === 'configuration/uuid') {
        need(16, 'the uuid');
        pos += 16;
      } else {
        throw new VmsError('E_UNKNOWN', 'unknown configuration subsection', { offset: at, actual: name });
      }
    }
  }
  const ignoreShared = capabilities.includes('x-ignore-shared');
  const firstSectionOffset = pos;

  const blocks: RamBlockInfo[] = [];
  const records: RamRecordCounts = { zero: 0, page: 0, xbzrle: 0, compressed: 0, sections: 0 };
  const rebuild = options.rebuild === true;
  const maxRebuild = options.maxRebuildBytes ?? 256 * 1024 * 1024;
  const ram = rebuild ? new Map<string, Uint8Array>() : undefined;
  let ramSectionId = -1;
  let footers = false;
  let current: RamBlockInfo | undefined; // CONTINUE state: persists across sections (spec §3.3)

  const blockNamed = (name: string, at: number): RamBlockInfo => {
    const b = blocks.find((x) => x.name === name);
    if (b === undefined) throw new VmsError('E_UNKNOWN', 'page for an unknown RAM block', { offset: at, actual: name });
    return b;
  };

  const readRamSetup = (): void => {
    const word = be64('the RAM size word');
    if ((word % PAGE_SIZE & FLAG_MEM_SIZE) === 0) throw new VmsError('E_FORMAT', 'RAM setup without MEM_SIZE', { offset: pos - 8 });
    const total = word - (word % PAGE_SIZE);
    let sum = 0;
    while (sum < total) {
      const name = counted('a RAM block name');
      const length = be64('a RAM block length');
      const block: RamBlockInfo = ignoreShared ? { name, length, gpa: be64('a RAM block address') } : { name, length };
      blocks.push(block);
      sum += length;
      if (rebuild) {
        if (length > maxRebuild) throw new VmsError('E_LIMIT', 'RAM block too large to rebuild', { offset: pos, actual: `${length} bytes` });
        ram!.set(name, new Uint8Array(length));
      }
    }
    if (sum !== total) throw new VmsError('E_FORMAT', 'RAM block lengths do not sum to the total', { offset: pos, expected: String(total), actual: String(sum) });
    if (be64('the RAM setup EOS') !== FLAG_EOS) throw new VmsError('E_FORMAT', 'RAM setup not closed by EOS', { offset: pos - 8 });
  };

  const readRamPages = (): void => {
    for (;;) {
      const at = pos;
      const word = be64('a RAM record header');
      const flags = word % PAGE_SIZE;
      const addr = word - flags;
      if ((flags & ~KNOWN_FLAGS) !== 0) throw new VmsError('E_FORMAT', 'unknown RAM flags', { offset: at, actual: `0x${flags.toString(16)}` });
      if (flags & FLAG_EOS) return;
      if (!(flags & FLAG_CONTINUE)) current = blockNamed(counted('a RAM block name'), at);
      if (current === undefined) throw new VmsError('E_FORMAT', 'CONTINUE with no previous block', { offset: at });
      if (addr + PAGE_SIZE > current.length) throw new VmsError('E_FORMAT', 'page outside its RAM block', { offset: at, path: [current.name] });
      const page = ram?.get(current.name)?.subarray(addr, addr + PAGE_SIZE);
      if (flags & FLAG_ZERO) {
        const fill = u8('a zero-page fill byte');
        page?.fill(fill);
        records.zero++;
      } else if (flags & FLAG_PAGE) {
        need(PAGE_SIZE, 'a page');
        page?.set(buf.subarray(pos, pos + PAGE_SIZE));
        pos += PAGE_SIZE;
        records.page++;
      } else if (flags & FLAG_XBZRLE) {
        const enc = u8('the XBZRLE encoding flag');
        if (enc !== XBZRLE_ENCODING_FLAG) throw new VmsError('E_FORMAT', 'bad XBZRLE encoding flag', { offset: pos - 1, expected: '0x01', actual: `0x${enc.toString(16)}` });
        const len = be16('the XBZRLE length');
        if (len > PAGE_SIZE) throw new VmsError('E_FORMAT', 'XBZRLE length exceeds the page size', { offset: pos - 2, actual: String(len) });
        need(len, 'an XBZRLE delta');
        // Without rebuilding, decode into scratch anyway: it checks the delta's bounds.
        const encoded = buf.subarray(pos, pos + len);
        const before = page !== undefined && options.onXbzrle !== undefined ? page.slice() : undefined;
        xbzrleDecode(encoded, page ?? new Uint8Array(PAGE_SIZE), { offset: pos, path: ['ram', current.name, addr] });
        if (before !== undefined && page !== undefined) options.onXbzrle?.({ block: current.name, addr, offset: pos, encoded, before, after: page });
        pos += len;
        records.xbzrle++;
      } else if (flags & FLAG_COMPRESS_PAGE) {
        const len = be32('a compressed page length');
        need(len, 'a compressed page');
        pos += len;
        records.compressed++;
        if (page !== undefined) throw new VmsError('E_UNKNOWN', 'cannot rebuild compressed pages', { offset: at });
      } else {
        throw new VmsError('E_FORMAT', 'RAM record with no payload kind', { offset: at, actual: `0x${flags.toString(16)}` });
      }
      options.onRecord?.(buf.subarray(at, pos));
    }
  };

  for (;;) {
    const at = pos;
    const type = u8('a section type');
    if (type === 0x00 || type === 0x04) {
      pos = at;
      break;
    }
    if (type === 0x08) {
      be16('a command');
      const len = be16('a command length');
      need(len, 'a command payload');
      pos += len;
      continue;
    }
    if (type === 0x01) {
      const id = be32('a section id');
      const idstr = counted('a section idstr');
      be32('an instance id');
      be32('a section version');
      if (idstr !== 'ram') throw new VmsError('E_UNKNOWN', 'iterative section other than ram', { offset: at, actual: idstr });
      ramSectionId = id;
      records.sections++;
      readRamSetup();
    } else if (type === 0x02 || type === 0x03) {
      const id = be32('a section id');
      if (id !== ramSectionId) throw new VmsError('E_UNKNOWN', 'PART/END for a section that did not start', { offset: at, actual: String(id) });
      records.sections++;
      readRamPages();
    } else {
      throw new VmsError('E_FORMAT', 'unexpected section type', { offset: at, actual: `0x${type.toString(16)}` });
    }
    if (buf[pos] === 0x7e) {
      const fat = pos++;
      const id = be32('a footer section id');
      if (id !== ramSectionId) throw new VmsError('E_MISMATCH', 'footer names another section', { offset: fat, expected: String(ramSectionId), actual: String(id) });
      footers = true;
    }
  }
  return { machine, configurationSubsections, capabilities, blocks, records, firstSectionOffset, footers, stopOffset: pos, ram };
}

/**
 * A digest of the stream that ignores where QEMU split RAM into sections: the bytes before
 * the first section, every RAM page record in order, and everything from the first device
 * section on. QEMU ends a RAM section after 50 ms of wall-clock time, so on a loaded machine
 * two saves of the same paused guest can differ in framing alone; this tells that apart
 * from a real difference.
 */
export function framingFreeDigest(buf: Uint8Array): string {
  const records = createHash('sha256');
  const scan = scanRam(buf, { onRecord: (bytes) => records.update(bytes) });
  return createHash('sha256')
    .update(buf.subarray(0, scan.firstSectionOffset)) // header and configuration
    .update(JSON.stringify(scan.blocks))
    .update(records.digest())
    .update(buf.subarray(scan.stopOffset)) // device sections, EOF, vmdesc
    .digest('hex');
}
