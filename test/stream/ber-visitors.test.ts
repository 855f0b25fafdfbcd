// The BER visitors (src/format/ber/visitor-{output,input}.ts) driven by VMState descriptions:
// golden bytes for a small struct, a round trip through every field kind, and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { isVmsError } from '../../src/errors.js';
import { BerWriter } from '../../src/format/ber/writer.js';
import { BerOutputVisitor } from '../../src/format/ber/visitor-output.js';
import { BerInputVisitor } from '../../src/format/ber/visitor-input.js';
import * as V from '../../src/vmstate/index.js';

async function saveBer<D extends V.AnyVmsd>(desc: D, state: V.StateOf<D>): Promise<Uint8Array> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  V.save(desc, state, new BerOutputVisitor(new BerWriter(out)));
  await out.flushAll();
  return sink.bytes();
}

function loadBer<D extends V.AnyVmsd>(desc: D, bytes: Uint8Array, target: V.StateOf<D> = V.emptyState(desc)): V.StateOf<D> {
  const inp = new BerInputVisitor(ChannelReader.fromBytes(bytes));
  return V.load(desc, inp, target);
}

/** A load target whose pointer slot 1 is NULL: QEMU decides by the receiver's pointer. */
function devTarget(): V.StateOf<typeof dev> {
  const s = V.emptyState(dev);
  return { ...s, ptrs: [{ x: 0, y: 0n }, null, { x: 0, y: 0n }] } as V.StateOf<typeof dev>;
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

const small = V.vmstate({ name: 't', version: 2, fields: { a: V.uint32(), b: V.int8() } });

test('golden bytes: a struct of two fields', async () => {
  const bytes = await saveBer(small, { a: 70000, b: -1 });
  const expected = hex(`
    30 80                      -- Struct, indefinite
      80 01 74                 -- [0] vmsdName "t"
      81 01 02                 -- [1] version 2
      a2 80                    -- [2] fields, indefinite
        30 0a                  -- Field
          80 01 61             -- [0] name "a"
          a1 05 87 03 01 11 70 -- [1] EXPLICIT uint32 [7] 70000
        30 08                  -- Field
          80 01 62             -- [0] name "b"
          a1 03 81 01 ff       -- [1] EXPLICIT int8 [1] -1
      00 00                    -- end of fields
    00 00                      -- end of Struct`.replace(/--[^\n]*/g, ''));
  assert.deepEqual(bytes, expected);
  assert.deepEqual(loadBer(small, bytes), { a: 70000, b: -1 });
});

test('definite lengths and long-form lengths are read as well as indefinite ones', () => {
  // The same value with every container definite, and one length in a needless long form.
  const definite = hex(`
    30 1f 80 01 74 81 01 02
      a2 81 16
        30 0a 80 01 61 a1 05 87 03 01 11 70
        30 08 80 01 62 a1 03 81 01 ff`);
  assert.deepEqual(loadBer(small, definite), { a: 70000, b: -1 });
});

const elem = V.vmstate({ name: 'elem', version: 1, fields: { x: V.uint16(), y: V.int64() } });
const key = V.vmstate({ name: 'key', version: 1, fields: { k: V.uint32() } });
const sub2 = V.vmstate({ name: 'dev/sub/deeper', version: 7, fields: { z: V.uint8() } });
const sub = V.vmstate({
  name: 'dev/sub',
  version: 3,
  fields: { s: V.string(), flag: V.bool() },
  subsections: [sub2],
});
const dev = V.vmstate({
  name: 'dev',
  version: 5,
  fields: {
    b: V.bool(),
    i8: V.int8(),
    i16: V.int16(),
    i32: V.int32(),
    i64: V.int64(),
    u8: V.uint8(),
    u16: V.uint16(),
    u32: V.uint32(),
    u64: V.uint64(),
    t: V.timer(),
    buf: V.buffer(5),
    pad: V.unused(3),
    arr: V.array(V.uint16(), 3),
    ptrs: V.pointerArray(V.struct(elem), 3),
    nested: V.struct(elem),
    n: V.uint8(),
    varr: V.varray(V.int32(), 'n'),
    vlen: V.uint32(),
    vbuf: V.vbuffer('vlen'),
    bits: V.bitmap(130),
    q: V.list(elem),
    direct: V.tree('direct', elem),
    keyed: V.tree(key, elem),
    name: V.string(),
  },
  subsections: [sub],
});

function devState(): V.StateOf<typeof dev> {
  const s = V.emptyState(dev);
  return {
    ...s,
    b: true,
    i8: -128,
    i16: -2,
    i32: -2147483648,
    i64: -12121212n,
    u8: 255,
    u16: 65535,
    u32: 4294967295,
    u64: 0xffffffffffffffffn,
    t: -1n,
    buf: Uint8Array.of(1, 2, 3, 4, 5),
    arr: [0x42, 0x43, 0x44],
    ptrs: [{ x: 1, y: 2n }, null, { x: 3, y: -4n }],
    nested: { x: 9, y: 0x7fffffffffffffffn },
    n: 2,
    varr: [7, -7],
    vlen: 4,
    vbuf: Uint8Array.of(9, 8, 7, 6),
    bits: BigUint64Array.of(1n, 0xffffffffffffffffn, 3n),
    q: [{ x: 10, y: 11n }, { x: 12, y: 13n }],
    direct: [[5n, { x: 1, y: 1n }], [0xfffffffffffff000n, { x: 2, y: 2n }]],
    keyed: [[{ k: 1 }, { x: 3, y: 3n }]],
    name: 'pc-i440fx-7.2\u00e9',
    s: 'sub',
    flag: false,
    z: 200,
  } as V.StateOf<typeof dev>;
}

test('round trip through every field kind, subsections included', async () => {
  const state = devState();
  const bytes = await saveBer(dev, state);
  const back = loadBer(dev, bytes, devTarget());
  assert.deepEqual(back, state);
});

test('every proper prefix fails with a typed error, never a crash', async () => {
  const bytes = await saveBer(dev, devState());
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(
      () => loadBer(dev, bytes.subarray(0, n), devTarget()),
      (e: unknown) => isVmsError(e) && (e.code === 'E_TRUNCATED' || e.code === 'E_BER') && typeof e.offset === 'number',
      `prefix of ${n} bytes`,
    );
  }
});

test('a load through a chunked source retries and gives the same state', async () => {
  const { MemorySource } = await import('../../src/channel/transports/memory.js');
  const state = devState();
  const bytes = await saveBer(dev, state);
  const r = new ChannelReader(new MemorySource(bytes, 7), { bufferSize: 16 });
  const inp = new BerInputVisitor(r);
  const back = await inp.retry(() => V.load(dev, inp, devTarget()));
  assert.deepEqual(back, state);
});

test('a renamed field, a changed type and an extra field are refused with offsets', async () => {
  const bytes = await saveBer(small, { a: 1, b: 2 });
  const renamed = V.vmstate({ name: 't', version: 2, fields: { a: V.uint32(), c: V.int8() } });
  assert.throws(() => loadBer(renamed, bytes), (e: unknown) => isVmsError(e) && e.code === 'E_BER' && e.expected === '"c"' && e.offset === 22);
  const retyped = V.vmstate({ name: 't', version: 2, fields: { a: V.int32(), b: V.int8() } });
  assert.throws(() => loadBer(retyped, bytes), (e: unknown) => isVmsError(e) && e.code === 'E_BER' && /int32/.test(e.message));
  const fewer = V.vmstate({ name: 't', version: 2, fields: { a: V.uint32() } });
  assert.throws(() => loadBer(fewer, bytes), (e: unknown) => isVmsError(e) && e.code === 'E_BER' && /more fields/.test(e.message));
  const other = V.vmstate({ name: 'u', version: 2, fields: { a: V.uint32(), b: V.int8() } });
  assert.throws(() => loadBer(other, bytes), (e: unknown) => isVmsError(e) && e.code === 'E_MISMATCH');
});

test('values out of their range are refused', () => {
  // uint8 [5] carrying 256
  const bad = hex('30 80 80 01 74 81 01 02 a2 80 30 0b 80 01 61 a1 06 85 04 00 00 01 00 00 00 00 00');
  const d = V.vmstate({ name: 't', version: 2, fields: { a: V.uint8() } });
  assert.throws(() => loadBer(d, bad), (e: unknown) => isVmsError(e) && e.code === 'E_BER' && e.offset === 17);
});

test('unknown non-critical extensions are skipped; critical ones refused', () => {
  const ext = (critical: boolean): Uint8Array =>
    hex(`30 80 80 01 74 81 01 02 a2 80 00 00
         bd 80 30 ${critical ? '0a' : '07'} 80 01 09 ${critical ? '81 01 ff' : ''} 82 02 05 00 00 00
       00 00`);
  const empty = V.vmstate({ name: 't', version: 2, fields: {} });
  assert.deepEqual(loadBer(empty, ext(false)), {});
  assert.throws(() => loadBer(empty, ext(true)), (e: unknown) => isVmsError(e) && e.code === 'E_UNKNOWN');
});

test('deep nesting is refused with E_LIMIT, not a stack overflow', () => {
  const depth = 10_000;
  const bytes = new Uint8Array(8 + depth * 2);
  bytes.set(hex('30 80 80 01 74 81 01 02'), 0);
  for (let i = 0; i < depth; i++) bytes.set([0xa2, 0x80], 8 + i * 2);
  const d = V.vmstate({ name: 't', version: 2, fields: { a: V.uint8() } });
  assert.throws(() => loadBer(d, bytes), (e: unknown) => isVmsError(e) && (e.code === 'E_BER' || e.code === 'E_LIMIT'));
});

test('an array of uint8 goes out as one buffer value and loads back element by element', async () => {
  const d = V.vmstate({ name: 'b', version: 1, fields: { short: V.array(V.uint8(), 3), long: V.array(V.uint8(), 6) } });
  const bytes = await saveBer(d, { short: [1, 2, 3], long: [10, 11, 12, 13, 14, 15] });
  const expected = hex(`
    30 80 80 01 62 81 01 01 a2 80
      30 80 80 05 73686f7274 a1 80 af 80                              -- short: Field, [1], array [15] (all indefinite)
        85 01 01 85 01 02 85 01 03 00 00 00 00 00 00                 -- three uint8 [5], then the three ends
      30 10 80 04 6c6f6e67 a1 08 89 06 0a 0b 0c 0d 0e 0f              -- long: buffer [9] of 6 bytes
    00 00 00 00`.replace(/--[^\n]*/g, ''));
  assert.deepEqual(bytes, expected);
  assert.deepEqual(loadBer(d, bytes), { short: [1, 2, 3], long: [10, 11, 12, 13, 14, 15] });
  const wrongLength = V.vmstate({ name: 'b', version: 1, fields: { short: V.array(V.uint8(), 3), long: V.array(V.uint8(), 7) } });
  assert.throws(() => loadBer(wrongLength, bytes), (e: unknown) => isVmsError(e) && e.code === 'E_BER');
});

test('strings may come as constructed segments (X.690 8.7.3)', () => {
  const d = V.vmstate({ name: 't', version: 1, fields: { buf: V.buffer(5) } });
  // buffer [9] constructed, indefinite: segments 01 02 and 03 04 05; the field name likewise.
  const bytes = hex(`30 80 80 01 74 81 01 01 a2 80
    30 80 a0 80 04 02 62 75 04 01 66 00 00
      a1 80 a9 80 04 02 01 02 24 80 04 03 03 04 05 00 00 00 00 00 00
    00 00
    00 00 00 00`);
  assert.deepEqual(loadBer(d, bytes), { buf: Uint8Array.of(1, 2, 3, 4, 5) });
});
