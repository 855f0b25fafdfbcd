/**
 * Writes the BER migration stream (schema/migration.asn1) from StreamVisitor events, so any
 * QEMU stream the binary reader walks becomes BER in one pass, with memory bounded by one
 * page run.
 *
 * Lengths: the stream, its record list, each section record and its body are indefinite
 * (their size is not known when they start); headers, page runs and every primitive are
 * definite. Device sections go through BerOutputVisitor (SectionBody.device = [0] Struct).
 *
 * RAM: consecutive pages of one block become one run. A run starts at a record that names
 * its block (CONTINUE clear: `block` present) or that continues from the previous record's
 * block (CONTINUE set: `block` absent); each further page must have CONTINUE set and the next
 * offset. Zero pages of one fill byte run without bound; data pages run up to `maxRunPages`
 * (their bytes are gathered in one run buffer, so nothing is allocated per page; a large run's
 * buffer is handed to the channel by reference and reused once the sink has taken it). Each
 * record therefore maps back to exactly one binary record: conversion back is exact.
 *
 * Backpressure: the writer waits for the channel to drain after page runs and at section
 * ends, never per field.
 */
import { MemorySink } from '../../channel/transports/memory.js';
import { ChannelWriter } from '../../channel/writer.js';
import { VmsError } from '../../errors.js';
import { integerSize } from '../../format/ber/integer.js';
import { lengthSize } from '../../format/ber/length.js';
import { utf8Bytes } from '../../format/ber/text.js';
import { BerWriter, UniversalTag } from '../../format/ber/writer.js';
import { BerOutputVisitor } from '../../format/ber/visitor-output.js';
import type { OutputVisitor } from '../../format/visitor.js';
import { configuredPageSize } from '../config.js';
import { Command as CommandNumber, DEFAULT_PAGE_SIZE, QEMU_VM_FILE_MAGIC, RamFlag } from '../constants.js';
import type {
  Configuration,
  RamBlockList,
  RamPage,
  SectionEnd,
  SectionHeader,
  StreamCommand,
  StreamHeader,
  StreamVisitor,
  Trailer,
} from '../events.js';
import { StreamWriter } from '../writer.js';
import {
  Block,
  Body,
  C,
  Cmd,
  Config,
  FORMAT_VERSION,
  Header,
  MemSize,
  Ram,
  Rec,
  Run,
  STREAM_TAG,
  Sec,
  SecHeader,
  Stream,
  TrailerAlt,
} from './schema.js';

export interface BerStreamWriterOptions {
  /** Most data pages in one PageRun. Defaults to 64. */
  readonly maxRunPages?: number;
  /** Target page size when the configuration does not say. Defaults to 4096. */
  readonly pageSize?: number;
}

export const DEFAULT_MAX_RUN_PAGES = 64;
/** ZeroRun.count is INTEGER (1..4294967295). */
const MAX_ZERO_RUN = 0xffffffff;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Page runs of at least this many bytes are handed to the channel rather than copied into it. */
const HAND_OVER_RUN = 64 << 10;
/** Handed-over run buffers kept for reuse (the channel's high-water mark holds about 16). */
const MAX_HANDED_OVER = 64;

/** Size of a TLV with a one-octet tag and definite length. */
const tlv = (contentLength: number): number => 1 + lengthSize(contentLength) + contentLength;
const intTlv = (v: number): number => tlv(integerSize(v));

type BodyState = 'none' | 'pending' | 'device' | 'ram';

interface PendingRun {
  kind: 'zero' | 'page' | undefined;
  block: string;
  /** The first record named its block (CONTINUE clear). */
  named: boolean;
  offset: number;
  count: number;
  fill: number;
}

export class BerStreamWriter implements StreamVisitor {
  readonly ber: BerWriter;
  private readonly out: ChannelWriter;
  private readonly maxRunPages: number;
  private pageSize: number;
  private magic = QEMU_VM_FILE_MAGIC;
  private qemuVersion = 3;
  private started = false;
  private body: BodyState = 'none';
  private bodyStart = 0;
  private readonly device: BerOutputVisitor;
  private readonly run: PendingRun = { kind: undefined, block: '', named: false, offset: 0, count: 0, fill: 0 };
  private runData: Uint8Array | undefined;
  /** Run buffers handed to the channel by reference, oldest first, with the bytesPut at their end. */
  private readonly handedOver: { buf: Uint8Array; releaseAt: number }[] = [];
  private readonly names = new Map<string, Uint8Array>();
  /** A PACKAGED command's nested items, written in QEMU's form into memory until packagedEnd. */
  private pack: { cmd: StreamCommand; sink: MemorySink; out: ChannelWriter; w: StreamWriter } | undefined;

  constructor(out: ChannelWriter, options: BerStreamWriterOptions = {}) {
    this.out = out;
    this.ber = new BerWriter(out);
    this.maxRunPages = options.maxRunPages ?? DEFAULT_MAX_RUN_PAGES;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isSafeInteger(this.maxRunPages) || this.maxRunPages < 1) {
      throw new VmsError('E_USAGE', 'maxRunPages must be a positive integer', { actual: String(this.maxRunPages) });
    }
    this.device = new BerOutputVisitor(this.ber, { topTag: C[Body.device]! });
  }

  header(h: StreamHeader): void {
    if (h.magic !== QEMU_VM_FILE_MAGIC) {
      throw new VmsError('E_FORMAT', 'only QEMU streams convert to BER', { expected: 'magic 0x5145564d', actual: `0x${h.magic.toString(16)}` });
    }
    this.magic = h.magic;
    this.qemuVersion = h.version;
  }

  configuration(c: Configuration): void {
    this.pageSize = configuredPageSize(c) ?? this.pageSize;
    this.start();
    const ber = this.ber;
    ber.startIndefinite(C[Rec.configuration]!);
    this.name(Config.machineType, c.machine);
    if (c.subsections.length > 0) {
      ber.startIndefinite(C[Config.subsections]!);
      // A Subsection has the same components as a Struct ([0] name, [1] version, [2] fields).
      const v = new BerOutputVisitor(ber);
      for (const s of c.subsections) {
        v.startStruct(s.name, { vmsdName: s.name, version: s.version });
        switch (s.kind) {
          case 'target-page-bits':
            v.uint32('target_page_bits', s.pageBits);
            break;
          case 'capabilities':
            v.uint32('caps_count', s.capabilities.length);
            v.startArray('capabilities', s.capabilities.length);
            for (const cap of s.capabilities) v.string('capabilities', cap);
            v.endArray();
            break;
          case 'uuid':
            v.buffer('uuid', s.uuid);
            break;
        }
        v.endStruct();
      }
      ber.end();
    }
    ber.end();
  }

  command(c: StreamCommand): void {
    if (this.pack !== undefined) {
      if (c.cmd === CommandNumber.PACKAGED) throw new VmsError('E_FORMAT', 'PACKAGED command inside a package', { offset: c.offset, path: ['packaged'] });
      return this.pack.w.command(c);
    }
    this.start();
    if (c.cmd === CommandNumber.PACKAGED) {
      const sink = new MemorySink();
      const out = new ChannelWriter(sink);
      this.pack = { cmd: c, sink, out, w: new StreamWriter(out) };
      return;
    }
    this.writeCommand(c, undefined);
  }

  async packagedEnd(): Promise<void> {
    const p = this.pack;
    if (p === undefined) return;
    this.pack = undefined;
    await p.out.flushAll();
    this.writeCommand(p.cmd, p.sink.bytes());
  }

  sectionStart(h: SectionHeader): void | Promise<void> {
    if (this.pack !== undefined) return this.pack.w.sectionStart(h);
    this.start();
    const ber = this.ber;
    switch (h.kind) {
      case 'start':
      case 'full': {
        ber.startIndefinite(C[h.kind === 'start' ? Rec.sectionStart : Rec.sectionFull]!);
        const idstr = this.nameBytes(h.idstr);
        ber.header(C[Sec.header]!, true, intTlv(h.id) + tlv(idstr.length) + intTlv(h.instance) + intTlv(h.version));
        ber.integer(h.id, C[SecHeader.sectionId]);
        ber.header(C[SecHeader.idstr]!, false, idstr.length);
        this.out.bytesCopy(idstr);
        ber.integer(h.instance, C[SecHeader.instanceId]);
        ber.integer(h.version, C[SecHeader.versionId]);
        break;
      }
      case 'part':
      case 'end':
        ber.startIndefinite(C[h.kind === 'part' ? Rec.sectionPart : Rec.sectionEnd]!);
        ber.integer(h.id, C[0]);
        break;
    }
    // body [1] EXPLICIT SectionBody: the alternative is chosen by the first body event.
    ber.startIndefinite(C[Sec.body]!);
    this.body = 'pending';
  }

  deviceFields(h: SectionHeader): OutputVisitor | undefined {
    if (this.pack !== undefined) return this.pack.w.deviceFields();
    if (this.body !== 'pending') {
      throw new VmsError('E_USAGE', 'device fields outside a section body', { offset: h.offset, path: [h.idstr] });
    }
    this.body = 'device';
    this.bodyStart = this.out.bytesPut;
    return this.device;
  }

  ramBlocks(list: RamBlockList): void {
    if (this.pack !== undefined) return this.pack.w.ramBlocks(list);
    this.ramBody();
    this.flushRun();
    const ber = this.ber;
    ber.startIndefinite(C[Ram.memSize]!);
    ber.integer(bigOrNumber(list.total), C[MemSize.totalBytes]);
    ber.startIndefinite(C[MemSize.blocks]!);
    for (const b of list.blocks) {
      ber.startIndefinite(UniversalTag.Sequence);
      this.name(Block.name, b.name);
      ber.integer(bigOrNumber(b.length), C[Block.usedLength]);
      if (b.pageSize !== undefined) ber.integer(bigOrNumber(b.pageSize), C[Block.pageSize]);
      if (b.addr !== undefined) ber.integer(bigOrNumber(b.addr), C[Block.address]);
      ber.end();
    }
    ber.end();
    ber.end();
  }

  ramPage(p: RamPage): void | Promise<void> {
    if (this.pack !== undefined) return this.pack.w.ramPage(p);
    this.ramBody();
    const run = this.run;
    const cont = (p.flags & RamFlag.CONTINUE) !== 0;
    const ps = this.pageSize;
    switch (p.kind) {
      case 'zero':
        if (run.kind === 'zero' && cont && p.block === run.block && p.fill === run.fill && p.offset === run.offset + run.count * ps && run.count < MAX_ZERO_RUN) {
          run.count++;
          return;
        }
        this.flushRun();
        this.startRun('zero', p, cont);
        run.fill = p.fill;
        return this.drainIfNeeded();
      case 'page': {
        if (p.wire.length !== ps) {
          throw new VmsError(p.wire.length === 0 ? 'E_USAGE' : 'E_FORMAT', p.wire.length === 0 ? 'page contents were not read' : 'RAM page of another size than the target page', {
            offset: p.recordOffset,
            path: ['ram', p.block, p.offset],
            expected: `${ps} bytes`,
            actual: `${p.wire.length} bytes`,
          });
        }
        const extend = run.kind === 'page' && cont && p.block === run.block && p.offset === run.offset + run.count * ps && run.count < this.maxRunPages;
        if (!extend) {
          this.flushRun();
          this.startRun('page', p, cont);
          run.count = 0;
        }
        let data = this.runData;
        if (data === undefined || data.length !== this.maxRunPages * ps) data = this.runData = this.runBuffer(this.maxRunPages * ps);
        data.set(p.wire, run.count * ps);
        run.count++;
        if (run.count === this.maxRunPages) {
          this.flushRun();
          return this.drainIfNeeded();
        }
        return;
      }
      case 'xbzrle':
      case 'compressed': {
        this.flushRun();
        if (p.kind === 'xbzrle' && p.encoding !== 0x01) {
          throw new VmsError('E_FORMAT', 'XBZRLE page with an unknown encoding flag has no BER form', { offset: p.recordOffset, expected: '0x01', actual: `0x${p.encoding.toString(16)}` });
        }
        const named = cont ? undefined : this.nameBytes(p.block);
        const contents = (named !== undefined ? tlv(named.length) : 0) + intTlv(p.offset) + tlv(p.wire.length);
        this.ber.header(C[p.kind === 'xbzrle' ? Ram.xbzrle : Ram.compressed]!, true, contents);
        if (named !== undefined) this.nameFrom(Run.block, named);
        this.ber.integer(p.offset, C[Run.offset]);
        this.ber.header(C[Run.body]!, false, p.wire.length);
        this.out.bytesCopy(p.wire);
        return this.drainIfNeeded();
      }
      case 'hook':
        throw new VmsError('E_FORMAT', 'RAM_SAVE_FLAG_HOOK records (RDMA) have no BER form', { offset: p.recordOffset, path: ['ram'] });
    }
  }

  ramEos(word: bigint): void {
    if (this.pack !== undefined) return this.pack.w.ramEos(word);
    this.ramBody();
    this.flushRun();
    if (word !== BigInt(RamFlag.EOS)) {
      throw new VmsError('E_FORMAT', 'a RAM EOS word other than 0x10 has no BER form', { path: ['ram'], expected: '0x10', actual: `0x${word.toString(16)}` });
    }
    this.ber.null(C[Ram.eos]);
  }

  sectionEnd(h: SectionHeader, end: SectionEnd): void | Promise<void> {
    if (this.pack !== undefined) return this.pack.w.sectionEnd(h, end);
    const ber = this.ber;
    if (this.body === 'ram') {
      this.flushRun();
      ber.end();
    } else if (this.body === 'pending' || (this.body === 'device' && this.out.bytesPut === this.bodyStart)) {
      // Nothing reported the payload: an empty raw body.
      ber.octetString(new Uint8Array(0), C[Body.raw]);
    } else if (this.device.busy) {
      throw new VmsError('E_USAGE', 'section ended inside a device struct', { offset: h.offset, path: [h.idstr] });
    }
    this.body = 'none';
    ber.end(); // body [1] EXPLICIT
    if (!end.footer) ber.boolean(false, C[Sec.footer]);
    ber.end(); // the section record
    return this.drainIfNeeded();
  }

  eof(offset: number, depth: number): void {
    if (this.pack !== undefined) return this.pack.w.eof();
    void offset;
    void depth;
    this.start();
    this.ber.null(C[Rec.eof]);
  }

  trailer(t: Trailer): void {
    this.start();
    let utf8 = true;
    try {
      UTF8.decode(t.json);
    } catch {
      utf8 = false;
    }
    const inner = tlv(t.json.length);
    this.ber.header(C[Rec.vmdesc]!, true, inner);
    this.ber.header(C[utf8 ? TrailerAlt.json : TrailerAlt.raw]!, false, t.json.length);
    this.out.bytesCopy(t.json);
  }

  async end(): Promise<void> {
    this.start();
    this.ber.end(); // records
    this.ber.end(); // MigrationStream
    await this.out.flushAll();
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Writes the stream's tag, its header and opens the record list (once, at the first record). */
  private start(): void {
    if (this.started) return;
    this.started = true;
    const ber = this.ber;
    ber.startIndefinite(STREAM_TAG);
    ber.header(C[Stream.header]!, true, intTlv(FORMAT_VERSION) + intTlv(this.qemuVersion) + intTlv(this.pageSize));
    ber.integer(FORMAT_VERSION, C[Header.formatVersion]);
    ber.integer(this.qemuVersion, C[Header.qemuFileVersion]);
    ber.integer(this.pageSize, C[Header.pageSize]);
    ber.startIndefinite(C[Stream.records]!);
    void this.magic;
  }

  private writeCommand(c: StreamCommand, packaged: Uint8Array | undefined): void {
    const ber = this.ber;
    const contents = intTlv(c.cmd) + tlv(c.payload.length) + (packaged !== undefined ? tlv(packaged.length) : 0);
    ber.header(C[Rec.command]!, true, contents);
    ber.integer(c.cmd, C[Cmd.command]);
    ber.header(C[Cmd.payload]!, false, c.payload.length);
    this.out.bytesCopy(c.payload);
    if (packaged !== undefined) {
      ber.header(C[Cmd.packaged]!, false, packaged.length);
      this.out.bytesCopy(packaged);
    }
  }

  private ramBody(): void {
    if (this.body === 'ram') return;
    if (this.body !== 'pending') throw new VmsError('E_USAGE', 'RAM records outside a section body');
    this.ber.startIndefinite(C[Body.ram]!);
    this.body = 'ram';
  }

  private startRun(kind: 'zero' | 'page', p: RamPage, cont: boolean): void {
    const run = this.run;
    run.kind = kind;
    run.block = p.block;
    run.named = !cont;
    run.offset = p.offset;
    run.count = 1;
    run.fill = 0;
  }

  /** Writes the pending run as one ZeroRun or PageRun (definite lengths, computed up front). */
  private flushRun(): void {
    const run = this.run;
    if (run.kind === undefined || run.count === 0) {
      run.kind = undefined;
      return;
    }
    const ber = this.ber;
    const named = run.named ? this.nameBytes(run.block) : undefined;
    let contents = (named !== undefined ? tlv(named.length) : 0) + intTlv(run.offset);
    if (run.kind === 'zero') {
      contents += intTlv(run.count) + (run.fill !== 0 ? intTlv(run.fill) : 0);
      ber.header(C[Ram.zeroPages]!, true, contents);
      if (named !== undefined) this.nameFrom(Run.block, named);
      ber.integer(run.offset, C[Run.offset]);
      ber.integer(run.count, C[Run.body]);
      if (run.fill !== 0) ber.integer(run.fill, C[Run.fill]); // DEFAULT 0: omitted when 0
    } else {
      const n = run.count * this.pageSize;
      contents += tlv(n);
      ber.header(C[Ram.pages]!, true, contents);
      if (named !== undefined) this.nameFrom(Run.block, named);
      ber.integer(run.offset, C[Run.offset]);
      ber.header(C[Run.body]!, false, n);
      if (n >= HAND_OVER_RUN) {
        // Large runs go to the channel by reference (no second copy). The buffer is reused once
        // the sink has taken it (bytesWritten past its end), so memory stays warm and bounded.
        this.out.bytes(this.runData!.subarray(0, n));
        if (this.handedOver.length < MAX_HANDED_OVER) this.handedOver.push({ buf: this.runData!, releaseAt: this.out.bytesPut });
        this.runData = undefined;
      } else {
        this.out.bytesCopy(this.runData!.subarray(0, n));
      }
    }
    run.kind = undefined;
    run.count = 0;
  }

  /** A run buffer: the oldest handed-over one if the sink is done with it, else a new one. */
  private runBuffer(size: number): Uint8Array {
    const oldest = this.handedOver[0];
    if (oldest !== undefined && oldest.releaseAt <= this.out.bytesWritten) {
      this.handedOver.shift();
      if (oldest.buf.length === size) return oldest.buf;
    }
    return new Uint8Array(size);
  }

  private drainIfNeeded(): void | Promise<void> {
    if (this.out.needsDrain) return this.out.drain();
  }

  private name(tag: number, s: string): void {
    this.nameFrom(tag, this.nameBytes(s));
  }

  private nameFrom(tag: number, b: Uint8Array): void {
    this.ber.header(C[tag]!, false, b.length);
    this.out.bytesCopy(b);
  }

  /** Names are UTF-8 of their code points (QEMU's latin1 bytes above 0x7F become U+0080..U+00FF). */
  private nameBytes(s: string): Uint8Array {
    let b = this.names.get(s);
    if (b === undefined) {
      if (this.names.size > 1024) this.names.clear();
      b = utf8Bytes(s);
      this.names.set(s, b);
    }
    return b;
  }
}

/** Sizes fit a double exactly up to 2^53; BerWriter.integer takes either. */
function bigOrNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : v;
}
