/**
 * The sample machine's device descriptions: small, but using the VMState features real
 * devices use (versioned fields, a subsection, a variable FIFO, an equal check, unused bytes,
 * a timer, a MAC buffer, a list and a bitmap).
 */
import {
  array,
  bitmap,
  bool,
  buffer,
  int64,
  list,
  timer,
  uint16,
  uint32,
  uint64,
  uint8,
  unused,
  varray,
  vmstate,
} from '../vmstate/index.js';
import type { StateOf } from '../vmstate/index.js';

/** MSRs sent only when the APIC base is set (as QEMU's cpu/... subsections). */
export const cpuMsrs = vmstate({
  name: 'cpu/msrs',
  version: 1,
  fields: { apicBase: uint64(), pat: uint64(), efer: uint64() },
  needed: (s) => s.apicBase !== 0n,
});

/** A CPU-ish device: general registers, flags, control registers; `tsc` arrived in v2. */
export const cpuDesc = vmstate({
  name: 'cpu',
  version: 2,
  minVersion: 1,
  fields: {
    regs: array(uint64(), 16),
    rip: uint64(),
    rflags: uint32(),
    cr: array(uint64(), 5),
    halted: bool(),
    tsc: int64({ since: 2 }),
  },
  subsections: [cpuMsrs],
});

/** Receive FIFO depth; the receiver checks it matches (VMSTATE_UINT8_EQUAL). */
export const SERIAL_FIFO_SIZE = 16;

/** A 16550-ish UART with a variable-length receive FIFO. */
export const serialDesc = vmstate({
  name: 'serial',
  version: 1,
  fields: {
    divider: uint16(),
    ier: uint8(),
    lcr: uint8(),
    mcr: uint8(),
    lsr: uint8(),
    fifoSize: uint8({ equal: true }),
    fifoCount: uint8(),
    fifo: varray(uint8(), 'fifoCount'),
  },
});

/** A timer device: offsets, a reserved word, and one QEMU timer (-1 = not armed). */
export const timerDesc = vmstate({
  name: 'timer',
  version: 2,
  minVersion: 2,
  fields: { ticksOffset: int64(), pad: unused(8), clockOffset: int64(), expiry: timer(), enabled: bool() },
});

/** One receive filter entry of the NIC (a QTAILQ element in QEMU terms). */
export const nicFilterDesc = vmstate({ name: 'nic/filter', version: 1, fields: { mac: buffer(6), flags: uint8() } });

/** A NIC-ish device: MAC, status, a list of filters and a 64-bit multicast hash bitmap. */
export const nicDesc = vmstate({
  name: 'nic',
  version: 1,
  fields: {
    mac: buffer(6),
    status: uint16(),
    rxPackets: uint32(),
    txPackets: uint32(),
    filters: list(nicFilterDesc),
    multicast: bitmap(64),
  },
});

export type CpuState = StateOf<typeof cpuDesc>;
export type SerialState = StateOf<typeof serialDesc>;
export type TimerState = StateOf<typeof timerDesc>;
export type NicState = StateOf<typeof nicDesc>;
