/**
 * `vmstream dump FILE [--json] [--ram] [--extract DIR]`: every section and field with names
 * and values, as a readable tree or as JSON. Output is streamed section by section; only
 * one device section's fields are held at a time. `--extract` writes each RAM block as a
 * sparse file (zero pages are seeked over, not written).
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { VmsError } from '../../errors.js';
import type { OutputVisitor, StructInfo } from '../../format/visitor.js';
import type { RamBlockList, RamPage, SectionHeader, StreamVisitor } from '../../stream/events.js';
import { readAnyStream } from '../../stream/ber/any.js';
import { readDescriptionsFile, type DescriptionOutcome } from '../../stream/descriptions.js';
import { CLI_READER, TextOut, action, hex, jsonReplacer, openInput, usageExits } from '../util.js';

/** One decoded value. Structs, arrays and subsections hold children. */
export interface FieldNode {
  name: string;
  type: string;
  value?: number | bigint | boolean | string | null;
  vmsd?: string;
  version?: number;
  children?: FieldNode[];
}

/** Builds the field tree of one section from OutputVisitor events. */
export class FieldTreeBuilder implements OutputVisitor {
  readonly offset = 0;
  root: FieldNode | undefined;
  private readonly stack: FieldNode[] = [];

  reset(): void {
    this.root = undefined;
    this.stack.length = 0;
  }

  private add(n: FieldNode): void {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) this.root = n;
    else top.children!.push(n);
  }
  private open(n: FieldNode): void {
    n.children = [];
    this.add(n);
    this.stack.push(n);
  }
  private close(): void {
    this.stack.pop();
  }

  startStruct(name: string, info: StructInfo): void {
    this.open({ name, type: 'struct', vmsd: info.vmsdName, version: info.version });
  }
  endStruct(): void {
    this.close();
  }
  startArray(name: string, length: number): void {
    this.open({ name, type: `array[${length}]` });
  }
  endArray(): void {
    this.close();
  }
  startList(name: string): void {
    this.open({ name, type: 'list' });
  }
  listElement(): void {}
  endList(): void {
    this.close();
  }
  startTree(name: string, nodeCount: number): void {
    this.open({ name, type: `tree[${nodeCount}]` });
  }
  treeNode(): void {}
  endTree(): void {
    this.close();
  }
  startSubsection(name: string, version: number): void {
    this.open({ name, type: 'subsection', version });
  }
  endSubsection(): void {
    this.close();
  }
  bool(name: string, v: boolean): void {
    this.add({ name, type: 'bool', value: v });
  }
  int8(name: string, v: number): void {
    this.add({ name, type: 'int8', value: v });
  }
  int16(name: string, v: number): void {
    this.add({ name, type: 'int16', value: v });
  }
  int32(name: string, v: number): void {
    this.add({ name, type: 'int32', value: v });
  }
  int64(name: string, v: bigint): void {
    this.add({ name, type: 'int64', value: v });
  }
  uint8(name: string, v: number): void {
    this.add({ name, type: 'uint8', value: v });
  }
  uint16(name: string, v: number): void {
    this.add({ name, type: 'uint16', value: v });
  }
  uint32(name: string, v: number): void {
    this.add({ name, type: 'uint32', value: v });
  }
  uint64(name: string, v: bigint): void {
    this.add({ name, type: 'uint64', value: v });
  }
  buffer(name: string, bytes: Uint8Array): void {
    this.add({ name, type: `buffer[${bytes.length}]`, value: hex(bytes) });
  }
  string(name: string, s: string): void {
    this.add({ name, type: 'string', value: s });
  }
  unused(name: string, size: number): void {
    this.add({ name, type: `unused[${size}]`, value: null });
  }
  nullPointer(name: string): void {
    this.add({ name, type: 'nullptr', value: null });
  }
  opaque(name: string, type: string, bytes: Uint8Array): void {
    this.add({ name, type: `opaque ${type}[${bytes.length}]`, value: hex(bytes) });
  }
}

/** Tree lines for a field node, two spaces per level. */
export function fieldLines(n: FieldNode, depth: number, out: string[]): void {
  const ind = '  '.repeat(depth);
  if (n.children !== undefined) {
    const extra = n.vmsd !== undefined ? ` (${n.vmsd} v${n.version})` : n.version !== undefined ? ` v${n.version}` : '';
    out.push(`${ind}${n.name}: ${n.type}${extra}`);
    const isArray = n.type.startsWith('array[');
    n.children.forEach((c, i) => fieldLines(isArray ? { ...c, name: `[${i}]` } : c, depth + 1, out));
    return;
  }
  out.push(`${ind}${n.name}: ${n.type}${n.value === null || n.value === undefined ? '' : ` = ${formatValue(n.value)}`}`);
}

function formatValue(v: number | bigint | boolean | string): string {
  if (typeof v === 'number' || typeof v === 'bigint') {
    const neg = v < 0;
    return neg ? String(v) : `${v} (0x${v.toString(16)})`;
  }
  if (typeof v === 'string') return v.length > 96 ? `${v.slice(0, 96)}… (${v.length / 2} bytes)` : v;
  return String(v);
}

export interface DumpOptions {
  json?: boolean;
  ram?: boolean;
  extract?: string;
  /** A descriptions file for sections the stream does not describe (descriptions.ts). */
  descriptions?: string;
}

/** A StreamVisitor that prints the dump as it goes. */
class Dumper implements StreamVisitor {
  private readonly out = new TextOut();
  private readonly tree = new FieldTreeBuilder();
  private first = true;
  private pages = { zero: 0, page: 0, xbzrle: 0, compressed: 0, hook: 0 };
  private extractor: Extractor | undefined;
  private pageList: string[] | undefined;
  /** What --descriptions did for the current section (told before sectionEnd). */
  private described: DescriptionOutcome | undefined;

  constructor(private readonly o: DumpOptions) {
    if (o.extract !== undefined) this.extractor = new Extractor(o.extract);
  }

  private emitRaw(text: string): void | Promise<void> {
    const line = (this.first ? '' : ',') + text;
    this.first = false;
    return this.out.line(line);
  }
  private emit(obj: Record<string, unknown>): void | Promise<void> {
    return this.emitRaw(JSON.stringify(obj, jsonReplacer));
  }

  header(h: { magic: number; version: number }): void | Promise<void> {
    if (this.o.json) return this.out.line(`{"format": "qemu", "version": ${h.version}, "items": [`);
    return this.out.line(`QEMU migration stream, version ${h.version}`);
  }
  configuration(c: { machine: string; subsections: readonly unknown[] }): void | Promise<void> {
    if (this.o.json) return this.emit({ item: 'configuration', ...c });
    return this.out.line(`configuration: machine ${c.machine}${c.subsections.length > 0 ? ` ${JSON.stringify(c.subsections, jsonReplacer)}` : ''}`);
  }
  command(c: { name: string; cmd: number; payload: Uint8Array; detail: unknown; offset: number }): void | Promise<void> {
    if (this.o.json) return this.emit({ item: 'command', name: c.name, cmd: c.cmd, offset: c.offset, payload: c.payload, detail: c.detail });
    return this.out.line(`command ${c.name} (${c.payload.length} bytes) ${JSON.stringify(c.detail, jsonReplacer)} @0x${c.offset.toString(16)}`);
  }
  sectionStart(h: SectionHeader): void | Promise<void> {
    this.pages = { zero: 0, page: 0, xbzrle: 0, compressed: 0, hook: 0 };
    this.tree.reset();
    this.described = undefined;
    this.pageList = this.o.json && this.o.ram ? [] : undefined;
    if (this.o.json) return;
    return this.out.line(`[${h.kind}] section ${h.id} ${h.idstr}:${h.instance} v${h.version} @0x${h.offset.toString(16)}`);
  }
  deviceFields(): OutputVisitor {
    return this.tree;
  }
  descriptionOutcome(outcome: DescriptionOutcome): void {
    this.described = outcome;
  }
  ramBlocks(list: RamBlockList): void | Promise<void> {
    this.extractor?.blocks(list);
    if (this.o.json) return;
    const lines = [`  RAM blocks, total 0x${list.total.toString(16)}`];
    for (const b of list.blocks) {
      lines.push(
        `    ${b.name}  0x${b.length.toString(16)}${b.addr !== undefined ? ` @0x${b.addr.toString(16)}` : ''}${b.pageSize !== undefined ? ` pagesize 0x${b.pageSize.toString(16)}` : ''}`,
      );
    }
    return this.out.line(lines.join('\n'));
  }
  ramPage(p: RamPage): void | Promise<void> {
    this.pages[p.kind]++;
    this.extractor?.page(p);
    if (!this.o.ram) return;
    if (this.pageList !== undefined) {
      this.pageList.push(
        JSON.stringify({ kind: p.kind, block: p.block, offset: p.offset, ...(p.kind === 'zero' ? { fill: p.fill } : { data: hex(p.page ?? p.wire) }) }),
      );
      if (this.pageList.length >= 64) return this.flushPages();
      return;
    }
    const where = `${p.block}+0x${p.offset.toString(16)}`;
    const what = p.kind === 'zero' ? `fill=${p.fill}` : `${p.wire.length} bytes ${hex(p.wire.subarray(0, 16))}${p.wire.length > 16 ? '…' : ''}`;
    return this.out.line(`  ${p.kind} ${where} ${what}`);
  }
  /** Page records go out in batches, as `{"item": "pages", "list": [...]}` items before their section. */
  private flushPages(): void | Promise<void> {
    const list = this.pageList;
    if (list === undefined || list.length === 0) return;
    this.pageList = [];
    return this.emitRaw(`{"item": "pages", "list": [${list.join(',')}]}`);
  }
  async sectionEnd(h: SectionHeader, end: { footer: boolean }): Promise<void> {
    const t = this.tree.root;
    const isRam = h.idstr === 'ram' && h.kind !== 'full';
    if (this.o.json) {
      await this.flushPages();
      this.pageList = undefined;
      await this.emit({
        item: 'section',
        kind: h.kind,
        id: h.id,
        name: h.idstr,
        instance: h.instance,
        version: h.version,
        offset: h.offset,
        footer: end.footer,
        ...(this.described !== undefined ? { descriptions: { decoded: this.described.decoded, note: this.described.note } } : {}),
        ...(isRam ? { pages: this.pages } : { fields: t }),
      });
      return;
    }
    if (isRam) {
      const p = this.pages;
      await this.out.line(`  pages: ${p.zero} zero, ${p.page} normal, ${p.xbzrle} xbzrle, ${p.compressed} compressed`);
    } else if (t !== undefined) {
      const lines: string[] = [];
      if (this.described !== undefined) lines.push(`  (${this.described.decoded ? '' : 'opaque: '}${this.described.note})`);
      for (const c of t.children ?? []) fieldLines(c, 1, lines);
      await this.out.line(lines.join('\n'));
    }
  }
  eof(offset: number): void | Promise<void> {
    if (this.o.json) return this.emit({ item: 'eof', offset });
    return this.out.line(`EOF @0x${offset.toString(16)}`);
  }
  trailer(t: { json: Uint8Array; vmdesc: { devices: readonly unknown[] }; offset: number }): void | Promise<void> {
    if (this.o.json) return this.emit({ item: 'trailer', offset: t.offset, bytes: t.json.length, devices: t.vmdesc.devices.length });
    return this.out.line(`vmdesc trailer @0x${t.offset.toString(16)}: ${t.json.length} bytes, ${t.vmdesc.devices.length} devices`);
  }
  async end(total: number): Promise<void> {
    this.extractor?.close();
    if (this.o.json) await this.out.line(`], "bytes": ${total}}`);
    await this.out.flush();
  }
  fail(): void {
    this.extractor?.close();
  }
}

/**
 * Writes each RAM block to DIR as a sparse file: the file is sized to the block, pages with
 * data are written at their offsets, and zero pages are only written where earlier data must
 * be cleared. Block names become file names with "/" replaced by "_".
 */
class Extractor {
  private readonly fds = new Map<string, { fd: number; written: Uint8Array }>();
  private zeroPage: Uint8Array | undefined;
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  blocks(list: RamBlockList): void {
    for (const b of list.blocks) {
      if (this.fds.has(b.name)) continue;
      const file = join(this.dir, safeName(b.name));
      const fd = openSync(file, 'w');
      ftruncateSync(fd, Number(b.length));
      this.fds.set(b.name, { fd, written: new Uint8Array(Math.ceil(Number(b.length) / 4096 / 8)) });
    }
  }
  page(p: RamPage): void {
    const f = this.fds.get(p.block);
    if (f === undefined) return;
    const idx = Math.floor(p.offset / 4096);
    const bit = 1 << (idx & 7);
    let data: Uint8Array | undefined;
    if (p.kind === 'zero') {
      if (p.fill === 0 && (f.written[idx >> 3]! & bit) === 0) return;
      if (p.fill === 0) {
        data = this.zeroPage ??= new Uint8Array(4096);
        f.written[idx >> 3]! &= ~bit;
        writeSync(f.fd, data, 0, data.length, p.offset);
        return;
      }
      data = new Uint8Array(4096).fill(p.fill);
    } else if (p.page !== undefined) {
      data = p.page;
    } else if (p.kind !== 'hook') {
      throw new VmsError('E_USAGE', `cannot extract a ${p.kind} page without decoding it`, { path: ['ram', p.block, p.offset] });
    } else return;
    writeSync(f.fd, data, 0, data.length, p.offset);
    f.written[idx >> 3]! |= bit;
  }
  close(): void {
    for (const f of this.fds.values()) closeSync(f.fd);
    this.fds.clear();
  }
}

function safeName(block: string): string {
  const s = block.replace(/^\/+/, '').replace(/\//g, '_');
  return s === '' || s === '.' || s === '..' ? `block_${Buffer.from(block).toString('hex')}` : s;
}

/** Dumps a stream to stdout. */
export async function runDump(file: string, o: DumpOptions): Promise<void> {
  const descriptions = o.descriptions !== undefined ? await readDescriptionsFile(o.descriptions) : undefined;
  const d = new Dumper(o);
  try {
    await readAnyStream(openInput(file), d, {
      pageData: o.ram === true || o.extract !== undefined,
      decodeXbzrle: o.extract !== undefined,
      decodeCompressed: o.ram === true || o.extract !== undefined,
      reader: CLI_READER,
      ...(descriptions !== undefined ? { descriptions, onDescription: (_h, outcome) => d.descriptionOutcome(outcome) } : {}),
    });
  } catch (e) {
    d.fail();
    throw e;
  }
}

export function dumpCommand(): Command {
  const cmd = new Command('dump')
    .description('print every section and field of a migration stream')
    .argument('<file>', 'stream file, or - for stdin')
    .option('--json', 'print JSON (streamed)')
    .option('--ram', 'list every RAM page record (and its contents in JSON)')
    .option('--extract <dir>', 'write each RAM block as a sparse file in DIR')
    .option('--descriptions <file>', 'decode sections the stream does not describe with a vmdesc JSON, a stream with a trailer, or a -dump-vmstate JSON')
    .action(
      action(
        (file: string, opts: DumpOptions) => runDump(file, opts),
        (_f: string, opts: DumpOptions) => opts.json === true,
      ),
    );
  return usageExits(cmd);
}
