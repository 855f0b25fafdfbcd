/**
 * Reads a BER migration stream (schema/migration.asn1) and reports it as the same
 * StreamVisitor events the binary reader emits, so the binary StreamWriter turns it back
 * into QEMU's bytes, and info/dump/edit work on BER input unchanged.
 *
 * Any valid BER is accepted (definite or indefinite lengths, long-form lengths, primitives
 * delivered in pieces); anything else, or anything the schema does not allow here, fails with
 * a VmsError naming the byte offset, the path (`records[12].sectionFull.timer.fields...`) and
 * what was expected. Unknown non-critical extensions are skipped; critical ones refused.
 *
 * Memory stays bounded: RAM page runs are handed out page by page as views of the channel
 * buffer (a page split across two reads is gathered into one reused buffer); only a device
 * array or tree is buffered, to learn its element count before replaying it.
 */
import { ChannelReader, type ReaderOptions } from '../../channel/reader.js';
import type { ByteSource } from '../../channel/transport.js';
import { VmsError, isVmsError } from '../../errors.js';
import { decodeIntegerBig } from '../../format/ber/integer.js';
import { BerEventKind, BerReader } from '../../format/ber/reader.js';
import { TagClass, Universal } from '../../format/ber/tag.js';
import { StructTag, ValueTag } from '../../format/ber/visitor-output.js';
import { configuredPageSize, decodeCommand } from '../config.js';
import { Command as CommandNumber, DEFAULT_PAGE_SIZE, QEMU_VM_FILE_MAGIC, RamFlag } from '../constants.js';
import type { ConfigSubsection, Configuration, RamBlockInfo, RamPage, SectionHeader, StreamCommand, StreamVisitor } from '../events.js';
import { readStream } from '../reader.js';
import { parseVmdesc, type Vmdesc } from '../vmdesc.js';
import { BerCursor, latin1 } from './cursor.js';
import { Block, Body, Cmd, Config, EXTENSIONS, FORMAT_VERSION, Header, MemSize, Ram, Rec, Run, STREAM_TAG_NUMBER, Sec, SecHeader, Stream, TrailerAlt } from './schema.js';

export interface BerStreamReaderOptions {
  /** Target page size when the stream header and configuration do not say. Defaults to 4096. */
  readonly pageSize?: number;
  /** Deepest nesting of constructed values. Defaults to 256. */
  readonly maxDepth?: number;
  /** Largest vmdesc trailer, raw section body or packaged blob. Defaults to 64 MiB. */
  readonly maxBlob?: number;
  /** Most RAM blocks in a MemSize record. Defaults to 4096. */
  readonly maxBlocks?: number;
  readonly reader?: ReaderOptions;
}

export interface BerStreamSummary {
  readonly bytes: number;
  readonly pageSize: number;
  readonly formatVersion: number;
  /** Whether sections had footers: undefined with no sections (mixed presence is allowed in BER). */
  readonly footers: boolean | undefined;
  readonly trailer: boolean;
  readonly configuration?: Configuration;
  readonly vmdesc?: Vmdesc;
}

const DEFAULT_MAX_BLOB = 64 << 20;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);
const CTX = TagClass.Context;

/** Reads a whole BER stream from a source or from bytes in memory, calling `visitor` for each item. */
export async function readBerStream(
  source: ByteSource | Uint8Array,
  visitor: StreamVisitor,
  options: BerStreamReaderOptions = {},
): Promise<BerStreamSummary> {
  const channel = new ChannelReader(source, options.reader);
  const p = new BerStreamParser(channel, visitor, options);
  try {
    return await p.run();
  } finally {
    if (!(source instanceof Uint8Array)) await source.close().catch(() => undefined);
  }
}

class BerStreamParser extends BerCursor {
  private pageSize: number;
  private formatVersion = 0;
  private configuration: Configuration | undefined;
  private sawTrailer = false;
  private vmdesc: Vmdesc | undefined;
  private footers: boolean | undefined;
  private readonly maxBlocks: number;
  /** START headers by section id, for PART/END. */
  private readonly sections = new Map<number, SectionHeader>();
  /** RAM blocks by name (used_length), and the block CONTINUE refers to (kept across sections, as QEMU does). */
  private readonly blocks = new Map<string, number>();
  private currentBlock: string | undefined;
  private readonly rec: RamPage = { kind: 'zero', flags: 0, block: '', offset: 0, fill: 0, wire: EMPTY, encoding: 0, page: undefined, recordOffset: 0 };
  private pageBuf: Uint8Array | undefined;

  constructor(
    ch: ChannelReader,
    private readonly v: StreamVisitor,
    options: BerStreamReaderOptions,
  ) {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    super(new BerReader(ch, { maxDepth: options.maxDepth ?? 256, wholePrimitiveLimit: Math.max(64 << 10, 64 * pageSize + 64) }), options.maxBlob ?? DEFAULT_MAX_BLOB);
    this.pageSize = pageSize;
    this.maxBlocks = options.maxBlocks ?? 4096;
  }

  async run(): Promise<BerStreamSummary> {
    try {
      return await this.stream();
    } catch (e) {
      if (isVmsError(e) && e.code !== 'E_USAGE') {
        // Framing errors from the BER reader carry tag paths; give the schema's path instead.
        throw new VmsError(e.code, e.reason, { offset: e.offset, path: [...this.path], expected: e.expected, actual: e.actual, cause: e.cause });
      }
      throw e;
    }
  }

  private async stream(): Promise<BerStreamSummary> {
    const k = await this.peek();
    const ev = this.ev;
    if (k !== BerEventKind.Start || ev.cls !== TagClass.Application || ev.number !== STREAM_TAG_NUMBER) {
      throw new VmsError('E_FORMAT', 'not a BER migration stream', {
        offset: 0,
        expected: '[APPLICATION 1418963] (7F D6 CD 53)',
        actual: k === BerEventKind.Done ? 'an empty input' : this.describe(),
      });
    }
    this.take();
    this.path.push('header');
    await this.enter(CTX, Stream.header, 'header');
    this.formatVersion = await this.uint(Header.formatVersion, 'formatVersion', 255);
    if (this.formatVersion !== FORMAT_VERSION) {
      throw this.fail('E_VERSION', 'unsupported BER stream format version', `version ${FORMAT_VERSION}`, `${this.formatVersion}`);
    }
    const qemuVersion = await this.uint(Header.qemuFileVersion, 'qemuFileVersion', 0xffffffff);
    if (await this.isPrim(CTX, Header.pageSize)) this.pageSize = this.checkPageSize(await this.uint(Header.pageSize, 'pageSize', 0xffffffff));
    await this.extensionsIfAny();
    await this.leave('header');
    this.path.pop();
    await this.v.header?.({ magic: QEMU_VM_FILE_MAGIC, version: qemuVersion });

    await this.enter(CTX, Stream.records, 'records');
    this.path.push('records', 0);
    for (let i = 0; !(await this.atEnd()); i++) {
      this.path[this.path.length - 1] = i;
      await this.record();
    }
    this.path.length -= 2;
    await this.leave('records');
    await this.extensionsIfAny();
    await this.leave('the stream');
    if ((await this.peek()) !== BerEventKind.Done) {
      throw this.fail('E_BER', 'bytes after the end of the stream', 'the end of the input', this.describe());
    }
    const total = this.br.offset;
    await this.v.end?.(total);
    return {
      bytes: total,
      pageSize: this.pageSize,
      formatVersion: this.formatVersion,
      footers: this.footers,
      trailer: this.sawTrailer,
      ...(this.configuration !== undefined ? { configuration: this.configuration } : {}),
      ...(this.vmdesc !== undefined ? { vmdesc: this.vmdesc } : {}),
    };
  }

  // ---- records ------------------------------------------------------------------------------

  private async record(): Promise<void> {
    const k = await this.peek();
    const ev = this.ev;
    const at = ev.offset;
    if (ev.cls !== CTX) throw this.fail('E_BER', 'unexpected value in the record list', 'a Record alternative ([0]..[7], [29])', this.describe());
    const n = ev.number;
    if (n === Rec.eof && k === BerEventKind.Primitive) {
      this.path.push('eof');
      const c = await this.prim(CTX, Rec.eof, 'eof', 0);
      if (c.length !== 0) throw this.fail('E_BER', 'eof must be an empty NULL', '0 contents octets', `${c.length}`);
      this.path.pop();
      await this.v.eof?.(at, 0);
      return;
    }
    if (k !== BerEventKind.Start) throw this.fail('E_BER', 'unexpected value in the record list', 'a constructed Record alternative', this.describe());
    switch (n) {
      case Rec.configuration:
        return this.named('configuration', () => this.configurationRecord());
      case Rec.command:
        return this.named('command', () => this.commandRecord(at));
      case Rec.sectionStart:
        return this.named('sectionStart', () => this.section('start', at));
      case Rec.sectionPart:
        return this.named('sectionPart', () => this.section('part', at));
      case Rec.sectionEnd:
        return this.named('sectionEnd', () => this.section('end', at));
      case Rec.sectionFull:
        return this.named('sectionFull', () => this.section('full', at));
      case Rec.vmdesc:
        return this.named('vmdesc', () => this.trailerRecord(at));
      case EXTENSIONS:
        return this.named('extension', () => this.extension());
      default:
        throw this.fail('E_BER', 'unknown Record alternative', 'a Record alternative ([0]..[7], [29])', this.describe());
    }
  }

  private async configurationRecord(): Promise<void> {
    await this.enter(CTX, Rec.configuration, 'configuration');
    const machine = await this.name(Config.machineType, 'machineType');
    const subsections: ConfigSubsection[] = [];
    if (await this.isStart(CTX, Config.subsections)) {
      await this.enter(CTX, Config.subsections, 'subsections');
      while (!(await this.atEnd())) subsections.push(await this.configSubsection());
      await this.leave('subsections');
    }
    await this.extensionsIfAny();
    await this.leave('configuration');
    const c: Configuration = { machine, subsections };
    this.configuration = c;
    const ps = configuredPageSize(c);
    if (ps !== undefined) this.pageSize = ps;
    await this.v.configuration?.(c);
  }

  /** A configuration subsection: a Subsection whose fields we know by name. */
  private async configSubsection(): Promise<ConfigSubsection> {
    await this.enter(TagClass.Universal, Universal.Sequence, 'Subsection');
    const name = await this.name(StructTag.name, 'name');
    const version = await this.uint(StructTag.version, 'version', 0xffffffff);
    this.path.push(name);
    const fields = new Map<string, SimpleValue>();
    await this.enter(CTX, StructTag.fields, 'fields');
    while (!(await this.atEnd())) {
      await this.enter(TagClass.Universal, Universal.Sequence, 'Field');
      const f = await this.name(0, 'field name');
      await this.enter(CTX, 1, 'Field value');
      fields.set(f, await this.simpleValue(f));
      await this.leave('Field value');
      await this.leave('Field');
    }
    await this.leave('fields');
    if (await this.isStart(CTX, StructTag.subsections)) throw this.fail('E_UNKNOWN', 'configuration subsections have no subsections', 'no [3]', this.describe());
    await this.extensionsIfAny();
    await this.leave('Subsection');
    this.path.pop();
    const need = (f: string, tag: number): SimpleValue => {
      const v = fields.get(f);
      if (v === undefined || v.tag !== tag) throw this.fail('E_BER', `configuration subsection ${name} lacks field ${f}`, `a field ${f}`, 'none');
      return v;
    };
    switch (name) {
      case 'configuration/target-page-bits':
        return { kind: 'target-page-bits', name, version, pageBits: Number(need('target_page_bits', ValueTag.uint32).int) };
      case 'configuration/capabilities': {
        const caps = need('capabilities', ValueTag.array).elements ?? [];
        return { kind: 'capabilities', name, version, capabilities: caps.map((c) => latin1(c.bytes)) };
      }
      case 'configuration/uuid':
        return { kind: 'uuid', name, version, uuid: need('uuid', ValueTag.buffer).bytes.slice() };
      default:
        throw this.fail('E_UNKNOWN', 'unknown configuration subsection', 'configuration/target-page-bits, configuration/capabilities or configuration/uuid', JSON.stringify(name));
    }
  }

  private async commandRecord(at: number): Promise<void> {
    await this.enter(CTX, Rec.command, 'command');
    const cmd = await this.uint(Cmd.command, 'command', 0xffff);
    const payload = (await this.prim(CTX, Cmd.payload, 'payload', 0xffff)).slice();
    let packaged: Uint8Array | undefined;
    if (await this.isString(CTX, Cmd.packaged)) packaged = (await this.prim(CTX, Cmd.packaged, 'packaged', this.maxBlob)).slice();
    await this.extensionsIfAny();
    await this.leave('command');
    // The binary decoder checks the command's length and decodes its details.
    const wire = new Uint8Array(5 + payload.length);
    wire[0] = 0x08;
    wire[1] = cmd >> 8;
    wire[2] = cmd & 0xff;
    wire[3] = payload.length >> 8;
    wire[4] = payload.length & 0xff;
    wire.set(payload, 5);
    const r = ChannelReader.fromBytes(wire);
    r.u8();
    let c: StreamCommand;
    try {
      c = { ...decodeCommand(r), offset: at };
    } catch (e) {
      throw isVmsError(e) ? new VmsError(e.code, e.reason, { offset: at, path: [...this.path], expected: e.expected, actual: e.actual }) : e;
    }
    if ((cmd === CommandNumber.PACKAGED) !== (packaged !== undefined)) {
      throw this.fail('E_BER', 'packaged bytes go with exactly the PACKAGED command', cmd === CommandNumber.PACKAGED ? 'packaged [2]' : 'no packaged [2]', packaged === undefined ? 'none' : `${packaged.length} bytes`);
    }
    if (packaged !== undefined && Number(c.detail.length) !== packaged.length) {
      throw this.fail('E_BER', 'PACKAGED length differs from the packaged bytes', `${String(c.detail.length)} bytes`, `${packaged.length} bytes`);
    }
    await this.v.command?.(c);
    if (packaged !== undefined) {
      await this.packagedItems(packaged);
      await this.v.packagedEnd?.();
    }
  }

  /**
   * The nested items of a PACKAGED command, read by the binary reader (as a stream of their
   * own behind a QEMU header) and reported at depth 1. A blob without its own EOF gets one
   * appended for the walk, and that EOF is not reported.
   */
  private async packagedItems(blob: Uint8Array): Promise<void> {
    let synthetic = new Uint8Array(8 + blob.length);
    synthetic.set([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);
    synthetic.set(blob, 8);
    let addedEof = -1;
    try {
      await readStream(synthetic, {}, { pageSize: this.pageSize });
    } catch (e) {
      // A blob that ends without EOF (postcopy's device state does) walks with one appended.
      if (!(isVmsError(e) && e.code === 'E_TRUNCATED')) throw this.packagedError(e);
      addedEof = synthetic.length;
      const longer = new Uint8Array(synthetic.length + 1);
      longer.set(synthetic);
      synthetic = longer;
    }
    const v = this.v;
    const inner: StreamVisitor = {
      command: (c) => v.command?.(c),
      sectionStart: (h) => v.sectionStart?.({ ...h, depth: 1 }),
      deviceFields: (h) => v.deviceFields?.({ ...h, depth: 1 }),
      ramBlocks: (l) => v.ramBlocks?.(l),
      ramPage: (p) => v.ramPage?.(p),
      ramEos: (w) => v.ramEos?.(w),
      sectionEnd: (h, e) => v.sectionEnd?.({ ...h, depth: 1 }, e),
      eof: (o) => (o === addedEof ? undefined : v.eof?.(o, 1)),
    };
    try {
      await readStream(synthetic, inner, { pageSize: this.pageSize });
    } catch (e) {
      throw this.packagedError(e);
    }
  }

  private packagedError(e: unknown): unknown {
    if (!isVmsError(e)) return e;
    return new VmsError(e.code, `packaged blob: ${e.reason}`, { offset: this.br.offset, path: [...this.path, 'packaged'], expected: e.expected, actual: e.actual });
  }

  private async section(kind: SectionHeader['kind'], at: number): Promise<void> {
    const recTag = kind === 'start' ? Rec.sectionStart : kind === 'full' ? Rec.sectionFull : kind === 'part' ? Rec.sectionPart : Rec.sectionEnd;
    await this.enter(CTX, recTag, 'section');
    let h: SectionHeader;
    if (kind === 'start' || kind === 'full') {
      await this.enter(CTX, Sec.header, 'header');
      const id = await this.uint(SecHeader.sectionId, 'sectionId', 0xffffffff);
      const idstr = await this.name(SecHeader.idstr, 'idstr');
      const instance = await this.uint(SecHeader.instanceId, 'instanceId', 0xffffffff);
      const version = await this.uint(SecHeader.versionId, 'versionId', 0xffffffff);
      await this.extensionsIfAny();
      await this.leave('header');
      if (idstr.length > 255) throw this.fail('E_BER', 'idstr is longer than 255 bytes', 'a counted string', `${idstr.length} characters`);
      h = { kind, id, idstr, instance, version, offset: at, depth: 0 };
      if (kind === 'start') this.sections.set(id, h);
    } else {
      const id = await this.uint(0, 'sectionId', 0xffffffff);
      const started = this.sections.get(id);
      if (started === undefined) throw this.fail('E_BER', `section id ${id} was never started`, 'the id of a sectionStart', `${id}`);
      h = { kind, id, idstr: started.idstr, instance: started.instance, version: started.version, offset: at, depth: 0 };
    }
    this.path.push(h.idstr);
    await this.v.sectionStart?.(h);
    await this.enter(CTX, Sec.body, 'body');
    const k = await this.peek();
    const ev = this.ev;
    if (ev.cls === CTX && ev.number === Body.device && k === BerEventKind.Start) {
      await this.deviceStruct(this.v.deviceFields?.(h), h.idstr);
    } else if (ev.cls === CTX && ev.number === Body.ram && k === BerEventKind.Start) {
      await this.ramBody(h);
    } else if (ev.cls === CTX && ev.number === Body.raw && (k === BerEventKind.Primitive || k === BerEventKind.Start)) {
      const bytes = await this.prim(CTX, Body.raw, 'raw', this.maxBlob);
      if (bytes.length > 0) {
        const out = this.v.deviceFields?.(h);
        if (out !== undefined) {
          out.startStruct(h.idstr, { vmsdName: h.idstr, version: h.version });
          out.opaque('data', 'raw', bytes);
          out.endStruct();
        }
      }
    } else if (ev.cls === CTX && ev.number === EXTENSIONS) {
      await this.extension();
    } else {
      throw this.fail('E_BER', 'unexpected section body', 'device [0], ram [1] or raw [2]', this.describe());
    }
    await this.leave('body');
    let footer = true;
    if (await this.isPrim(CTX, Sec.footer)) footer = await this.boolean(Sec.footer, 'footer');
    this.footers = this.footers === undefined ? footer : this.footers && footer;
    await this.extensionsIfAny();
    const payloadEnd = this.br.offset;
    await this.leave('section');
    this.path.pop();
    await this.v.sectionEnd?.(h, { payloadEnd, footer });
  }

  private async trailerRecord(at: number): Promise<void> {
    await this.enter(CTX, Rec.vmdesc, 'vmdesc');
    const isJson = await this.isString(CTX, TrailerAlt.json);
    if (!isJson && !(await this.isString(CTX, TrailerAlt.raw))) throw this.fail('E_BER', 'unexpected trailer', 'json [0] or raw [1]', this.describe());
    const jsonAt = this.ev.offset + this.ev.headerLength;
    const json = (await this.prim(CTX, isJson ? TrailerAlt.json : TrailerAlt.raw, 'trailer', this.maxBlob)).slice();
    if (isJson) {
      try {
        UTF8.decode(json);
      } catch {
        throw new VmsError('E_BER', 'vmdesc json is not UTF-8', { offset: jsonAt, path: [...this.path], expected: 'a UTF8String' });
      }
    }
    await this.leave('vmdesc');
    const vmdesc = parseVmdesc(json, jsonAt);
    this.sawTrailer = true;
    this.vmdesc = vmdesc;
    await this.v.trailer?.({ json, vmdesc, offset: at });
  }

  // ---- RAM ----------------------------------------------------------------------------------

  private async ramBody(h: SectionHeader): Promise<void> {
    await this.enter(CTX, Body.ram, 'ram');
    this.path.push(0);
    for (let i = 0; !(await this.atEnd()); i++) {
      this.path[this.path.length - 1] = i;
      const k = await this.peek();
      const ev = this.ev;
      const at = ev.offset;
      if (ev.cls !== CTX) throw this.fail('E_BER', 'unexpected RAM record', 'a RamRecord alternative', this.describe());
      if (ev.number === Ram.eos && k === BerEventKind.Primitive) {
        const c = await this.prim(CTX, Ram.eos, 'eos', 0);
        if (c.length !== 0) throw this.fail('E_BER', 'eos must be an empty NULL', '0 contents octets', `${c.length}`);
        await this.v.ramEos?.(BigInt(RamFlag.EOS));
        continue;
      }
      if (k !== BerEventKind.Start) throw this.fail('E_BER', 'unexpected RAM record', 'a constructed RamRecord alternative', this.describe());
      switch (ev.number) {
        case Ram.memSize:
          await this.memSize();
          break;
        case Ram.zeroPages:
          await this.zeroRun(at);
          break;
        case Ram.pages:
          await this.pageRun(at);
          break;
        case Ram.xbzrle:
        case Ram.compressed:
          await this.encodedPage(ev.number, at);
          break;
        case EXTENSIONS:
          await this.extension();
          break;
        default:
          throw this.fail('E_BER', 'unknown RAM record', 'a RamRecord alternative ([0]..[5], [29])', this.describe());
      }
    }
    this.path.pop();
    await this.leave('ram');
    void h;
  }

  private async memSize(): Promise<void> {
    await this.enter(CTX, Ram.memSize, 'memSize');
    const total = await this.size(MemSize.totalBytes, 'totalBytes');
    const blocks: RamBlockInfo[] = [];
    await this.enter(CTX, MemSize.blocks, 'blocks');
    let sum = 0n;
    while (!(await this.atEnd())) {
      if (blocks.length >= this.maxBlocks) throw this.fail('E_LIMIT', 'too many RAM blocks', `at most ${this.maxBlocks}`, 'more');
      await this.enter(TagClass.Universal, Universal.Sequence, 'RamBlock');
      const name = await this.name(Block.name, 'name');
      if (name.length === 0 || name.length > 255) throw this.fail('E_BER', 'RAM block name must be 1..255 characters', 'a counted string', `${name.length} characters`);
      const length = await this.size(Block.usedLength, 'usedLength');
      let pageSize: bigint | undefined;
      let addr: bigint | undefined;
      if (await this.isPrim(CTX, Block.pageSize)) pageSize = await this.size(Block.pageSize, 'pageSize');
      if (await this.isPrim(CTX, Block.address)) addr = await this.size(Block.address, 'address');
      await this.extensionsIfAny();
      await this.leave('RamBlock');
      blocks.push({ name, length, ...(pageSize !== undefined ? { pageSize } : {}), ...(addr !== undefined ? { addr } : {}) });
      sum += length;
    }
    await this.leave('blocks');
    await this.extensionsIfAny();
    await this.leave('memSize');
    if (sum !== total) {
      throw this.fail('E_BER', 'RAM block lengths do not add up to totalBytes', `a sum of ${total}`, `${sum}`);
    }
    for (const b of blocks) this.blocks.set(b.name, Number(b.length));
    await this.v.ramBlocks?.({ total, blocks });
  }

  /** [0] block OPTIONAL and [1] offset, shared by every page record; sets `rec.block` and checks the range. */
  private async runStart(kind: string, at: number): Promise<{ named: boolean; offset: number }> {
    let named = false;
    if (await this.isString(CTX, Run.block)) {
      this.currentBlock = await this.name(Run.block, 'block');
      named = true;
    }
    const block = this.currentBlock;
    if (block === undefined) throw new VmsError('E_BER', `${kind} continues a block but no block was named before`, { offset: at, path: [...this.path], expected: 'block [0] on the first page record' });
    if (!this.blocks.has(block)) {
      throw new VmsError('E_BER', `unknown RAM block ${JSON.stringify(block)}`, { offset: at, path: [...this.path], expected: 'a block of the memSize record', actual: JSON.stringify(block) });
    }
    const offset = Number(await this.size(Run.offset, 'offset'));
    if (offset % this.pageSize !== 0 || !Number.isSafeInteger(offset)) {
      throw new VmsError('E_BER', 'RAM page offset is not page aligned', { offset: at, path: [...this.path], expected: `a multiple of ${this.pageSize}`, actual: `${offset}` });
    }
    const rec = this.rec;
    rec.block = block;
    rec.recordOffset = at;
    rec.page = undefined;
    return { named, offset };
  }

  private checkRange(at: number, offset: number, count: number): void {
    const length = this.blocks.get(this.rec.block)!;
    if (offset + count * this.pageSize > length) {
      throw new VmsError('E_BER', 'RAM pages run past the end of their block', {
        offset: at,
        path: [...this.path, this.rec.block],
        expected: `pages below 0x${length.toString(16)}`,
        actual: `${count} pages from 0x${offset.toString(16)}`,
      });
    }
  }

  private async zeroRun(at: number): Promise<void> {
    await this.enter(CTX, Ram.zeroPages, 'zeroPages');
    const { named, offset } = await this.runStart('zeroPages', at);
    const count = await this.uint(Run.body, 'count', 0xffffffff);
    if (count === 0) throw this.fail('E_BER', 'a zero run of no pages', 'count 1..4294967295', '0');
    let fill = 0;
    if (await this.isPrim(CTX, Run.fill)) fill = await this.uint(Run.fill, 'fill', 255);
    await this.leave('zeroPages');
    this.checkRange(at, offset, count);
    const rec = this.rec;
    rec.kind = 'zero';
    rec.fill = fill;
    rec.wire = EMPTY;
    const onPage = this.v.ramPage?.bind(this.v);
    if (onPage === undefined) return;
    const ps = this.pageSize;
    for (let i = 0; i < count; i++) {
      rec.flags = RamFlag.ZERO | (i > 0 || !named ? RamFlag.CONTINUE : 0);
      rec.offset = offset + i * ps;
      const p = onPage(rec);
      if (p !== undefined) await p;
    }
  }

  private async pageRun(at: number): Promise<void> {
    await this.enter(CTX, Ram.pages, 'pages');
    const { named, offset } = await this.runStart('pages', at);
    if (!(await this.isString(CTX, Run.body))) throw this.fail('E_BER', 'page run without data', 'data [2] OCTET STRING', this.describe());
    const ps = this.pageSize;
    const dataAt = this.ev.offset;
    // A primitive announces its size up front: check the whole run before the first page.
    if (this.pending === BerEventKind.Primitive) {
      const total = this.ev.length;
      if (total === 0 || total % ps !== 0) throw this.fail('E_BER', 'page run data is not a whole number of pages', `a non-zero multiple of ${ps} bytes`, `${total} bytes`);
      this.checkRange(at, offset, total / ps);
    }
    const rec = this.rec;
    const onPage = this.v.ramPage?.bind(this.v);
    let index = 0;
    let partial = 0;
    const page = (wire: Uint8Array): void | Promise<void> => {
      this.checkRange(at, offset + index * ps, 1);
      rec.kind = 'page';
      rec.flags = RamFlag.PAGE | (index > 0 || !named ? RamFlag.CONTINUE : 0);
      rec.offset = offset + index * ps;
      rec.wire = wire;
      rec.page = wire;
      index++;
      return onPage?.(rec);
    };
    // Contents arrive whole or in pieces (or segments); whole pages go out as views, a page
    // split between pieces is gathered in pageBuf. A view is valid until the next read, so
    // every page of a piece is handed out before the next piece is read.
    await this.stringPieces(CTX, Run.body, 'page data', Number.MAX_SAFE_INTEGER, async (buf) => {
      let p = 0;
      const end = buf.length;
      if (partial > 0) {
        const need = Math.min(ps - partial, end);
        this.pageBuf!.set(buf.subarray(0, need), partial);
        partial += need;
        p = need;
        if (partial === ps) {
          partial = 0;
          const r = page(this.pageBuf!);
          if (r !== undefined) await r;
        }
      }
      while (end - p >= ps) {
        const r = page(buf.subarray(p, p + ps));
        p += ps;
        if (r !== undefined) await r;
      }
      if (p < end) {
        if (this.pageBuf === undefined || this.pageBuf.length !== ps) this.pageBuf = new Uint8Array(ps);
        this.pageBuf.set(buf.subarray(p, end), 0);
        partial = end - p;
      }
    });
    if (partial !== 0 || index === 0) {
      throw new VmsError('E_BER', 'page run data is not a whole number of pages', { offset: dataAt, path: [...this.path], expected: `a non-zero multiple of ${ps} bytes`, actual: `${index * ps + partial} bytes` });
    }
    await this.extensionsIfAny();
    await this.leave('pages');
    rec.wire = EMPTY;
    rec.page = undefined;
  }

  private async encodedPage(alt: number, at: number): Promise<void> {
    const what = alt === Ram.xbzrle ? 'xbzrle' : 'compressed';
    await this.enter(CTX, alt, what);
    const { named, offset } = await this.runStart(what, at);
    this.checkRange(at, offset, 1);
    const ps = this.pageSize;
    const limit = alt === Ram.xbzrle ? ps : ps + 1024;
    const body = (await this.prim(CTX, Run.body, alt === Ram.xbzrle ? 'encoded' : 'zlib', limit)).slice();
    await this.extensionsIfAny();
    await this.leave(what);
    const rec = this.rec;
    rec.kind = alt === Ram.xbzrle ? 'xbzrle' : 'compressed';
    rec.flags = (alt === Ram.xbzrle ? RamFlag.XBZRLE : RamFlag.COMPRESS_PAGE) | (named ? 0 : RamFlag.CONTINUE);
    rec.offset = offset;
    rec.encoding = alt === Ram.xbzrle ? 0x01 : 0;
    rec.wire = body;
    await this.v.ramPage?.(rec);
  }

  // ---- configuration values ---------------------------------------------------------------

  /** A primitive Value read into memory (configuration subsections). */
  private async simpleValue(name: string): Promise<SimpleValue> {
    const k = await this.peek();
    const t = this.ev.number;
    if (this.ev.cls !== CTX) throw this.fail('E_BER', 'unexpected value', 'a Value alternative', this.describe());
    if (k === BerEventKind.Primitive) {
      const bytes = (await this.prim(CTX, t, name, 1 << 16)).slice();
      const int = t >= ValueTag.int8 && t <= ValueTag.uint64 && bytes.length > 0 && bytes.length <= 8 ? decodeIntegerBig(bytes) : undefined;
      return { tag: t, bytes, ...(int !== undefined ? { int } : {}) };
    }
    if (t !== ValueTag.array) throw this.fail('E_BER', 'unexpected value in a configuration subsection', 'a primitive or an array', this.describe());
    await this.enter(CTX, t, name);
    const elements: SimpleValue[] = [];
    while (!(await this.atEnd())) {
      if (elements.length >= 4096) throw this.fail('E_LIMIT', 'array too long', 'at most 4096 elements', 'more');
      elements.push(await this.simpleValue(name));
    }
    await this.leave(name);
    return { tag: t, bytes: EMPTY, elements };
  }

  // ---- helpers ----------------------------------------------------------------------------

  private async named(step: string, body: () => Promise<void>): Promise<void> {
    this.path.push(step);
    await body();
    this.path.pop();
  }

  private checkPageSize(ps: number): number {
    if (ps < 512 || ps > 1 << 24 || (ps & (ps - 1)) !== 0) throw this.fail('E_BER', 'implausible page size', 'a power of two from 512 to 16 MiB', `${ps}`);
    return ps;
  }
}

interface SimpleValue {
  readonly tag: number;
  readonly bytes: Uint8Array;
  readonly int?: bigint;
  readonly elements?: readonly SimpleValue[];
}

