/**
 * The shared sample machine (src/sample: its VMState devices and RAM blocks) made live for
 * migration: its RAM blocks become GuestMemory with a dirty log, its devices become section
 * handlers, and a workload dirties guest pages at a set rate while the machine runs.
 */
import { createHash } from 'node:crypto';
import { ChannelWriter } from '../channel/writer.js';
import { MemorySink } from '../channel/transports/memory.js';
import { SAMPLE_DEVICES, SAMPLE_PAGE_SIZE, freshDevices, generateMachine, ramLayout, type SampleMachine } from '../sample/machine.js';
import type { CpuState, NicState, SerialState, TimerState } from '../sample/devices.js';
import { VmsError } from '../errors.js';
import { vmstateDevice } from './device-vmstate.js';
import { GuestMemory } from './guest-memory.js';
import type { DeviceHandler, MigratableMachine } from './handlers.js';

export interface LiveSampleOptions {
  /** Size of "pc.ram" in MiB (the sample's vga.vram and pc.rom come with it). Defaults to 64. */
  readonly ramMiB?: number;
  /** Machine type for the configuration record. Defaults to "vmstream-sample". */
  readonly machineType?: string;
}

export const SAMPLE_MACHINE_TYPE = 'vmstream-sample';
/** How often the workload runs; it catches up on lost time, so the rate holds on a busy loop. */
const WORKLOAD_TICK_MS = 5;

type DeviceKey = (typeof SAMPLE_DEVICES)[number]['key'];

export class LiveSampleMachine implements MigratableMachine {
  readonly machineType: string;
  readonly memory: GuestMemory;
  readonly devices: readonly DeviceHandler[];
  /** Device states (RAM lives in `memory`). */
  private readonly state: Omit<SampleMachine, 'ram'>;
  private running = true;
  private workload: NodeJS.Timeout | undefined;
  private seed = 0x9e3779b9;

  /** A machine as a destination has it before loading: zero device state, zero RAM. */
  constructor(options: LiveSampleOptions = {}) {
    this.machineType = options.machineType ?? SAMPLE_MACHINE_TYPE;
    this.state = freshDevices();
    this.memory = new GuestMemory(SAMPLE_PAGE_SIZE);
    // Zeroed blocks by size: GuestMemory then knows every page is zero until written.
    for (const b of ramLayout(options.ramMiB ?? 64)) this.memory.addBlock(b.name, b.size);
    this.devices = SAMPLE_DEVICES.map((d) =>
      vmstateDevice({
        idstr: d.idstr,
        instance: d.instance,
        desc: d.desc,
        get: () => this.state[d.key],
        // The description is the one this key's state was made from (SAMPLE_DEVICES pairs them).
        set: (s) => this.setDevice(d.key, s as never),
      }),
    );
  }

  get cpu(): CpuState {
    return this.state.cpu;
  }
  set cpu(s: CpuState) {
    this.state.cpu = s;
  }
  get serial(): SerialState {
    return this.state.serial;
  }
  set serial(s: SerialState) {
    this.state.serial = s;
  }
  get timer(): TimerState {
    return this.state.timer;
  }
  set timer(s: TimerState) {
    this.state.timer = s;
  }
  get nic(): NicState {
    return this.state.nic;
  }
  set nic(s: NicState) {
    this.state.nic = s;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * The machine as src/sample data (device states and the current RAM blocks, not copies),
   * for `machineDifferences` / `machinesEqual` and the image format.
   */
  snapshot(): SampleMachine {
    return { ...this.state, ram: this.memory.blocks.map((b) => ({ name: b.name, bytes: b.bytes })) };
  }

  /**
   * Gives the devices the sample generator's state for `seed`, fills the first `mib` MiB of
   * pc.ram with xorshift bytes from `seed`, and the other blocks (vram, ROM) too.
   */
  fillRandom(mib: number, seed = 1): void {
    const generated = generateMachine(seed, { ramMiB: 0 });
    for (const d of SAMPLE_DEVICES) this.setDevice(d.key, generated[d.key]);
    const ram = this.memory.bytesOf(0);
    const n = Math.min(ram.length, mib * (1 << 20)) >>> 2;
    fillXorshift(new Uint32Array(ram.buffer, ram.byteOffset, n), seed);
    this.memory.markDirty(0, 0, n * 4);
    for (let i = 1; i < this.memory.blocks.length; i++) {
      const b = this.memory.bytesOf(i);
      fillXorshift(new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2), (seed ^ (0x5a5a5a5a + i)) >>> 0);
      this.memory.markDirty(i, 0, b.length);
    }
  }

  /** Copies `bytes` into block `block` at `offset` (a loader, as QEMU's -device loader) and marks them written. */
  load(block: number, offset: number, bytes: Uint8Array): void {
    const ram = this.memory.bytesOf(block);
    if (!(offset >= 0) || !(offset + bytes.length <= ram.length)) {
      throw new VmsError('E_USAGE', 'load outside guest RAM', { path: [this.memory.blocks[block]?.name ?? String(block)], actual: `${offset}+${bytes.length}` });
    }
    ram.set(bytes, offset);
    this.memory.markDirty(block, offset, bytes.length);
  }

  /**
   * Starts a workload writing one word into random pages of pc.ram, `mbPerSecond` MB (10^6)
   * of pages per second, marking them dirty, and advancing the CPU and timer state.
   */
  startWorkload(mbPerSecond: number): void {
    this.stopWorkload();
    if (!(mbPerSecond > 0)) return;
    const ps = this.memory.pageSize;
    const pagesPerMs = (mbPerSecond * 1e6) / ps / 1000;
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
      const pages = ram.length / ps;
      const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length >>> 2);
      const wordsPerPage = ps >>> 2;
      for (let i = 0; i < n; i++) {
        const page = this.next() % pages;
        const word = page * wordsPerPage + (this.next() % wordsPerPage);
        words[word] = this.next() | 1;
        this.memory.markDirty(0, word * 4, 4);
      }
      const cpu = this.state.cpu;
      this.state.cpu = { ...cpu, rip: cpu.rip + BigInt(n), tsc: cpu.tsc + BigInt(Math.round(now * 1000)) };
      this.state.timer = { ...this.state.timer, ticksOffset: this.state.timer.ticksOffset + 1n };
    }, WORKLOAD_TICK_MS);
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

  private setDevice<K extends DeviceKey>(key: K, s: SampleMachine[K]): void {
    this.state[key] = s;
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
