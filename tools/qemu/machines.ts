/**
 * The named QEMU machine configurations the fixture streams come from, and the input files
 * they need (seeded random RAM images, a boot sector), generated here so nothing binary has
 * to be committed besides the streams themselves. `@DIR@` in an argument stands for the
 * directory holding the generated files.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Placeholder in machine arguments for the directory of generated input files. */
export const DIR_PLACEHOLDER = '@DIR@';

/** Fixed RTC start so repeated saves of a paused guest are byte-identical (spec §6.1). */
const RTC = ['-rtc', 'base=2020-01-01T00:00:00,clock=vm'];

export type InputFile =
  | { readonly name: string; readonly kind: 'random'; readonly seed: number; readonly bytes: number }
  | { readonly name: string; readonly kind: 'bootsector' };

/** How a running-guest migration is kept iterating until it has what we want. */
export interface LivePlan {
  /** Parameters set before `migrate` (low bandwidth and downtime keep it iterating). */
  readonly slowParameters: Readonly<Record<string, number>>;
  /** Parameters set to let it finish. */
  readonly finishParameters: Readonly<Record<string, number>>;
  /** Finish once `query-migrate`'s `xbzrle-cache.pages` reaches this. */
  readonly xbzrlePagesWanted: number;
  /** Give up waiting for that after this long (ms) and finish anyway. */
  readonly maxIterateMs: number;
}

export interface MachineConfig {
  readonly name: string;
  readonly description: string;
  /** Arguments for both the saving and the loading QEMU (before `-display none -nodefaults -qmp ...`). */
  readonly args: readonly string[];
  readonly inputs: readonly InputFile[];
  /** Migration capabilities, set on the source before `migrate` and on the destination before `migrate-incoming`. */
  readonly capabilities: Readonly<Record<string, boolean>>;
  /** A paused guest with fixed inputs: two saves give the same bytes. */
  readonly deterministic: boolean;
  /** Migration parameters set before `migrate` (e.g. a higher bandwidth cap for big streams). */
  readonly parameters?: Readonly<Record<string, number>>;
  /** Present for a running guest migrated over several iterations. */
  readonly live?: LivePlan;
}

const loader = (file: string, addr: string): string[] => ['-device', `loader,file=${DIR_PLACEHOLDER}/${file},addr=${addr}`];

export const MACHINES: readonly MachineConfig[] = [
  {
    name: 'pc-basic',
    description: 'i440FX 7.2, 32 MiB, nothing but the board: the smallest realistic stream',
    args: ['-M', 'pc-i440fx-7.2', '-m', '32', '-S', ...RTC],
    inputs: [],
    capabilities: {},
    deterministic: true,
  },
  {
    name: 'pc-devices',
    description: 'i440FX 7.2, 2 CPUs, IDE CD, UHCI + usb-tablet, e1000, virtio-blk on a null drive, 64 KiB of random RAM',
    args: [
      '-M', 'pc-i440fx-7.2', '-m', '32', '-smp', '2', '-S', ...RTC,
      '-device', 'ide-cd,bus=ide.1,unit=0',
      '-device', 'piix3-usb-uhci,id=uhci',
      '-device', 'usb-tablet,bus=uhci.0',
      '-netdev', 'hubport,id=n0,hubid=0',
      '-device', 'e1000,netdev=n0,romfile=',
      '-blockdev', 'driver=null-co,node-name=null0,read-zeroes=on',
      '-device', 'virtio-blk-pci,drive=null0',
      ...loader('pc-devices.rand', '0x100000'),
    ],
    inputs: [{ name: 'pc-devices.rand', kind: 'random', seed: 1, bytes: 64 * 1024 }],
    capabilities: {},
    deterministic: true,
  },
  {
    name: 'q35-devices',
    description: 'Q35 7.2, 2 CPUs, virtio-net (hub port), virtio-blk on a null drive, qemu-xhci + usb-kbd, rtl8139, 64 KiB of random RAM',
    args: [
      '-M', 'pc-q35-7.2', '-m', '32', '-smp', '2', '-S', ...RTC,
      '-netdev', 'hubport,id=n0,hubid=0',
      '-device', 'virtio-net-pci,netdev=n0,romfile=',
      '-blockdev', 'driver=null-co,node-name=null0,read-zeroes=on',
      '-device', 'virtio-blk-pci,drive=null0',
      '-device', 'qemu-xhci,id=xhci',
      '-device', 'usb-kbd,bus=xhci.0',
      '-netdev', 'hubport,id=n1,hubid=0',
      '-device', 'rtl8139,netdev=n1,romfile=',
      ...loader('q35-devices.rand', '0x100000'),
    ],
    inputs: [{ name: 'q35-devices.rand', kind: 'random', seed: 2, bytes: 64 * 1024 }],
    capabilities: {},
    deterministic: true,
  },
  {
    name: 'pc-old',
    description: 'i440FX 2.2 machine type: no configuration record, no section footers, no vmdesc trailer (store-global-state is off, yet a globalstate section is still sent)',
    args: ['-M', 'pc-i440fx-2.2', '-m', '32', '-S', ...RTC],
    inputs: [],
    capabilities: {},
    deterministic: true,
  },
  {
    name: 'pc-ignore-shared',
    description: 'i440FX 7.2 with x-ignore-shared: configuration/capabilities subsection and a GPA after each RAM block',
    args: ['-M', 'pc-i440fx-7.2', '-m', '32', '-S', ...RTC],
    inputs: [],
    capabilities: { 'x-ignore-shared': true },
    deterministic: true,
  },
  {
    name: 'xbzrle',
    description: 'i440FX 7.2 running a boot-sector loop that keeps incrementing dwords in 192 KiB; xbzrle on, slowed down so pages are re-sent as XBZRLE deltas',
    args: ['-M', 'pc-i440fx-7.2', '-m', '32', ...RTC, '-drive', `file=${DIR_PLACEHOLDER}/boot.img,format=raw,if=ide,index=0`],
    inputs: [{ name: 'boot.img', kind: 'bootsector' }],
    capabilities: { xbzrle: true },
    deterministic: false,
    live: {
      // bytes/s and ms: the 48 busy pages (192 KiB) stay far above bandwidth x downtime (~10 KB)
      slowParameters: { 'max-bandwidth': 1_000_000, 'downtime-limit': 10 },
      finishParameters: { 'max-bandwidth': 1024 * 1024 * 1024, 'downtime-limit': 60_000 },
      xbzrlePagesWanted: 200,
      maxIterateMs: 20_000,
    },
  },
];

/** The benchmark stream's machine: 1 GiB with 512 MiB of random RAM (not committed). */
export const BENCH_MACHINE: MachineConfig = {
  name: 'bench',
  description: 'i440FX 7.2, 1 GiB, 512 MiB of random RAM from a seed: a large stream of mostly normal pages',
  args: ['-M', 'pc-i440fx-7.2', '-m', '1024', '-S', ...RTC, ...loader('bench.rand', '0x100000')],
  inputs: [{ name: 'bench.rand', kind: 'random', seed: 512, bytes: 512 * 1024 * 1024 }],
  capabilities: {},
  // QEMU 7.2 caps migration at 128 MiB/s by default; the file target can take far more.
  parameters: { 'max-bandwidth': 16 * 1024 * 1024 * 1024 },
  deterministic: true,
};

/** Replaces the directory placeholder in machine arguments. */
export function resolveArgs(args: readonly string[], dir: string): string[] {
  return args.map((a) => a.split(DIR_PLACEHOLDER).join(dir));
}

/** Writes a config's input files into `dir`. */
export function writeInputs(config: MachineConfig, dir: string): void {
  for (const input of config.inputs) {
    const path = join(dir, input.name);
    if (input.kind === 'random') writeFileSync(path, seededBytes(input.seed, input.bytes));
    else writeFileSync(path, bootSector());
  }
}

/**
 * `n` pseudo-random bytes from `seed` (mulberry32, one 32-bit output per 4 bytes,
 * little-endian). Deterministic on every platform; not for anything but test data.
 */
export function seededBytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const littleEndianHost = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
  const words = littleEndianHost ? new Uint32Array(out.buffer, 0, n >>> 2) : undefined;
  let s = seed >>> 0;
  // Inlined (no closure, no DataView): the 512 MiB benchmark image is 134M iterations.
  for (let i = 0; i < n; i += 4) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const word = (t ^ (t >>> 14)) >>> 0;
    if (words !== undefined && i + 4 <= n) words[i >>> 2] = word;
    else for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (word >>> (8 * k)) & 0xff;
  }
  return out;
}

/**
 * A 512-byte MBR boot sector whose 16-bit real-mode code loops forever incrementing one
 * dword every 64 bytes over physical 0x10000..0x3ffff (3 segments of 64 KiB), so 48 pages
 * change all the time by a few bytes each: ideal XBZRLE material. Hand-assembled; the
 * encodings are from the Intel SDM opcode tables.
 *
 * Each pass also sets and clears CR0.PE. Under TCG that flushes the guest TLB, which is what
 * makes QEMU notice the next write to each page: without it, TCG reports a page dirty only
 * once after the first bitmap sync and the migration converges before any page is sent a
 * third time (the first time XBZRLE can be used).
 */
export function bootSector(): Uint8Array {
  // prettier-ignore
  const code = [
    0xfa,                   // 00 cli
    0x0f, 0x20, 0xc0,       // 01 outer:  mov eax, cr0
    0x0c, 0x01,             // 04 or al, 1                    PE on...
    0x0f, 0x22, 0xc0,       // 06 mov cr0, eax
    0x24, 0xfe,             // 09 and al, 0xfe                ...and off: a TLB flush, segment caches untouched
    0x0f, 0x22, 0xc0,       // 0b mov cr0, eax
    0xbb, 0x00, 0x10,       // 0e mov bx, 0x1000              first segment
    0x8e, 0xc3,             // 11 segment: mov es, bx
    0x31, 0xff,             // 13 xor di, di
    0x26, 0x66, 0xff, 0x05, // 15 inner:  inc dword [es:di]     (ES override, operand-size 32, FF /0, modrm [di])
    0x83, 0xc7, 0x40,       // 19 add di, 64
    0x75, 0xf7,             // 1c jnz inner (-9)              di wraps to 0 after 64 KiB
    0x81, 0xc3, 0x00, 0x10, // 1e add bx, 0x1000
    0x81, 0xfb, 0x00, 0x40, // 22 cmp bx, 0x4000
    0x72, 0xe9,             // 26 jb segment (-23)
    0xeb, 0xd7,             // 28 jmp outer (-41)
  ];
  const sector = new Uint8Array(512);
  sector.set(code);
  sector[510] = 0x55; // boot signature
  sector[511] = 0xaa;
  return sector;
}
