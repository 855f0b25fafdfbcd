/**
 * The sample machine: four devices and RAM blocks, a deterministic generator from a seed, and
 * an equality check. Live migration reuses it (RAM is one Uint8Array per block).
 */
import { emptyState } from '../vmstate/index.js';
import type { AnyVmsd } from '../vmstate/index.js';
import { SERIAL_FIFO_SIZE, cpuDesc, nicDesc, serialDesc, timerDesc } from './devices.js';
import type { CpuState, NicState, SerialState, TimerState } from './devices.js';

/** Target page size of the sample machine's RAM. */
export const SAMPLE_PAGE_SIZE = 4096;

export interface RamBlock {
  readonly name: string;
  /** The block's bytes; length is a multiple of SAMPLE_PAGE_SIZE. */
  readonly bytes: Uint8Array;
}

export interface SampleMachine {
  cpu: CpuState;
  serial: SerialState;
  timer: TimerState;
  nic: NicState;
  ram: RamBlock[];
}

/** The device sections in save order: section idstr, instance, description, state key. */
export const SAMPLE_DEVICES = [
  { idstr: 'cpu', instance: 0, desc: cpuDesc as AnyVmsd, key: 'cpu' },
  { idstr: 'serial', instance: 0, desc: serialDesc as AnyVmsd, key: 'serial' },
  { idstr: 'timer', instance: 0, desc: timerDesc as AnyVmsd, key: 'timer' },
  { idstr: 'nic', instance: 0, desc: nicDesc as AnyVmsd, key: 'nic' },
] as const;

export interface SampleOptions {
  /** Size of the main RAM block in MiB. Defaults to 4. */
  readonly ramMiB?: number;
  /** Fraction of pages that are not zero, 0..1. Defaults to 0.25. */
  readonly dirtyFraction?: number;
}

/** RAM block layout of a machine with `ramMiB` of main RAM (a 4 MiB main block, a 1 MiB vram, a small ROM by default). */
export function ramLayout(ramMiB = 4): { name: string; size: number }[] {
  return [
    { name: 'pc.ram', size: ramMiB << 20 },
    { name: 'vga.vram', size: 1 << 20 },
    { name: 'pc.rom', size: 64 << 10 },
  ];
}

/** Device states as the receiver has them before loading: zero state, its own constants. */
export function freshDevices(): Omit<SampleMachine, 'ram'> {
  return {
    cpu: emptyState(cpuDesc),
    serial: { ...emptyState(serialDesc), fifoSize: SERIAL_FIFO_SIZE },
    timer: emptyState(timerDesc),
    nic: emptyState(nicDesc),
  };
}

/** A machine as the receiver has it before loading: zero state, zero RAM, its own constants. */
export function freshMachine(options: SampleOptions = {}): SampleMachine {
  return { ...freshDevices(), ram: ramLayout(options.ramMiB).map((b) => ({ name: b.name, bytes: new Uint8Array(b.size) })) };
}

/** mulberry32: a small deterministic PRNG, enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A machine with realistic-looking state, the same for the same seed and options. */
export function generateMachine(seed: number, options: SampleOptions = {}): SampleMachine {
  const rnd = prng(seed);
  const u32 = (): number => Math.floor(rnd() * 0x100000000);
  const u64 = (): bigint => (BigInt(u32()) << 32n) | BigInt(u32());
  const u8 = (): number => u32() & 0xff;
  const mac = (): Uint8Array => Uint8Array.from([0x52, 0x54, 0x00, u8(), u8(), u8()]);
  const fifoCount = Math.floor(rnd() * (SERIAL_FIFO_SIZE + 1));
  const m: SampleMachine = {
    cpu: {
      regs: Array.from({ length: 16 }, u64),
      rip: 0xfff0n + BigInt(u32() & 0xffff),
      rflags: 0x2 | (u32() & 0xcd5),
      cr: [0x60000010n, 0n, u64() & 0xfffff000n, u64() & 0xfffff000n, 0x20n],
      halted: rnd() < 0.5,
      tsc: BigInt.asIntN(64, u64()),
      apicBase: rnd() < 0.8 ? 0xfee00900n : 0n,
      pat: 0x0007040600070406n,
      efer: rnd() < 0.5 ? 0x500n : 0n,
    },
    serial: {
      divider: 12,
      ier: u8() & 0x0f,
      lcr: 0x03,
      mcr: u8() & 0x1f,
      lsr: 0x60,
      fifoSize: SERIAL_FIFO_SIZE,
      fifoCount,
      fifo: Array.from({ length: fifoCount }, u8),
    },
    timer: {
      ticksOffset: BigInt.asIntN(64, u64()),
      clockOffset: BigInt(u32()),
      expiry: rnd() < 0.5 ? -1n : BigInt(u32()) * 1000n,
      enabled: rnd() < 0.5,
    },
    nic: {
      mac: mac(),
      status: u32() & 0xffff,
      rxPackets: u32(),
      txPackets: u32(),
      filters: Array.from({ length: Math.floor(rnd() * 5) }, () => ({ mac: mac(), flags: u8() })),
      multicast: BigUint64Array.of(u64()),
    },
    ram: [],
  };
  const dirty = options.dirtyFraction ?? 0.25;
  for (const b of ramLayout(options.ramMiB)) {
    const bytes = new Uint8Array(b.size);
    const words = new Uint32Array(bytes.buffer);
    const perPage = SAMPLE_PAGE_SIZE / 4;
    for (let p = 0; p < b.size / SAMPLE_PAGE_SIZE; p++) {
      if (rnd() >= dirty) continue;
      // Some pages fully random, some mostly zero with a header (as a real guest has).
      const full = rnd() < 0.5;
      const n = full ? perPage : 16;
      for (let i = 0; i < n; i++) words[p * perPage + i] = u32();
    }
    m.ram.push({ name: b.name, bytes });
  }
  return m;
}

/** Differences between two machines (device states and RAM), as short human-readable lines. */
export function machineDifferences(a: SampleMachine, b: SampleMachine, max = 10): string[] {
  const out: string[] = [];
  for (const d of SAMPLE_DEVICES) diffValue(d.key, a[d.key], b[d.key], out, max);
  if (a.ram.length !== b.ram.length) out.push(`ram: ${a.ram.length} blocks vs ${b.ram.length}`);
  for (let i = 0; i < Math.min(a.ram.length, b.ram.length) && out.length < max; i++) {
    const x = a.ram[i]!;
    const y = b.ram[i]!;
    if (x.name !== y.name || x.bytes.length !== y.bytes.length) out.push(`ram[${i}]: ${x.name}/${x.bytes.length} vs ${y.name}/${y.bytes.length}`);
    else if (!Buffer.from(x.bytes.buffer, x.bytes.byteOffset, x.bytes.length).equals(y.bytes)) out.push(`ram ${x.name}: contents differ`);
  }
  return out.slice(0, max);
}

/** True when both machines have the same device states and RAM. */
export function machinesEqual(a: SampleMachine, b: SampleMachine): boolean {
  return machineDifferences(a, b, 1).length === 0;
}

function diffValue(path: string, x: unknown, y: unknown, out: string[], max: number): void {
  if (out.length >= max) return;
  if (x instanceof Uint8Array || x instanceof BigUint64Array) {
    const same =
      (y instanceof Uint8Array || y instanceof BigUint64Array) &&
      x.length === y.length &&
      x.every((v: number | bigint, i: number) => v === (y as Uint8Array | BigUint64Array)[i]);
    if (!same) out.push(`${path}: ${String(x)} vs ${String(y)}`);
    return;
  }
  if (typeof x === 'object' && x !== null && typeof y === 'object' && y !== null) {
    const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
    for (const k of keys) diffValue(Array.isArray(x) ? `${path}[${k}]` : `${path}.${k}`, (x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], out, max);
    return;
  }
  if (x !== y) out.push(`${path}: ${String(x)} vs ${String(y)}`);
}
