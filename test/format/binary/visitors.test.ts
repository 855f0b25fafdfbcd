/** The binary visitors on their own: QEMU's bytes for each call, the subsection peek, bad markers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../../src/channel/reader.js';
import { ChannelWriter } from '../../../src/channel/writer.js';
import { MemorySink } from '../../../src/channel/transports/memory.js';
import { isVmsError } from '../../../src/errors.js';
import { BinaryInputVisitor, BinaryOutputVisitor } from '../../../src/format/binary/index.js';

async function written(fn: (o: BinaryOutputVisitor) => void): Promise<string> {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink);
  fn(new BinaryOutputVisitor(w));
  await w.close();
  return Buffer.from(sink.bytes()).toString('hex');
}

const input = (hex: string): BinaryInputVisitor => new BinaryInputVisitor(ChannelReader.fromBytes(Buffer.from(hex, 'hex')));
const info = { vmsdName: 'x', version: 1 };

test('structure writes nothing; lists, trees, subsections and NULL markers write QEMU bytes', async () => {
  const hex = await written((o) => {
    o.startStruct('s', info);
    o.startArray('a', 2);
    o.uint16('a', 0x42);
    o.uint16('a', 0x43);
    o.endArray();
    o.startList('l');
    o.listElement();
    o.uint8('e', 7);
    o.endList();
    o.startTree('t', 1);
    o.treeNode();
    o.uint64('k', 5n);
    o.endTree();
    o.startSubsection('x/sub', 3);
    o.bool('b', true);
    o.endSubsection();
    o.nullPointer('p');
    o.unused('u', 3);
    o.string('s', 'hi');
    o.buffer('buf', Uint8Array.of(0xaa, 0xbb));
    o.int8('i8', -1);
    o.int16('i16', -2);
    o.int32('i32', -70000);
    o.int64('i64', -12121212n);
    o.uint32('u32', 70000);
    o.endStruct();
  });
  assert.equal(
    hex,
    [
      '00420043', //                 a: two be16, no count
      '01', '07', '00', //           list: 01 element ... 00
      '00000001', '01', '0000000000000005', '00', // tree: be32 count, 01 key, 00
      '05', '05', '782f737562', '00000003', // subsection: 05, len, "x/sub", be32 version
      '01', //                       bool
      '30', //                       NULL pointer marker
      '000000', //                   unused: zeros
      '02', '6869', //               counted string
      'aabb', //                     buffer
      'ff', 'fffe', 'fffeee90', 'ffffffffff470b84', '00011170',
    ].join(''),
  );
});

test('input reads back what output wrote', () => {
  const i = input('004201070000000001' + '01ffffffffffffffff00' + '02' + '0505782f73756200000003' + '30');
  assert.equal(i.uint16('a'), 0x42);
  assert.equal(i.listHasNext(), true);
  assert.equal(i.uint8('e'), 7);
  assert.equal(i.listHasNext(), false);
  assert.equal(i.startTree('t'), 1);
  assert.equal(i.treeHasNext(), true);
  assert.equal(i.uint64('k'), 0xffffffffffffffffn);
  assert.equal(i.treeHasNext(), false);
  assert.equal(i.bool('b'), true, 'any non-zero byte is true');
  assert.deepEqual(i.nextSubsection('x'), { name: 'x/sub', version: 3 });
  i.nullPointer('p');
  assert.equal(i.offset, 32);
});

test('the subsection peek leaves bytes that are not ours unread', () => {
  for (const [hex, parent] of [
    ['0503792f7a00000001', 'x'], // another prefix
    ['0501780000000001', 'x'], //   the parent's own name: not longer than it
    ['04', 'x'], //                 not a subsection byte
  ] as const) {
    const i = input(hex);
    assert.equal(i.nextSubsection(parent), undefined);
    assert.equal(i.offset, 0);
  }
  assert.equal(input('').nextSubsection('x'), undefined, 'end of input: no subsection');
});

test('bad markers and truncation are typed errors with offsets', () => {
  const expectCode = (fn: () => unknown, code: string, offset?: number): void => {
    try {
      fn();
      assert.fail('no error');
    } catch (e) {
      assert.ok(isVmsError(e), String(e));
      assert.equal(e.code, code);
      if (offset !== undefined) assert.equal(e.offset, offset);
    }
  };
  expectCode(() => input('02').listHasNext(), 'E_FORMAT', 0);
  expectCode(() => input('09').treeHasNext(), 'E_FORMAT', 0);
  expectCode(() => input('31').nullPointer('p'), 'E_FORMAT', 0);
  expectCode(() => input('0001').uint32('u'), 'E_TRUNCATED');
  expectCode(() => input('05').nextSubsection('x'), 'E_TRUNCATED');
  expectCode(() => input('0a41').string('s'), 'E_TRUNCATED');
});

test('strings longer than 255 or outside latin1 are refused on save', async () => {
  await assert.rejects(() => written((o) => o.string('s', 'a'.repeat(256))), { code: 'E_LIMIT' });
  await assert.rejects(() => written((o) => o.string('s', 'é€')), { code: 'E_FORMAT' });
  assert.equal(await written((o) => o.string('s', 'é')), '01e9');
});
