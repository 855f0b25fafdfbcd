/**
 * What QEMU's test-vmstate.c lacks (spec §4.3 "gaps"): subsections, variable arrays and
 * buffers, equal/le checks, must-exist and validate, version limits, bitmaps, timers,
 * unused bytes, strings, vstruct, untouched targets on failure, error paths and offsets,
 * limits before allocation, chunked input, and description checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { MemorySource } from '../../src/channel/transports/memory.js';
import { BinaryInputVisitor } from '../../src/format/binary/index.js';
import {
  array,
  bitmap,
  bool,
  buffer,
  emptyState,
  int32,
  int32le,
  int64,
  load,
  nullPointer,
  string,
  struct,
  timer,
  uint16,
  uint32,
  uint64,
  uint8,
  unused,
  validate,
  varray,
  vbuffer,
  vmstate,
  vstruct,
} from '../../src/vmstate/index.js';
import type { StateOf } from '../../src/vmstate/index.js';
import { EOF, expectVmsError, hex, loadAll, loadBytes, saveBytes } from './helpers.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

// ---- subsections ------------------------------------------------------------------------------

const msrDeep = vmstate({ name: 'cpu/msr/deep', version: 1, fields: { deep: uint8() } });
const msr = vmstate({
  name: 'cpu/msr',
  version: 2,
  minVersion: 1,
  fields: { msr: uint32() },
  subsections: [msrDeep],
  needed: (s) => s.msr !== 0,
});
const pollSub = vmstate({ name: 'cpu/poll', version: 1, fields: { poll: uint16() }, needed: (s) => s.poll !== 0 });
const cpu = vmstate({
  name: 'cpu',
  version: 3,
  minVersion: 2,
  fields: { eax: uint32(), halted: bool() },
  subsections: [msr, pollSub],
  postLoad: (s) => ({ ...s, eax: s.eax + s.msr }),
});
type Cpu = StateOf<typeof cpu>;
const cpuZero = (): Cpu => ({ eax: 0, halted: false, msr: 0, deep: 0, poll: 0 });

const cpuWire = bytes(
  0x00, 0x00, 0x00, 0x07, //              eax
  0x01, //                                halted
  0x05, 0x07, ...ascii('cpu/msr'), //     subsection header: QEMU_VM_SUBSECTION, name
  0x00, 0x00, 0x00, 0x02, //              cpu/msr version 2
  0x00, 0x00, 0x01, 0x00, //              msr
  0x05, 0x0c, ...ascii('cpu/msr/deep'), // nested subsection of cpu/msr
  0x00, 0x00, 0x00, 0x01, //              version 1
  0x2a, //                                deep
  EOF, //                                  (cpu/poll not needed: poll == 0)
);

test('subsections: needed ones are saved (nested too), others are absent', async () => {
  const s: Cpu = { eax: 7, halted: true, msr: 0x100, deep: 42, poll: 0 };
  assert.equal(hex(await saveBytes(cpu, s)), hex(cpuWire));
  const noSubs = await saveBytes(cpu, { ...s, msr: 0 });
  assert.equal(hex(noSubs), hex(bytes(0, 0, 0, 7, 1, EOF)));
});

test('subsections: loaded when present, defaults kept when absent; postLoad runs after them', () => {
  const got = loadAll(cpu, cpuWire, cpuZero());
  // postLoad adds msr to eax, so it saw the subsection's value.
  assert.deepEqual(got, { eax: 7 + 0x100, halted: true, msr: 0x100, deep: 42, poll: 0 });
  const absent = loadAll(cpu, bytes(0, 0, 0, 7, 1, EOF), { ...cpuZero(), msr: 5, deep: 9 });
  assert.deepEqual(absent, { eax: 12, halted: true, msr: 5, deep: 9, poll: 0 });
});

test('subsections: loaded in stream order, whatever the description order', () => {
  const wire = bytes(0, 0, 0, 1, 0, 0x05, 0x08, ...ascii('cpu/poll'), 0, 0, 0, 1, 0x12, 0x34, 0x05, 0x07, ...ascii('cpu/msr'), 0, 0, 0, 1, 0, 0, 0, 3, EOF);
  assert.deepEqual(loadAll(cpu, wire, cpuZero()), { eax: 4, halted: false, msr: 3, deep: 0, poll: 0x1234 });
});

test('subsections: an unknown name with our prefix is E_UNKNOWN at the header offset', () => {
  const wire = bytes(0, 0, 0, 1, 0, 0x05, 0x07, ...ascii('cpu/xyz'), 0, 0, 0, 1, EOF);
  const e = expectVmsError(() => loadBytes(cpu, wire, cpuZero()), 'E_UNKNOWN');
  assert.equal(e.offset, 5);
  assert.deepEqual(e.path, ['cpu', 'cpu/xyz']);
  assert.match(e.expected ?? '', /cpu\/msr/);
});

test("subsections: a header without our prefix belongs to an outer level and is left unread", () => {
  for (const name of ['other/x', 'cpu', 'cp']) {
    const wire = bytes(0, 0, 0, 1, 0, 0x05, name.length, ...ascii(name), 0, 0, 0, 1);
    const { state, reader } = loadBytes(cpu, wire, cpuZero());
    assert.equal(state.eax, 1);
    assert.equal(reader.offset, 5, `${name}: stops before the 05 byte`);
  }
});

test('subsections: too new a subsection version is E_VERSION, path names the subsection', () => {
  const wire = bytes(0, 0, 0, 1, 0, 0x05, 0x07, ...ascii('cpu/msr'), 0, 0, 0, 3, 0, 0, 0, 1, EOF);
  const e = expectVmsError(() => loadBytes(cpu, wire, cpuZero()), 'E_VERSION');
  assert.deepEqual(e.path, ['cpu', 'cpu/msr']);
  assert.match(e.message, /too new/);
});

// ---- versions ---------------------------------------------------------------------------------

test('load refuses a version above the description ("too new") or below its minimum ("too old")', () => {
  const wire = bytes(0, 0, 0, 1, 0, EOF);
  const tooNew = expectVmsError(() => loadBytes(cpu, wire, cpuZero(), 4), 'E_VERSION');
  assert.match(tooNew.message, /too new/);
  assert.equal(tooNew.expected, 'at most 3');
  const tooOld = expectVmsError(() => loadBytes(cpu, wire, cpuZero(), 1), 'E_VERSION');
  assert.match(tooOld.message, /too old/);
  assert.equal(tooOld.expected, 'at least 2');
  assert.equal(loadBytes(cpu, wire, cpuZero(), 2).state.eax, 1);
});

// ---- variable arrays and buffers ---------------------------------------------------------------

const fifo = vmstate({
  name: 'fifo',
  version: 1,
  fields: {
    n8: uint8(),
    a8: varray(uint16(), 'n8'),
    n16: uint16(),
    a16: varray(uint8(), 'n16', { multiply: 2 }),
    n32: uint32(),
    a32: varray(int32(), 'n32'),
    ni: int32(),
    ai: varray(uint8(), 'ni'),
    len: uint32(),
    data: vbuffer('len'),
    words: int32(),
    wdata: vbuffer('words', { multiply: 4 }),
    fixed: buffer(3),
  },
});
const fifoState: StateOf<typeof fifo> = {
  n8: 2,
  a8: [0x0102, 0x0304],
  n16: 1,
  a16: [9, 8],
  n32: 1,
  a32: [-1],
  ni: 0,
  ai: [],
  len: 3,
  data: bytes(0xaa, 0xbb, 0xcc),
  words: 1,
  wdata: bytes(1, 2, 3, 4),
  fixed: bytes(7, 7, 7),
};
const fifoWire = bytes(
  0x02, //                   n8
  0x01, 0x02, 0x03, 0x04, // a8: 2 x uint16, no count on the wire
  0x00, 0x01, //             n16
  0x09, 0x08, //             a16: 1 x 2 (multiply)
  0x00, 0x00, 0x00, 0x01, // n32
  0xff, 0xff, 0xff, 0xff, // a32[0] = -1
  0x00, 0x00, 0x00, 0x00, // ni = 0: ai is empty
  0x00, 0x00, 0x00, 0x03, // len
  0xaa, 0xbb, 0xcc, //       data (VBUFFER)
  0x00, 0x00, 0x00, 0x01, // words
  0x01, 0x02, 0x03, 0x04, // wdata (VBUFFER x 4)
  0x07, 0x07, 0x07, //       fixed buffer
  EOF,
);

test('variable arrays (u8/u16/u32/i32 counts, multiplied) and buffers round-trip with exact bytes', async () => {
  assert.equal(hex(await saveBytes(fifo, fifoState)), hex(fifoWire));
  assert.deepEqual(loadAll(fifo, fifoWire, emptyState(fifo)), fifoState);
});

test('a variable array whose length differs from its count field is refused on save', async () => {
  await assert.rejects(
    () => saveBytes(fifo, { ...fifoState, a8: [1] }),
    (e: Error & { code?: string; path?: unknown[] }) => e.code === 'E_USAGE' && String(e.path) === 'fifo,a8',
  );
});

test('a hostile count or size is refused before anything is allocated', () => {
  const big = vmstate({ name: 'big', version: 1, fields: { n: uint32(), a: varray(uint64(), 'n'), len: uint32(), b: vbuffer('len') } });
  const e1 = expectVmsError(() => loadBytes(big, bytes(0xff, 0xff, 0xff, 0xff), emptyState(big)), 'E_LIMIT');
  assert.deepEqual(e1.path, ['big', 'a']);
  assert.equal(e1.offset, 4);
  const e2 = expectVmsError(() => loadBytes(big, bytes(0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff), emptyState(big)), 'E_LIMIT');
  assert.deepEqual(e2.path, ['big', 'b']);
  // Under the limit but past the end of input: truncated, not a huge allocation.
  expectVmsError(() => loadBytes(big, bytes(0, 0, 0, 0, 0x01, 0, 0, 0), emptyState(big)), 'E_TRUNCATED');
  // A negative int32 count is a format error.
  const neg = vmstate({ name: 'neg', version: 1, fields: { n: int32(), a: varray(uint8(), 'n') } });
  expectVmsError(() => loadBytes(neg, bytes(0xff, 0xff, 0xff, 0xfe), emptyState(neg)), 'E_FORMAT');
});

// ---- equal, le, must-exist, validate -----------------------------------------------------------

const checked = vmstate({
  name: 'checked',
  version: 1,
  fields: { id: uint32({ equal: true }), queues: int32le(), wide: uint64({ equal: true }) },
});

test('equal fields must match the receiver', () => {
  const wire = bytes(0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, EOF);
  assert.deepEqual(loadAll(checked, wire, { id: 5, queues: 4, wide: 9n }), { id: 5, queues: 1, wide: 9n });
  const e = expectVmsError(() => loadBytes(checked, wire, { id: 6, queues: 4, wide: 9n }), 'E_MISMATCH');
  assert.equal(e.offset, 0);
  assert.deepEqual(e.path, ['checked', 'id']);
  assert.equal(e.expected, '6');
  assert.equal(e.actual, '5');
  expectVmsError(() => loadBytes(checked, wire, { id: 5, queues: 4, wide: 8n }), 'E_MISMATCH');
});

test('int32 le: 0 <= value <= the receiver (less-or-equal, not little-endian)', () => {
  const le = (v: number[]): Uint8Array => bytes(0, 0, 0, 5, ...v, 0, 0, 0, 0, 0, 0, 0, 9);
  assert.equal(loadBytes(checked, le([0, 0, 0, 4]), { id: 5, queues: 4, wide: 9n }).state.queues, 4);
  assert.equal(loadBytes(checked, le([0, 0, 0, 0]), { id: 5, queues: 4, wide: 9n }).state.queues, 0);
  const over = expectVmsError(() => loadBytes(checked, le([0, 0, 0, 5]), { id: 5, queues: 4, wide: 9n }), 'E_MISMATCH');
  assert.equal(over.offset, 4);
  expectVmsError(() => loadBytes(checked, le([0xff, 0xff, 0xff, 0xff]), { id: 5, queues: 4, wide: 9n }), 'E_MISMATCH');
});

test('must-exist: an absent field fails load and save with E_VALIDATION', async () => {
  const d = vmstate({
    name: 'must',
    version: 2,
    minVersion: 1,
    fields: { a: uint8(), b: uint8({ since: 2, mustExist: true }), c: uint8({ exists: (s: { a: number }) => s.a > 0, mustExist: true }) },
  });
  assert.deepEqual(loadAll(d, bytes(1, 2, 3, EOF), { a: 0, b: 0, c: 0 }, 2), { a: 1, b: 2, c: 3 });
  const e = expectVmsError(() => loadBytes(d, bytes(1, 3), { a: 0, b: 0, c: 0 }, 1), 'E_VALIDATION');
  assert.deepEqual(e.path, ['must', 'b']);
  expectVmsError(() => loadBytes(d, bytes(0, 2), { a: 0, b: 0, c: 0 }, 2), 'E_VALIDATION');
  await assert.rejects(() => saveBytes(d, { a: 0, b: 2, c: 3 }), { code: 'E_VALIDATION' });
});

test('validate runs in field order on the state loaded so far and writes nothing', async () => {
  const d = vmstate({
    name: 'val',
    version: 1,
    fields: { lo: uint8(), hi: uint8(), ordered: validate((s: { lo: number; hi: number }) => s.lo <= s.hi), tail: uint8() },
  });
  assert.equal(hex(await saveBytes(d, { lo: 1, hi: 2, tail: 3 }, false)), '010203');
  assert.deepEqual(loadAll(d, bytes(1, 2, 3, EOF), { lo: 0, hi: 0, tail: 0 }), { lo: 1, hi: 2, tail: 3 });
  const e = expectVmsError(() => loadBytes(d, bytes(3, 2, 1), { lo: 0, hi: 0, tail: 0 }), 'E_VALIDATION');
  assert.deepEqual(e.path, ['val', 'ordered']);
  assert.equal(e.offset, 2);
});

// ---- other kinds -------------------------------------------------------------------------------

test('unused bytes are zeros on save and skipped on load; timers, strings, null markers, bitmaps', async () => {
  const d = vmstate({
    name: 'misc',
    version: 1,
    fields: { pad: unused(3), t: timer(), s: string(), nil: nullPointer(), nbits: int32(), bits: bitmap('nbits'), fixedBits: bitmap(64) },
  });
  const state: StateOf<typeof d> = {
    t: -1n,
    s: 'ab',
    nbits: 70,
    bits: BigUint64Array.of(0x8000_0000_0000_0001n, 0x20n),
    fixedBits: BigUint64Array.of(0xffn),
  };
  const wire = bytes(
    0, 0, 0, //                                      pad: zeros
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // t: -1 = not armed
    0x02, 0x61, 0x62, //                             s: counted string
    0x30, //                                         nil: NULL marker
    0x00, 0x00, 0x00, 0x46, //                       nbits = 70 -> 2 words
    0x80, 0, 0, 0, 0, 0, 0, 0x01, //                 bits word 0 (bits 0 and 63)
    0, 0, 0, 0, 0, 0, 0, 0x20, //                    bits word 1 (bit 69)
    0, 0, 0, 0, 0, 0, 0, 0xff, //                    fixedBits
    EOF,
  );
  assert.equal(hex(await saveBytes(d, state)), hex(wire));
  const dirty = wire.slice();
  dirty.set([9, 9, 9], 0); // whatever the sender put in unused bytes is ignored
  assert.deepEqual(loadAll(d, dirty, emptyState(d)), state);
  const badNil = wire.slice();
  badNil[14] = 0x31;
  const e = expectVmsError(() => loadBytes(d, badNil, emptyState(d)), 'E_FORMAT');
  assert.equal(e.offset, 14);
  assert.deepEqual(e.path, ['misc', 'nil']);
});

test('vstruct loads and saves with the given version; struct with its own', async () => {
  const inner = vmstate({ name: 'inner', version: 3, minVersion: 1, fields: { x: uint8(), y: uint8({ since: 2 }), z: uint8({ since: 3 }) } });
  const outer = vmstate({ name: 'outer', version: 1, fields: { v: vstruct(inner, 2), s: struct(inner) } });
  const st = { v: { x: 1, y: 2, z: 3 }, s: { x: 4, y: 5, z: 6 } };
  assert.equal(hex(await saveBytes(outer, st, false)), '0102040506');
  assert.deepEqual(loadAll(outer, bytes(1, 2, 4, 5, 6, EOF), emptyState(outer)), { v: { x: 1, y: 2, z: 0 }, s: { x: 4, y: 5, z: 6 } });
});

// ---- failures apply nothing, and say where ------------------------------------------------------

const reg = vmstate({ name: 'reg', version: 1, fields: { id: uint8({ equal: true }), val: uint32() } });
const dev = vmstate({ name: 'dev', version: 1, fields: { tag: uint8(), regs: array(struct(reg), 3), tail: uint64() } });

test('a failed load leaves the target untouched and names device.field[index].sub with the offset', () => {
  const target: StateOf<typeof dev> = {
    tag: 1,
    regs: [
      { id: 0, val: 10 },
      { id: 1, val: 11 },
      { id: 2, val: 12 },
    ],
    tail: 5n,
  };
  const snapshot = structuredClone(target);
  const regs0 = target.regs[0];
  const wire = bytes(9, 0, 0, 0, 0, 1, 1, 0, 0, 0, 2, 7, 0, 0, 0, 3);
  const e = expectVmsError(() => loadBytes(dev, wire, target), 'E_MISMATCH');
  assert.deepEqual(e.path, ['dev', 'regs', 2, 'id']);
  assert.equal(e.offset, 11);
  assert.match(e.message, /dev\.regs\[2\]\.id/);
  assert.deepEqual(target, snapshot);
  assert.equal(target.regs[0], regs0);
  // The same description and target still load good input afterwards.
  wire[11] = 2;
  const ok = loadAll(dev, bytes(...wire, 0, 0, 0, 0, 0, 0, 0, 6, EOF), target);
  assert.equal(ok.regs[2]!.val, 3);
  assert.equal(ok.tail, 6n);
  assert.deepEqual(target, snapshot, 'a successful load does not change the target either');
});

test('save never changes the state, and preSave returns derived data', async () => {
  const d = vmstate({ name: 'pre', version: 1, fields: { a: uint8(), b: uint8() }, preSave: (s) => ({ ...s, b: s.a * 2 }) });
  const s = { a: 3, b: 0 };
  assert.equal(hex(await saveBytes(d, s, false)), '0306');
  assert.deepEqual(s, { a: 3, b: 0 });
});

test('bad values to save are E_USAGE with the path, not a TypeError', async () => {
  const d = vmstate({ name: 'v', version: 1, fields: { a: uint8(), b: int64(), c: array(uint16(), 2) } });
  const bad = [
    { a: 256, b: 0n, c: [1, 2] },
    { a: 1, b: 1, c: [1, 2] },
    { a: 1, b: 1n << 63n, c: [1, 2] },
    { a: 1, b: 0n, c: [1] },
    { a: 1, b: 0n, c: [1, -1] },
  ];
  for (const s of bad) {
    // Deliberately wrong shapes, as an untyped caller might pass.
    await assert.rejects(() => saveBytes(d, s as unknown as StateOf<typeof d>), { code: 'E_USAGE', name: 'VmsError' });
  }
});

// ---- chunked input ------------------------------------------------------------------------------

test('loads the same through 1-, 2- and 7-byte chunks with reader.retry (NEED_MORE)', async () => {
  for (const piece of [1, 2, 7]) {
    const reader = new ChannelReader(new MemorySource(cpuWire, piece), { bufferSize: 16 });
    const got = await reader.retry(() => load(cpu, new BinaryInputVisitor(reader), cpuZero()));
    assert.deepEqual(got, { eax: 7 + 0x100, halted: true, msr: 0x100, deep: 42, poll: 0 }, `piece ${piece}`);
    assert.equal(reader.u8(), EOF);
  }
});

// ---- descriptions are checked once, when built ---------------------------------------------------

test('bad descriptions are E_DESCRIPTION', () => {
  expectVmsError(() => vmstate({ name: 'x', fields: { a: varray(uint8(), 'n'), n: uint8() } }), 'E_DESCRIPTION');
  expectVmsError(() => vmstate({ name: 'x', fields: { n: uint64(), a: varray(uint8(), 'n') } }), 'E_DESCRIPTION');
  expectVmsError(() => vmstate({ name: 'x', fields: {}, subsections: [vmstate({ name: 'y/sub', fields: {} })] }), 'E_DESCRIPTION');
  expectVmsError(() => vmstate({ name: 'x', version: 1, minVersion: 2, fields: {} }), 'E_DESCRIPTION');
  expectVmsError(() => vmstate({ name: 'x', fields: JSON.parse('{"__proto__": 1}') as Record<string, never> }), 'E_DESCRIPTION');
  expectVmsError(() => vmstate({ name: 'x', fields: { 0: uint8() } }), 'E_DESCRIPTION');
  expectVmsError(() => vmstate({ name: '', fields: {} }), 'E_DESCRIPTION');
});

test('descriptions are frozen plain data', () => {
  assert.ok(Object.isFrozen(cpu));
  assert.ok(Object.isFrozen(cpu.fields));
  assert.ok(Object.isFrozen(cpu.fields.eax));
  assert.equal(cpu.fields.eax.spec.kind, 'scalar');
});
