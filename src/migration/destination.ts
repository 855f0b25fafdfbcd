/**
 * The receiving side of a live migration (QEMU qemu_loadvm_state with the incoming state
 * machine). Everything is staged: RAM pages into staging copies, device sections into new
 * state objects. Only when the whole stream has arrived and checked out (every section's
 * footer, EOF, the vmdesc trailer against the sections received, the end of the stream) is
 * it applied to the machine. Any failure leaves the machine exactly as it was.
 *
 * With a reverse channel the destination answers with an ACK line (see ack.ts).
 */
import { EventEmitter } from 'node:events';
import { ChannelReader, type ReaderOptions } from '../channel/reader.js';
import type { ByteSink, ByteSource } from '../channel/transport.js';
import { VmsError, isVmsError } from '../errors.js';
import { decodeCommand, decodeConfiguration } from '../stream/config.js';
import { Command, QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, SectionType } from '../stream/constants.js';
import { peekAhead } from '../channel/transports/prefixed.js';
import { detectFormat } from '../stream/ber/detect.js';
import { parseVmdesc } from '../stream/vmdesc.js';
import { berDecodingSource } from './ber-bridge.js';
import { ACK_PREFIX, ProgressReporter, REPORT_PREFIX, writeLine, type AckMessage } from './ack.js';
import type { DeviceHandler, LiveLoadHandler, MigratableMachine } from './handlers.js';
import { RamLoadHandler } from './ram-load.js';
import { RamStaging } from './ram-staging.js';
import { StallGuardSource } from './stall-guard.js';

export interface DestinationOptions {
  /** No byte from the source for this long fails the migration. Defaults to 10000 ms. */
  readonly stallTimeoutMs?: number;
  /** Refuse a configuration record naming another machine type. Defaults to true. */
  readonly checkMachineType?: boolean;
  /** Largest vmdesc trailer accepted. Defaults to 16 MiB. */
  readonly maxTrailer?: number;
  /** Runs after commit; what it returns is sent to the source as the REPORT line. */
  readonly afterCommit?: () => unknown;
  readonly reader?: ReaderOptions;
  /**
   * Prepares staging memory for incoming RAM when the destination is created, before any
   * stream arrives (QEMU's -mem-prealloc in spirit): a staging copy of every RAM block is
   * allocated and each of its pages written once, so pages arriving later cost a copy and
   * no page fault. The staging buffers are kept: on commit a fully received staging buffer
   * becomes the block's RAM and the block's old buffer becomes the next staging area. Memory
   * is twice the guest RAM either way, but with this it stays so between migrations.
   * Creating the destination takes about as long as the faults saved (~0.3-0.7 s per GiB).
   * Before another migration into the same destination, call `prepare()` again while idle:
   * the RAM buffer a commit handed back to staging may have pages the OS never mapped.
   * Defaults to false (fresh staging per migration, faulted in as pages arrive).
   */
  readonly prealloc?: boolean;
}

export const DEFAULT_MAX_TRAILER_BYTES = 16 << 20;
/** Read buffer for the incoming stream: larger reads mean fewer awaits per GiB (4 MiB; the channel default is 1 MiB). */
export const DEFAULT_INCOMING_BUFFER = 4 << 20;

/** The first bytes of a BER migration stream (APPLICATION 11987 "VM", constructed). */
export const BER_STREAM_MAGIC = Uint8Array.of(0x7f, 0xd6, 0xcd, 0x53);

export interface IncomingConnection {
  readonly source: ByteSource;
  /** The reverse channel for the ACK (a socket's write side). */
  readonly reply?: ByteSink;
}

export interface IncomingResult {
  /** Stream bytes received. */
  readonly bytes: number;
  readonly ramPages: number;
  readonly devices: number;
  readonly elapsedMs: number;
  readonly report: unknown;
}

export type IncomingStatus = 'none' | 'active' | 'completed' | 'failed';

export class MigrationDestination extends EventEmitter {
  private state: IncomingStatus = 'none';
  private reader: ChannelReader | undefined;
  private readonly staging: RamStaging;

  constructor(
    private readonly machine: MigratableMachine,
    private readonly options: DestinationOptions = {},
  ) {
    super();
    this.staging = new RamStaging(machine.memory);
    if (options.prealloc === true) this.prepare();
  }

  /**
   * Prepares staging memory now (see DestinationOptions.prealloc): allocates what is missing
   * and touches every page not known to be mapped. From then on staging buffers are kept.
   */
  prepare(): void {
    if (this.state === 'active') throw new VmsError('E_USAGE', 'cannot prepare staging memory while a migration is being received');
    this.staging.prepare();
  }

  /** Bytes of staging memory kept between migrations (prealloc only). */
  get stagingBytes(): number {
    return this.staging.keptBytes;
  }

  get status(): IncomingStatus {
    return this.state;
  }

  /** Stream bytes received so far. */
  get bytesReceived(): number {
    return this.reader?.bytesReceived ?? 0;
  }

  /**
   * Receives one migration. Resolves after the state was applied (and the ACK sent);
   * rejects with a VmsError, having applied nothing, when anything was wrong.
   */
  async receive(conn: IncomingConnection): Promise<IncomingResult> {
    if (this.state === 'active') throw new VmsError('E_USAGE', 'a migration is already being received');
    this.state = 'active';
    const started = performance.now();
    const stall = this.options.stallTimeoutMs ?? 10_000;
    // The first bytes tell the wire format: QEMU's "QEVM" or BER's 7F D6 CD 53 (converted back as it arrives).
    // peekAhead keeps a socket's chunks lendable, so the reader takes pages from them in place.
    const guarded = new StallGuardSource(conn.source, stall);
    const peeked = await peekAhead(guarded, 4);
    const replay = peeked.source;
    const input = detectFormat(peeked.first) === 'ber' ? berDecodingSource(replay) : replay;
    const r = new ChannelReader(input, { bufferSize: DEFAULT_INCOMING_BUFFER, ...this.options.reader });
    this.reader = r;
    const ram = new RamLoadHandler(this.machine.memory, this.staging);
    let committed = false;
    // Progress for the source's downtime estimate, written in order with the ACK that follows.
    const progress = conn.reply === undefined ? undefined : new ProgressReporter(conn.reply, () => r.bytesRead, () => guarded.waiting);
    const stopProgress = async (): Promise<void> => {
      await progress?.stop();
    };
    try {
      const staged = await this.load(r, ram);
      await stopProgress();
      // Everything arrived and checked: apply it, RAM first.
      ram.commit();
      for (const { dev, state } of staged) dev.apply(state);
      committed = true;
      this.state = 'completed';
      let report: unknown;
      if (conn.reply !== undefined) {
        await writeLine(conn.reply, ACK_PREFIX, { status: 'completed' } satisfies AckMessage).catch(() => undefined);
        if (this.options.afterCommit !== undefined) {
          report = await this.options.afterCommit();
          await writeLine(conn.reply, REPORT_PREFIX, report).catch(() => undefined);
        }
        await conn.reply.close().catch(() => undefined);
      } else if (this.options.afterCommit !== undefined) {
        report = await this.options.afterCommit();
      }
      return { bytes: r.bytesRead, ramPages: ram.pages, devices: staged.length, elapsedMs: performance.now() - started, report };
    } catch (e) {
      await stopProgress();
      if (committed) throw e;
      ram.discard();
      this.state = 'failed';
      const err = isVmsError(e) ? e : new VmsError('E_IO', `incoming migration failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      if (conn.reply !== undefined) {
        const ack: AckMessage = { status: 'failed', error: { code: err.code, message: err.message } };
        await writeLine(conn.reply, ACK_PREFIX, ack).catch(() => undefined);
        conn.reply.destroy();
      }
      throw err;
    } finally {
      await r.close().catch(() => undefined);
    }
  }

  /** Reads and checks the whole stream; returns the staged device states. */
  private async load(r: ChannelReader, ram: RamLoadHandler): Promise<{ dev: DeviceHandler; state: unknown }[]> {
    const machine = this.machine;
    await this.header(r);
    const live = new Map<number, LiveLoadHandler>();
    const byKey = new Map<string, DeviceHandler>();
    for (const d of machine.devices) byKey.set(`${d.idstr}\u0000${d.instance}`, d);
    const staged: { dev: DeviceHandler; state: unknown }[] = [];
    const fullSections: { name: string; instance: number }[] = [];
    const usedIds = new Set<number>();
    let sections = 0;
    for (;;) {
      const at = r.offset;
      const type = await r.retry(() => r.u8());
      switch (type) {
        case SectionType.CONFIGURATION: {
          if (sections > 0) throw new VmsError('E_FORMAT', 'configuration record after the first section', { offset: at });
          const c = await r.retry(() => decodeConfiguration(r));
          if ((this.options.checkMachineType ?? true) && c.machine !== machine.machineType) {
            throw new VmsError('E_MISMATCH', 'machine type differs', {
              offset: at + 5,
              path: ['configuration'],
              expected: JSON.stringify(machine.machineType),
              actual: JSON.stringify(c.machine),
            });
          }
          break;
        }
        case SectionType.START:
        case SectionType.FULL: {
          sections++;
          const h = await r.retry(() => ({ id: r.u32(), idstr: r.countedString(), instance: r.u32(), version: r.u32() }));
          if (usedIds.has(h.id)) throw new VmsError('E_FORMAT', `section id ${h.id} used twice`, { offset: at + 1, path: [h.idstr] });
          usedIds.add(h.id);
          if (type === SectionType.START) {
            if (h.idstr !== ram.idstr || h.instance !== ram.instance || live.size > 0) {
              throw unknownSection(h.idstr, h.instance, at);
            }
            live.set(h.id, ram);
            await ram.loadSection(r, 'start', h.id, h.version);
          } else {
            const dev = byKey.get(`${h.idstr}\u0000${h.instance}`);
            if (dev === undefined) throw unknownSection(h.idstr, h.instance, at);
            byKey.delete(`${h.idstr}\u0000${h.instance}`);
            const state = await r.retry(() => {
              try {
                return dev.load(r, h.version);
              } catch (e) {
                throw isVmsError(e) && e.path[0] !== h.idstr ? e.within(h.idstr) : e;
              }
            });
            staged.push({ dev, state });
            fullSections.push({ name: h.idstr, instance: h.instance });
          }
          await this.footer(r, h.id, h.idstr);
          break;
        }
        case SectionType.PART:
        case SectionType.END: {
          sections++;
          const id = await r.retry(() => r.u32());
          const h = live.get(id);
          if (h === undefined || h.complete) {
            throw new VmsError('E_FORMAT', `section ${id} was not started${h !== undefined ? ' or has already ended' : ''}`, {
              offset: at + 1,
              expected: 'the id of a START section',
              actual: String(id),
            });
          }
          await h.loadSection(r, type === SectionType.PART ? 'part' : 'end', id, h.version);
          await this.footer(r, id, h.idstr);
          break;
        }
        case SectionType.COMMAND: {
          const c = await r.retry(() => decodeCommand(r));
          // A return path we do not offer; PING only asks for a PONG on it.
          if (c.cmd !== Command.OPEN_RETURN_PATH && c.cmd !== Command.PING) {
            throw new VmsError('E_FORMAT', `command ${c.name} is not supported by this destination`, { offset: at, path: ['command'] });
          }
          break;
        }
        case SectionType.EOF:
          for (const h of live.values()) {
            if (!h.complete) {
              throw new VmsError('E_TRUNCATED', `section ${h.idstr} never ended`, { offset: at, path: [h.idstr], expected: 'its END section before EOF' });
            }
          }
          await this.trailer(r, fullSections);
          return staged;
        default:
          throw new VmsError('E_FORMAT', 'unknown section type', {
            offset: at,
            expected: 'a section type (0x01..0x08) or EOF',
            actual: `0x${type.toString(16).padStart(2, '0')}`,
          });
      }
    }
  }

  private async header(r: ChannelReader): Promise<void> {
    const magic = await r.retry(() => r.u32());
    if (magic !== QEMU_VM_FILE_MAGIC) {
      const ber = magic === 0x7fd6cd53;
      throw new VmsError(ber ? 'E_UNKNOWN' : 'E_FORMAT', ber ? 'BER migration streams are not supported by this destination yet' : 'not a migration stream', {
        offset: 0,
        expected: 'magic 51 45 56 4d ("QEVM") or 7f d6 cd 53 (BER)',
        actual: `0x${magic.toString(16).padStart(8, '0')}`,
      });
    }
    const version = await r.retry(() => r.u32());
    if (version !== QEMU_VM_FILE_VERSION) {
      throw new VmsError('E_VERSION', 'unsupported stream version', { offset: 4, expected: String(QEMU_VM_FILE_VERSION), actual: String(version) });
    }
  }

  private async footer(r: ChannelReader, id: number, idstr: string): Promise<void> {
    await r.retry(() => {
      const at = r.offset;
      const b = r.u8();
      if (b !== SectionType.FOOTER) {
        throw new VmsError('E_FORMAT', 'missing section footer', { offset: at, path: [idstr], expected: '0x7e', actual: `0x${b.toString(16)}` });
      }
      const got = r.u32();
      if (got !== id) {
        throw new VmsError('E_MISMATCH', 'section footer has another id', { offset: at + 1, path: [idstr], expected: String(id), actual: String(got) });
      }
    });
  }

  /** The vmdesc after EOF must list exactly the FULL sections received, then the stream must end. */
  private async trailer(r: ChannelReader, sections: readonly { name: string; instance: number }[]): Promise<void> {
    if (await r.atEnd()) return;
    const at = r.offset;
    const max = this.options.maxTrailer ?? DEFAULT_MAX_TRAILER_BYTES;
    const len = await r.retry(() => {
      const t = r.u8();
      if (t !== SectionType.VMDESCRIPTION) {
        throw new VmsError('E_FORMAT', 'bytes after EOF that are not a vmdesc trailer', { offset: at, expected: '0x06', actual: `0x${t.toString(16)}` });
      }
      return r.u32();
    });
    if (len > max) throw new VmsError('E_LIMIT', 'vmdesc trailer is too long', { offset: at + 1, expected: `at most ${max} bytes`, actual: `${len} bytes` });
    const jsonAt = r.offset;
    const json = await r.retry(() => r.bytesCopy(len));
    const desc = parseVmdesc(json, jsonAt);
    const listed = desc.devices.map((d) => `${d.name}/${d.instance_id}`);
    const got = sections.map((s) => `${s.name}/${s.instance}`);
    if (listed.join('\n') !== got.join('\n')) {
      throw new VmsError('E_MISMATCH', 'vmdesc trailer does not describe the sections received', {
        offset: jsonAt,
        path: ['vmdesc'],
        expected: got.join(', '),
        actual: listed.join(', '),
      });
    }
    if (!(await r.atEnd())) throw new VmsError('E_FORMAT', 'bytes after the vmdesc trailer', { offset: r.offset, expected: 'the end of the stream' });
  }
}

function unknownSection(idstr: string, instance: number, at: number): VmsError {
  return new VmsError('E_UNKNOWN', `unknown section or instance ${JSON.stringify(idstr)} ${instance}`, {
    offset: at,
    path: [idstr],
    expected: 'a section this machine has',
  });
}
