/**
 * Descriptions from outside a stream (`--descriptions FILE`), for streams that carry no
 * vmdesc trailer (old machine types, spec §1.7). The FILE may be:
 *  - a vmdesc JSON (`{"page_size": .., "devices": [..]}`);
 *  - a QEMU stream with a trailer: its trailer is taken (a 7.2 stream's trailer describes
 *    the same device VMSDs an old machine type sends);
 *  - QEMU's `-dump-vmstate` JSON (spec §4.2): it has no type names and no array counts, so
 *    types are guessed from C sizes (1/2/4/8 → uintN), nested Descriptions become structs
 *    and anything else is read as `unknown` bytes of its C size.
 *
 * A description borrowed this way may not fit: a section is decoded with it only if the
 * decode consumes exactly the bytes split off by structure (split.ts) and every subsection
 * header is one it knows. Otherwise the section stays opaque, with a note saying why.
 */
import { open } from 'node:fs/promises';
import { ChannelReader, NEED_MORE } from '../channel/reader.js';
import { VmsError, isVmsError, type PathElement } from '../errors.js';
import type { OutputVisitor } from '../format/visitor.js';
import { QEMU_VM_FILE_MAGIC } from './constants.js';
import { decodeDevice } from './device.js';
import type { SectionHeader } from './events.js';
import { locateTrailer } from './trailer.js';
import { parseVmdesc, type Vmdesc, type VmdescDevice, type VmdescField, type VmdescStruct } from './vmdesc.js';

export type DescriptionsKind = 'vmdesc' | 'stream' | 'dump-vmstate';

/** One described device, ready to be instantiated for a section version. */
interface Entry {
  /** Section idstr and instance, when the source names them (vmdesc, stream). */
  readonly idstr?: string;
  readonly instance?: number;
  readonly vmsdName: string;
  readonly version: number;
  /** Lowest section version the entry can describe (dump-vmstate: minimum_version_id). */
  readonly minVersion: number;
  /** Whether some field's presence depends on a `field_exists` test we cannot run. */
  readonly conditional: boolean;
  /** The vmdesc-like description for a section version; `conditional` fields in or out. */
  instantiate(version: number, withConditional: boolean): VmdescDevice;
}

/** Descriptions loaded from a file, indexed for matching sections. */
export interface Descriptions {
  readonly kind: DescriptionsKind;
  /** Where they came from (a file name), for notes. */
  readonly label: string;
  /** True for dump-vmstate: field types are guessed from C sizes. */
  readonly typesGuessed: boolean;
  /** Number of device descriptions. */
  readonly count: number;
  readonly byIdstr: ReadonlyMap<string, readonly Entry[]>;
  readonly byVmsd: ReadonlyMap<string, readonly Entry[]>;
}

/** What became of one section. */
export type DescriptionOutcome =
  | {
      readonly decoded: true;
      readonly device: VmdescDevice;
      /** Matched by (idstr, instance), or by VMSD name and version. */
      readonly matchedBy: 'idstr' | 'vmsd';
      readonly note: string;
    }
  | { readonly decoded: false; readonly note: string };

/** Entries tried per section at most (each try is one dry-run decode of a few KiB). */
const MAX_TRIES = 8;
/** Largest descriptions file read whole; a stream's trailer is looked for in its last bytes. */
const MAX_FILE = 64 << 20;
const MAX_DEPTH = 64;

/** Reads descriptions from a file (see the module comment for the three forms). */
export async function readDescriptionsFile(path: string): Promise<Descriptions> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new VmsError('E_IO', `cannot open descriptions file ${path}`, { cause: e, actual: e instanceof Error ? e.message : String(e) });
  }
  try {
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(4, size));
    await fh.read(head, 0, head.length, 0);
    const isStream = head.length === 4 && be32(head, 0) === QEMU_VM_FILE_MAGIC;
    if (!isStream && size > MAX_FILE) {
      throw new VmsError('E_LIMIT', 'descriptions file is too large', { path: [path], expected: `at most ${MAX_FILE} bytes`, actual: `${size}` });
    }
    // A stream: only its end can hold the trailer.
    const from = isStream ? Math.max(0, size - MAX_FILE) : 0;
    const bytes = new Uint8Array(size - from);
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await fh.read(bytes, got, bytes.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return parseDescriptions(bytes.subarray(0, got), path, isStream ? { streamOffset: from } : {});
  } finally {
    await fh.close();
  }
}

/**
 * Parses descriptions from bytes: a stream (or its tail, with `streamOffset`), a vmdesc JSON
 * or a -dump-vmstate JSON. Throws E_DESCRIPTION when the bytes are none of these.
 */
export function parseDescriptions(bytes: Uint8Array, label: string, o: { streamOffset?: number } = {}): Descriptions {
  const isStream = o.streamOffset !== undefined || (bytes.length >= 4 && be32(bytes, 0) === QEMU_VM_FILE_MAGIC);
  if (isStream) {
    const loc = locateTrailer(bytes, o.streamOffset ?? 0);
    if (loc === undefined) {
      throw new VmsError('E_DESCRIPTION', 'the descriptions stream has no vmdesc trailer', {
        path: [label],
        expected: 'a stream that ends with a vmdesc trailer (0x06, be32 length, JSON)',
      });
    }
    const at = loc.jsonOffset - (o.streamOffset ?? 0);
    return fromVmdesc(parseVmdesc(bytes.subarray(at, at + loc.length), loc.jsonOffset), 'stream', label);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new VmsError('E_DESCRIPTION', 'descriptions file is neither a stream nor JSON', {
      path: [label],
      expected: 'a vmdesc JSON, a -dump-vmstate JSON or a QEMU stream with a trailer',
      actual: e instanceof Error ? e.message : String(e),
    });
  }
  if (isObject(value) && 'devices' in value) return fromVmdesc(parseVmdesc(bytes), 'vmdesc', label);
  if (isObject(value)) return fromDumpVmstate(value, label);
  throw new VmsError('E_DESCRIPTION', 'descriptions JSON has an unexpected shape', {
    path: [label],
    expected: 'an object: {"page_size", "devices"} or a -dump-vmstate dump',
    actual: Array.isArray(value) ? 'an array' : typeof value,
  });
}

function fromVmdesc(d: Vmdesc, kind: DescriptionsKind, label: string): Descriptions {
  const entries: Entry[] = d.devices.map((dev) => ({
    idstr: dev.name,
    instance: dev.instance_id,
    vmsdName: dev.vmsd_name ?? dev.name,
    version: dev.version ?? 0,
    minVersion: dev.version ?? 0,
    conditional: false,
    instantiate: () => dev,
  }));
  return index(kind, label, false, entries);
}

function index(kind: DescriptionsKind, label: string, typesGuessed: boolean, entries: readonly Entry[]): Descriptions {
  const byIdstr = new Map<string, Entry[]>();
  const byVmsd = new Map<string, Entry[]>();
  const add = (m: Map<string, Entry[]>, k: string, e: Entry): void => {
    const list = m.get(k);
    if (list === undefined) m.set(k, [e]);
    else list.push(e);
  };
  for (const e of entries) {
    if (e.idstr !== undefined) add(byIdstr, deviceKey(e.idstr, e.instance ?? 0), e);
    add(byVmsd, e.vmsdName, e);
  }
  return { kind, label, typesGuessed, count: entries.length, byIdstr, byVmsd };
}

// ---- -dump-vmstate ------------------------------------------------------------------------

interface DumpField {
  readonly name: string;
  readonly since: number;
  readonly conditional: boolean;
  /** C size of one element (not bytes on the wire). */
  readonly size: number;
  readonly nested?: DumpStruct;
}

interface DumpStruct {
  readonly name: string;
  readonly version: number;
  readonly minVersion: number;
  readonly fields: readonly DumpField[];
  readonly subsections: readonly DumpStruct[];
}

const GUESSED_TYPES: Readonly<Record<number, string>> = { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' };

function fromDumpVmstate(root: Record<string, unknown>, label: string): Descriptions {
  const path: PathElement[] = [label];
  const fail = (expected: string, actual: unknown): never => {
    throw new VmsError('E_DESCRIPTION', '-dump-vmstate JSON has an unexpected shape', {
      path: path.slice(),
      expected,
      actual: JSON.stringify(actual)?.slice(0, 60) ?? String(actual),
    });
  };
  const int = (o: Record<string, unknown>, k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      path.push(k);
      fail('a non-negative integer', v);
    }
    return v as number;
  };
  const readStruct = (v: unknown, depth: number): DumpStruct => {
    if (depth > MAX_DEPTH) fail(`nesting of at most ${MAX_DEPTH}`, 'deeper');
    if (!isObject(v)) return fail('a Description object', v);
    if (typeof v.name !== 'string') {
      path.push('name');
      fail('a string', v.name);
    }
    const fields: DumpField[] = [];
    const subsections: DumpStruct[] = [];
    list(v, 'Fields', (f) => {
      if (!isObject(f)) return fail('a field object', f);
      if (typeof f.field !== 'string') fail('a "field" name', f.field);
      const nested = f.Description === undefined ? undefined : withPath('Description', () => readStruct(f.Description, depth + 1));
      fields.push({
        name: f.field as string,
        since: int(f, 'version_id'),
        conditional: f.field_exists === true,
        size: int(f, 'size'),
        ...(nested !== undefined ? { nested } : {}),
      });
    });
    list(v, 'Subsections', (s) => {
      subsections.push(readStruct(s, depth + 1));
    });
    return { name: v.name as string, version: int(v, 'version_id'), minVersion: int(v, 'minimum_version_id'), fields, subsections };
  };
  const withPath = <T>(k: PathElement, fn: () => T): T => {
    path.push(k);
    const out = fn();
    path.pop();
    return out;
  };
  const list = (o: Record<string, unknown>, k: string, each: (v: unknown) => void): void => {
    const a = o[k];
    if (a === undefined) return;
    path.push(k);
    if (!Array.isArray(a)) fail('an array', a);
    path.push(0);
    for (let i = 0; i < (a as unknown[]).length; i++) {
      path[path.length - 1] = i;
      each((a as unknown[])[i]);
    }
    path.length -= 2;
  };
  const entries: Entry[] = [];
  for (const [key, v] of Object.entries(root)) {
    if (key === 'vmschkmachine') continue;
    path.push(key);
    if (!isObject(v) || v.Description === undefined) fail('an object with a "Description"', v);
    const d = withPath('Description', () => readStruct((v as Record<string, unknown>).Description, 0));
    path.pop();
    entries.push({
      vmsdName: d.name,
      version: d.version,
      minVersion: d.minVersion,
      conditional: hasConditional(d),
      instantiate: (version, withConditional) => ({
        name: d.name,
        instance_id: 0,
        vmsd_name: d.name,
        version,
        fields: guessFields(d.fields, version, withConditional),
        subsections: d.subsections.map((s) => guessStruct(s, withConditional)),
      }),
    });
  }
  if (entries.length === 0) fail('at least one device Description', Object.keys(root));
  return index('dump-vmstate', label, true, entries);
}

function hasConditional(d: DumpStruct): boolean {
  return d.fields.some((f) => f.conditional || (f.nested !== undefined && hasConditional(f.nested))) || d.subsections.some(hasConditional);
}

/** Fields present at `version` (QEMU loads a field when its version_id ≤ the stream's), with guessed types. */
function guessFields(fields: readonly DumpField[], version: number, withConditional: boolean): VmdescField[] {
  const out: VmdescField[] = [];
  for (const f of fields) {
    if (f.conditional ? !withConditional : f.since > version) continue;
    if (f.nested !== undefined) out.push({ name: f.name, type: 'struct', size: f.size, struct: guessStruct(f.nested, withConditional) });
    else out.push({ name: f.name, type: GUESSED_TYPES[f.size] ?? 'unknown', size: f.size });
  }
  return out;
}

/** A nested VMSD or subsection: loaded at its own current version (7.2 sends no other). */
function guessStruct(d: DumpStruct, withConditional: boolean): VmdescStruct {
  return {
    vmsd_name: d.name,
    version: d.version,
    fields: guessFields(d.fields, d.version, withConditional),
    subsections: d.subsections.map((s) => guessStruct(s, withConditional)),
  };
}

// ---- matching and trial decoding ------------------------------------------------------------

/**
 * Tries the descriptions that match section `h` on its payload `bytes` (split off by
 * structure; `payloadOffset` is where they start in the stream). Never throws for a
 * description that does not fit: that is an outcome with a note.
 */
export function decodeWithDescriptions(
  descs: Descriptions,
  h: SectionHeader,
  bytes: Uint8Array,
  payloadOffset: number,
  maxFieldBytes: number,
): DescriptionOutcome {
  const exact = descs.byIdstr.get(deviceKey(h.idstr, h.instance)) ?? [];
  const vmsdName = h.idstr.slice(h.idstr.lastIndexOf('/') + 1);
  const byName = (descs.byVmsd.get(vmsdName) ?? []).filter((e) => !exact.includes(e));
  const reasons: string[] = [];
  let tries = 0;
  const attempts: { e: Entry; by: 'idstr' | 'vmsd' }[] = [...exact.map((e) => ({ e, by: 'idstr' as const })), ...byName.map((e) => ({ e, by: 'vmsd' as const }))];
  if (attempts.length === 0) return { decoded: false, note: `no description of ${JSON.stringify(vmsdName)} in ${descs.label}` };
  for (const { e, by } of attempts) {
    if (h.version > e.version || h.version < e.minVersion) {
      reasons.push(`${e.vmsdName}: version ${h.version} is not ${e.minVersion === e.version ? e.version : `${e.minVersion}..${e.version}`}`);
      continue;
    }
    for (const withConditional of e.conditional ? [true, false] : [false]) {
      if (++tries > MAX_TRIES) break;
      const device = e.instantiate(h.version, withConditional);
      const why = tryDecode(h.idstr, device, bytes, payloadOffset, maxFieldBytes);
      if (why === undefined) {
        const what = by === 'idstr' ? `${h.idstr}:${h.instance}` : `VMSD ${e.vmsdName} v${h.version}`;
        const guess = descs.typesGuessed ? `; types guessed from C sizes${e.conditional ? `, conditional fields ${withConditional ? 'present' : 'absent'}` : ''}` : '';
        return { decoded: true, device, matchedBy: by, note: `decoded by ${descs.kind} description (${what}) from ${descs.label}${guess}` };
      }
      const reason = `${e.vmsdName}: ${why}`;
      if (!reasons.includes(reason)) reasons.push(reason);
    }
  }
  return { decoded: false, note: `descriptions do not fit: ${reasons.join('; ')}` };
}

/** One dry run; undefined when the description fits, else why not. */
function tryDecode(idstr: string, device: VmdescDevice, bytes: Uint8Array, payloadOffset: number, maxFieldBytes: number): string | undefined {
  const r = ChannelReader.fromBytes(bytes);
  try {
    decodeDevice(r, idstr, device, undefined, { maxFieldBytes, streamEnd: bytes.length, foreign: true });
  } catch (e) {
    if (e === NEED_MORE) return `it reads past the section's ${bytes.length} bytes`;
    if (isVmsError(e)) {
      const at = e.offset !== undefined ? ` at byte ${payloadOffset + e.offset}` : '';
      if (e.code === 'E_TRUNCATED') return `the section's ${bytes.length} bytes end inside ${e.path.slice(1).join('.') || 'it'}${at}`;
      const where = e.path.length > 1 ? ` (${e.path.slice(1).join('.')})` : '';
      return `${e.reason}${where}${at}`;
    }
    throw e;
  }
  if (r.offset !== bytes.length) return `it reads ${r.offset} of the section's ${bytes.length} bytes`;
  return undefined;
}

/** Decodes `bytes` (which a dry run accepted) with `device`, sending fields to `v`. */
export function decodeDescribed(
  idstr: string,
  device: VmdescDevice,
  bytes: Uint8Array,
  v: OutputVisitor,
  maxFieldBytes: number,
): void {
  decodeDevice(ChannelReader.fromBytes(bytes), idstr, device, v, { maxFieldBytes, streamEnd: bytes.length, foreign: true });
}

function deviceKey(name: string, instance: number): string {
  return `${name}\u0000${instance}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function be32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
}
