/**
 * A small migratable machine for the demo, the bench and the tests: RAM blocks, three
 * devices described with VMState, and a workload that dirties guest pages at a set rate
 * while it runs. (Stands in until `src/sample/` provides the shared sample machine.)
 */
import { createHash } from 'node:crypto';
import { ChannelWriter } from '../channel/writer.js';
import { MemorySink } from '../channel/transports/memory.js';
import { vmstate } from '../vmstate/describe.js';
import { array, bool, buffer, int64, uint16, uint32, uint64, uint8 } from '../vmstate/field.js';
import type { StateOf } from '../vmstate/infer.js';
import { vmstateDevice } from './device-vmstate.js';
import { GuestMemory } from './guest-memory.js';
import type { DeviceHandler, MigratableMachine } from './handlers.js';

export const cpuVmsd = vmstate({
  name: 'cpu',
  version: 2,
  minVersion: 1,
  fields: {
    regs: array(uint64(), 16),
    rip: uint64(),
    rflags: uint32(),
    halted: bool(),
    tsc: int64({ since: 2 }),
  },
});

export const timerVmsd = vmstate({
  name: 'timer',
  version: 2,
  fields: { cpuTicksOffset: int64(), cpuTicksEnabled: uint8(), cpuClockOffset: int64() },
});

export const serialVmsd = vmstate({
  name: 'serial',
  version: 3,
  fields: {
    divider: uint16(),
    rbr: uint8(),
    ier: uint8(),
    iir: uint8(),
    lcr: uint8(),
    mcr: uint8(),
    lsr: uint8(),
    msr: uint8(),
    scr: uint8(),
    fifo: buffer(16),
  },
});

export type CpuState = StateOf<typeof cpuVmsd>;
export type TimerState = StateOf<typeof timerVmsd>;
export type SerialState = StateOf<typeof serialVmsd>;

export interface SampleMachineOptions {
  /** Size of "pc.ram" in MiB. Defaults to 64. */
  readonly ramMiB?: number;
  /** Machine type for the configuration record. Defaults to "vmstream-sample". */
  readonly machineType?: string;
}

export const SAMPLE_MACHINE_TYPE = 'vmstream-sample';
/** A second, small block, as real machines have ROMs beside their RAM. */
const BIOS_BYTES = 256 << 10;

export class SampleMachine implements MigratableMachine {
  readonly machineType: string;
  readonly memory: GuestMemory;
  readonly devices: readonly DeviceHandler[];
  cpu: CpuState;
  timer: TimerState;
  serial: SerialState;
  private running = true;
  private workload: NodeJS.Timeout | undefined;
  private seed = 0x9e3779b9;

  constructor(options: SampleMachineOptions = {}) {
    this.machineType = options.machineType ?? SAMPLE_MACHINE_TYPE;
    this.memory = new GuestMemory();
    this.memory.addBlock('pc.ram', (options.ramMiB ?? 64) * (1 << 20));
    this.memory.addBlock('pc.bios', BIOS_BYTES);
    this.cpu = { regs: Array.from({ length: 16 }, () => 0n), rip: 0xfff0n, rflags: 2, halted: false, tsc: 0n };
    this.timer = { cpuTicksOffset: 0n, cpuTicksEnabled: 1, cpuClockOffset: 0n };
    this.serial = { divider: 12, rbr: 0, ier: 0, iir: 1, lcr: 3, mcr: 8, lsr: 0x60, msr: 0xb0, scr: 0, fifo: new Uint8Array(16) };
    this.devices = [
      vmstateDevice({ desc: timerVmsd, get: () => this.timer, set: (s) => (this.timer = s) }),
      vmstateDevice({ desc: cpuVmsd, get: () => this.cpu, set: (s) => (this.cpu = s) }),
      vmstateDevice({ idstr: '0000:00:1f.0/serial', desc: serialVmsd, get: () => this.serial, set: (s) => (this.serial = s) }),
    ];
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Fills the first `mib` MiB of pc.ram (and the BIOS block) with pseudo-random bytes from `seed`. */
  fillRandom(mib: number, seed = 1): void {
    const ram = this.memory.bytesOf(0);
    const n = Math.min(ram.length, mib * (1 << 20)) >>> 2;
    fillXorshift(new Uint32Array(ram.buffer, ram.byteOffset, n), seed);
    const bios = this.memory.bytesOf(1);
    fillXorshift(new Uint32Array(bios.buffer, bios.byteOffset, bios.length >>> 2), seed ^ 0x5a5a5a5a);
    this.cpu = { ...this.cpu, regs: this.cpu.regs.map((_, i) => BigInt(seed) * 0x100000001n + BigInt(i)) };
  }

  /**
   * Starts a workload writing one word into random pages of pc.ram, `mbPerSecond` MB (10^6)
   * of pages per second, marking them dirty. It catches up on lost time, so a busy event
   * loop does not lower the rate.
   */
  startWorkload(mbPerSecond: number): void {
    this.stopWorkload();
    if (!(mbPerSecond > 0)) return;
    const ram0 = this.memory.bytesOf(0);
    const pages = ram0.length / this.memory.pageSize;
    const pagesPerMs = (mbPerSecond * 1e6) / this.memory.pageSize / 1000;
    let last = performance.now();
    let carry = 0;
    this.workload = setInterval(() => {
      if (!this.running) return;
      const now = performance.now();
      carry += (now - last) * pagesPerMs;
      last = now;
      const n = Math.floor(carry);
      carry -= n;
      // The block may have been replaced (a committed incoming migration): look it up each tick.
      const ram = this.memory.bytesOf(0);
      const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length >>> 2);
      const wordsPerPage = this.memory.pageSize >>> 2;
      for (let i = 0; i < n; i++) {
        const page = this.next() % pages;
        const word = page * wordsPerPage + (this.next() % wordsPerPage);
        words[word] = this.next() | 1;
        this.memory.markDirty(0, word * 4, 4);
      }
      this.cpu = { ...this.cpu, rip: this.cpu.rip + BigInt(n), tsc: this.cpu.tsc + BigInt(Math.round(now * 1000)) };
      this.timer = { ...this.timer, cpuTicksOffset: this.timer.cpuTicksOffset + 1n };
    }, 5);
    void ram0;
  }

  stopWorkload(): void {
    if (this.workload !== undefined) clearInterval(this.workload);
    this.workload = undefined;
  }

  stop(): void {
    this.running = false;
  }

  resume(): void {
    this.running = true;
  }

  /** SHA-256 over every RAM block (name, length, bytes) and every device's saved payload. */
  async hash(): Promise<string> {
    const h = createHash('sha256');
    for (const b of this.memory.blocks) {
      h.update(`${b.name}\u0000${b.bytes.length}\u0000`);
      h.update(b.bytes);
    }
    for (const d of this.devices) {
      const sink = new MemorySink();
      const w = new ChannelWriter(sink);
      d.save(w);
      await w.flushAll();
      h.update(`${d.idstr}\u0000${d.instance}\u0000`);
      h.update(sink.bytes());
    }
    return h.digest('hex');
  }

  private next(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}

/** Fills words with xorshift32 output (fast, deterministic for a seed). */
export function fillXorshift(words: Uint32Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}
