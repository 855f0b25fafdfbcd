/** `vmstream info FILE [--json] [--descriptions FILE]`: what a stream holds, without decoding page contents. */
import { Command } from 'commander';
import type { ByteSource } from '../../channel/transport.js';
import type { RamBlockInfo, SectionHeader, StreamCommand } from '../../stream/events.js';
import { readAnyStream } from '../../stream/ber/any.js';
import { readDescriptionsFile, type Descriptions } from '../../stream/descriptions.js';
import { CLI_READER, action, exitQuietlyOnClosedStdout, openInput, toJson, usageExits } from '../util.js';

export interface SectionInfo {
  id: number;
  name: string;
  instance: number;
  version: number;
  /** START/PART/END/FULL pieces, in order ("start", "part"×k, "end"; or "full"). */
  kinds: string[];
  /** Bytes of all its pieces: headers, payloads and footers. */
  bytes: number;
  /** Stream offset of its first header. */
  offset: number;
  /** Decoded from the vmdesc (true), or kept opaque (false); RAM: undefined. */
  described?: boolean;
  /** With --descriptions: decoded by one of them, or why none fitted. */
  descriptions?: { decoded: boolean; note: string };
}

export interface RamBlockSummary {
  name: string;
  length: bigint;
  addr?: bigint;
  pageSize?: bigint;
  zeroPages: number;
  normalPages: number;
  xbzrlePages: number;
  compressedPages: number;
}

export interface StreamInfo {
  format: 'qemu' | 'ber';
  version: number;
  machine: string | null;
  configuration: { capabilities: string[]; pageBits: number | null; uuid: string | null } | null;
  footers: boolean | null;
  pageSize: number;
  bytes: number;
  sections: SectionInfo[];
  commands: { name: string; cmd: number; length: number }[];
  ram: { total: bigint; blocks: RamBlockSummary[] } | null;
  trailer: { present: boolean; bytes: number; devices: number };
  /** Only with --descriptions: where they came from and how many sections they decoded. */
  descriptions?: { file: string; kind: string; typesGuessed: boolean; entries: number; tried: number; decoded: number };
}

/** Walks a stream and summarises it (RAM page contents are skipped, not read into events). */
export async function collectInfo(source: ByteSource | Uint8Array, o: { descriptions?: Descriptions } = {}): Promise<StreamInfo> {
  const sections = new Map<number, SectionInfo>();
  const order: SectionInfo[] = [];
  const blocks = new Map<string, RamBlockSummary>();
  const commands: StreamCommand[] = [];
  let ramTotal: bigint | undefined;
  let trailerBytes = 0;
  let trailerDevices = 0;
  let version = 3;
  const summary = await readAnyStream(
    source,
    {
      header: (h) => {
        version = h.version;
      },
      command: (c) => {
        commands.push(c);
      },
      sectionStart: (h: SectionHeader) => {
        let s = h.kind === 'part' || h.kind === 'end' ? sections.get(h.id) : undefined;
        if (s === undefined) {
          s = { id: h.id, name: h.idstr, instance: h.instance, version: h.version, kinds: [], bytes: 0, offset: h.offset };
          if (h.idstr !== 'ram' || h.kind === 'full') s.described = h.description !== undefined;
          sections.set(h.id, s);
          order.push(s);
        }
        s.kinds.push(h.kind);
      },
      deviceFields: () => undefined,
      sectionEnd: (h, end) => {
        const s = sections.get(h.id)!;
        s.bytes += end.payloadEnd + (end.footer ? 5 : 0) - h.offset;
        if (s.described === false && h.description !== undefined) s.described = true;
      },
      ramBlocks: (list) => {
        ramTotal = list.total;
        for (const b of list.blocks) blocks.set(b.name, blockSummary(b));
      },
      ramPage: (p) => {
        const b = blocks.get(p.block);
        if (b === undefined) return;
        if (p.kind === 'zero') b.zeroPages++;
        else if (p.kind === 'page') b.normalPages++;
        else if (p.kind === 'xbzrle') b.xbzrlePages++;
        else if (p.kind === 'compressed') b.compressedPages++;
      },
      trailer: (t) => {
        trailerBytes = t.json.length;
        trailerDevices = t.vmdesc.devices.length;
      },
    },
    {
      pageData: false,
      reader: CLI_READER,
      ...(o.descriptions !== undefined
        ? {
            descriptions: o.descriptions,
            onDescription: (h: SectionHeader, outcome: { decoded: boolean; note: string }) => {
              const s = sections.get(h.id);
              if (s === undefined) return;
              s.descriptions = { decoded: outcome.decoded, note: outcome.note };
              if (outcome.decoded) s.described = true;
            },
          }
        : {}),
    },
  );
  const c = summary.configuration;
  return {
    format: summary.format,
    version,
    machine: c?.machine ?? null,
    configuration:
      c === undefined
        ? null
        : {
            capabilities: c.subsections.flatMap((s) => (s.kind === 'capabilities' ? [...s.capabilities] : [])),
            pageBits: c.subsections.find((s) => s.kind === 'target-page-bits')?.pageBits ?? null,
            uuid: (() => {
              const u = c.subsections.find((s) => s.kind === 'uuid');
              return u === undefined ? null : Buffer.from(u.uuid).toString('hex');
            })(),
          },
    footers: summary.footers ?? null,
    pageSize: summary.pageSize,
    bytes: summary.bytes,
    sections: order,
    commands: commands.map((x) => ({ name: x.name, cmd: x.cmd, length: x.payload.length })),
    ram: ramTotal === undefined ? null : { total: ramTotal, blocks: [...blocks.values()] },
    trailer: { present: summary.trailer, bytes: trailerBytes, devices: trailerDevices },
    ...(o.descriptions !== undefined
      ? {
          descriptions: {
            file: o.descriptions.label,
            kind: o.descriptions.kind,
            typesGuessed: o.descriptions.typesGuessed,
            entries: o.descriptions.count,
            tried: order.filter((s) => s.descriptions !== undefined).length,
            decoded: order.filter((s) => s.descriptions?.decoded === true).length,
          },
        }
      : {}),
  };
}

function blockSummary(b: RamBlockInfo): RamBlockSummary {
  return {
    name: b.name,
    length: b.length,
    ...(b.addr !== undefined ? { addr: b.addr } : {}),
    ...(b.pageSize !== undefined ? { pageSize: b.pageSize } : {}),
    zeroPages: 0,
    normalPages: 0,
    xbzrlePages: 0,
    compressedPages: 0,
  };
}

/** The human-readable form. */
export function formatInfo(i: StreamInfo): string {
  const out: string[] = [];
  out.push(`format:    ${i.format === 'ber' ? 'BER form of a ' : ''}QEMU migration stream v${i.version} (${i.bytes} bytes)`);
  out.push(`machine:   ${i.machine ?? '(no configuration record)'}`);
  if (i.configuration !== null && i.configuration.capabilities.length > 0) out.push(`caps:      ${i.configuration.capabilities.join(', ')}`);
  out.push(`page size: ${i.pageSize}`);
  out.push(`footers:   ${i.footers === null ? 'unknown' : i.footers ? 'yes' : 'no'}`);
  out.push(`trailer:   ${i.trailer.present ? `vmdesc, ${i.trailer.bytes} bytes, ${i.trailer.devices} devices` : 'none'}`);
  const d = i.descriptions;
  if (d !== undefined) {
    out.push(
      `descriptions: ${d.file} (${d.kind}, ${d.entries} devices${d.typesGuessed ? ', types guessed from C sizes' : ''}): ` +
        `${d.decoded} of ${d.tried} undescribed device sections decoded`,
    );
  }
  for (const c of i.commands) out.push(`command:   ${c.name} (${c.length} bytes)`);
  out.push('');
  out.push(`sections (${i.sections.length}):`);
  out.push('    id  name                                      inst  ver       bytes  kinds');
  for (const s of i.sections) {
    const kinds = s.kinds[0] === 'full' ? 'full' : summarizeKinds(s.kinds);
    const by = s.descriptions;
    const note = by !== undefined ? (by.decoded ? '  (by descriptions)' : `  (opaque: ${by.note})`) : s.described === false ? '  (opaque)' : '';
    out.push(`  ${pad(s.id, 4)}  ${s.name.padEnd(40)}  ${pad(s.instance, 4)}  ${pad(s.version, 3)}  ${pad(s.bytes, 10)}  ${kinds}${note}`);
  }
  if (i.ram !== null) {
    out.push('');
    out.push(`RAM blocks (total 0x${i.ram.total.toString(16)}):`);
    out.push('  name                                      length        zero    normal  xbzrle  compressed');
    for (const b of i.ram.blocks) {
      out.push(
        `  ${b.name.padEnd(40)}  0x${b.length.toString(16).padStart(9, '0')}  ${pad(b.zeroPages, 8)}  ${pad(b.normalPages, 8)}  ${pad(b.xbzrlePages, 6)}  ${pad(b.compressedPages, 10)}` +
          (b.addr !== undefined ? `  @0x${b.addr.toString(16)}` : ''),
      );
    }
  }
  return out.join('\n');
}

function summarizeKinds(k: readonly string[]): string {
  const parts = k.filter((x) => x === 'part').length;
  return [k.includes('start') ? 'start' : '', parts > 0 ? `part×${parts}` : '', k.includes('end') ? 'end' : ''].filter((x) => x !== '').join(' ');
}

function pad(n: number, w: number): string {
  return String(n).padStart(w);
}

export function infoCommand(): Command {
  const cmd = new Command('info')
    .description('summarise a migration stream: machine, sections, RAM blocks, trailer')
    .argument('<file>', 'stream file, or - for stdin')
    .option('--json', 'print JSON')
    .option('--descriptions <file>', 'decode sections the stream does not describe with a vmdesc JSON, a stream with a trailer, or a -dump-vmstate JSON')
    .action(
      action(
        async (file: string, opts: { json?: boolean; descriptions?: string }) => {
          exitQuietlyOnClosedStdout();
          const descriptions = opts.descriptions !== undefined ? await readDescriptionsFile(opts.descriptions) : undefined;
          const info = await collectInfo(openInput(file), descriptions !== undefined ? { descriptions } : {});
          process.stdout.write((opts.json === true ? toJson(info, 2) : formatInfo(info)) + '\n');
        },
        (_f: string, opts: { json?: boolean }) => opts.json === true,
      ),
    );
  return usageExits(cmd);
}
