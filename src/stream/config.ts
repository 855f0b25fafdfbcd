/**
 * The configuration record (QEMU_VM_CONFIGURATION, spec §1.5) and QEMU_VM_COMMAND records
 * (§1.6): decoding and encoding. Both are small, so they are decoded synchronously inside
 * the reader's `retry`.
 */
import type { ChannelReader } from '../channel/reader.js';
import type { ChannelWriter } from '../channel/writer.js';
import { VmsError } from '../errors.js';
import { COMMAND_LENGTHS, COMMAND_NAMES, Command, SectionType } from './constants.js';
import type { ConfigSubsection, Configuration, StreamCommand } from './events.js';

/** Longest machine-type name we accept (QEMU's are ~20 bytes). */
const MAX_MACHINE_NAME = 4096;
const MAX_CAPABILITIES = 256;

/** Reads the record after its 0x07 byte. */
export function decodeConfiguration(r: ChannelReader): Configuration {
  const lenAt = r.offset;
  const len = r.u32();
  if (len > MAX_MACHINE_NAME) {
    throw new VmsError('E_LIMIT', 'machine type name is implausibly long', {
      offset: lenAt,
      path: ['configuration', 'name'],
      expected: `at most ${MAX_MACHINE_NAME} bytes`,
      actual: `${len}`,
    });
  }
  const machine = latin1(r.bytesView(len));
  const subsections: ConfigSubsection[] = [];
  // Subsections follow while the next byte is 0x05 (the loader peeks, as for any VMSD).
  while (r.peekU8() === SectionType.SUBSECTION) {
    const at = r.offset;
    r.u8();
    const name = r.countedString();
    const version = r.u32();
    const path = ['configuration', name];
    switch (name) {
      case 'configuration/target-page-bits':
        subsections.push({ kind: 'target-page-bits', name, version, pageBits: r.u32() });
        break;
      case 'configuration/capabilities': {
        const countAt = r.offset;
        const count = r.u32();
        if (count > MAX_CAPABILITIES) {
          throw new VmsError('E_LIMIT', 'too many capabilities', { offset: countAt, path, expected: `at most ${MAX_CAPABILITIES}`, actual: `${count}` });
        }
        const caps: string[] = [];
        for (let i = 0; i < count; i++) caps.push(r.countedString());
        subsections.push({ kind: 'capabilities', name, version, capabilities: caps });
        break;
      }
      case 'configuration/uuid':
        subsections.push({ kind: 'uuid', name, version, uuid: r.bytesCopy(16) });
        break;
      default:
        throw new VmsError('E_UNKNOWN', 'unknown configuration subsection', {
          offset: at,
          path,
          expected: 'configuration/target-page-bits, configuration/capabilities or configuration/uuid',
          actual: JSON.stringify(name),
        });
    }
  }
  return { machine, subsections };
}

/** Writes the record, its 0x07 byte included. */
export function encodeConfiguration(w: ChannelWriter, c: Configuration): void {
  w.u8(SectionType.CONFIGURATION);
  w.u32(c.machine.length);
  w.bytes(latin1Bytes(c.machine));
  for (const s of c.subsections) {
    w.u8(SectionType.SUBSECTION).countedString(s.name).u32(s.version);
    switch (s.kind) {
      case 'target-page-bits':
        w.u32(s.pageBits);
        break;
      case 'capabilities':
        w.u32(s.capabilities.length);
        for (const cap of s.capabilities) w.countedString(cap);
        break;
      case 'uuid':
        w.bytes(s.uuid);
        break;
    }
  }
}

/** The page size a configuration implies, or undefined if it does not say. */
export function configuredPageSize(c: Configuration): number | undefined {
  for (const s of c.subsections) if (s.kind === 'target-page-bits' && s.pageBits >= 9 && s.pageBits <= 24) return 2 ** s.pageBits;
  return undefined;
}

/** True if the configuration announces the x-ignore-shared capability. */
export function hasCapability(c: Configuration, name: string): boolean {
  return c.subsections.some((s) => s.kind === 'capabilities' && s.capabilities.includes(name));
}

/** Reads a command after its 0x08 byte. */
export function decodeCommand(r: ChannelReader): StreamCommand {
  const offset = r.offset - 1;
  const cmd = r.u16();
  const len = r.u16();
  const want = COMMAND_LENGTHS[cmd];
  const name = COMMAND_NAMES[cmd] ?? `CMD_${cmd}`;
  if (want === undefined) {
    throw new VmsError('E_FORMAT', `invalid command ${cmd}`, { offset, path: ['command'], expected: 'a command from 1 to 10', actual: `${cmd}` });
  }
  if (want >= 0 && len !== want) {
    throw new VmsError('E_FORMAT', `command ${name} has the wrong length`, { offset: offset + 3, path: ['command', name], expected: `${want}`, actual: `${len}` });
  }
  const payload = r.bytesCopy(len);
  return { cmd, name, payload, detail: commandDetail(cmd, name, payload, offset), offset };
}

function commandDetail(cmd: number, name: string, p: Uint8Array, offset: number): StreamCommand['detail'] {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const bad = (expected: string): never => {
    throw new VmsError('E_FORMAT', `command ${name} has a malformed payload`, { offset: offset + 5, path: ['command', name], expected, actual: `${p.length} bytes` });
  };
  switch (cmd) {
    case Command.PING:
      return { value: dv.getUint32(0, false) };
    case Command.PACKAGED:
      return { length: dv.getUint32(0, false) };
    case Command.POSTCOPY_ADVISE:
      if (p.length === 0) return {};
      if (p.length !== 16) bad('0 or 16 bytes');
      return { hostPageSizes: dv.getBigUint64(0, false), targetPageSize: dv.getBigUint64(8, false) };
    case Command.POSTCOPY_RAM_DISCARD: {
      if (p.length < 3) bad('version, name length, name, 0, ranges');
      const n = p[1]!;
      if (p.length < 3 + n || (p.length - 3 - n) % 16 !== 0) bad('a name and whole (start, length) pairs');
      const ranges: (readonly [bigint, bigint])[] = [];
      for (let at = 3 + n; at < p.length; at += 16) ranges.push([dv.getBigUint64(at, false), dv.getBigUint64(at + 8, false)]);
      return { version: p[0]!, block: latin1(p.subarray(2, 2 + n)), ranges };
    }
    case Command.RECV_BITMAP: {
      if (p.length < 1 || p.length !== 1 + p[0]!) bad('a counted block name');
      return { block: latin1(p.subarray(1)) };
    }
    default:
      return {};
  }
}

/** Writes a command, its 0x08 byte included. */
export function encodeCommand(w: ChannelWriter, c: Pick<StreamCommand, 'cmd' | 'payload'>): void {
  w.u8(SectionType.COMMAND).u16(c.cmd).u16(c.payload.length).bytes(c.payload);
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
