/**
 * BER device bodies larger than what the reader may buffer (src/stream/ber/cursor.ts): the
 * value decoder stops where it is when bytes run out and goes on when more arrive, so a body
 * of any size decodes the same through any read pieces, including a buffer value that comes
 * in pieces and a body several times the channel's maxBuffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import type { ByteSource } from '../../src/channel/transport.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import type { OutputVisitor, StructInfo } from '../../src/format/visitor.js';
import { readBerStream } from '../../src/stream/ber/reader.js';
import { BerStreamWriter } from '../../src/stream/ber/writer.js';
import type { SectionHeader } from '../../src/stream/events.js';

const BLOB = 1 << 20;

/** A stream of one FULL section whose device body holds every kind of Value, a 1 MiB buffer among them. */
async function bigDeviceStream(): Promise<{ ber: Uint8Array; blob: Uint8Array }> {
  const blob = new Uint8Array(BLOB);
  for (let i = 0; i < BLOB; i++) blob[i] = (i * 131 + (i >> 9)) & 0xff;
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new BerStreamWriter(out);
  w.header({ magic: 0x5145564d, version: 3 });
  const h: SectionHeader = { kind: 'full', id: 1, idstr: 'big', instance: 0, version: 4, offset: 0, depth: 0 };
  await w.sectionStart(h);
  const d = w.deviceFields(h)!;
  d.startStruct('big', { vmsdName: 'big', version: 4 });
  d.uint32('before', 0xdeadbeef);
  d.buffer('blob', blob);
  d.startArray('regs', 300);
  for (let i = 0; i < 300; i++) d.uint64('regs', BigInt(i) << 40n);
  d.endArray();
  d.startList('queue');
  for (let i = 0; i < 3; i++) {
    d.listElement();
    d.startStruct('queue', { vmsdName: 'entry', version: 1 });
    d.int16('n', -i);
    d.string('tag', `e${i}`);
    d.endStruct();
  }
  d.endList();
  d.startTree('map', 2);
  for (let i = 0; i < 2; i++) {
    d.treeNode();
    d.uint8('key', i);
    d.opaque('value', 'thing', Uint8Array.of(i, 1, 2));
  }
  d.endTree();
  d.startSubsection('big/extra', 2);
  d.bool('flag', true);
  d.unused('pad', 7);
  d.nullPointer('none');
  d.endSubsection();
  d.endStruct();
  await w.sectionEnd(h, { payloadEnd: 0, footer: true });
  w.eof(0, 0);
  await w.end();
  await out.close();
  return { ber: sink.bytes(), blob };
}

/** The device body's visitor calls as text, buffers summarised by length and a checksum. */
async function deviceCalls(source: ByteSource | Uint8Array, options: Parameters<typeof readBerStream>[2] = {}): Promise<string[]> {
  const calls: string[] = [];
  const log =
    (name: string) =>
    (...args: unknown[]): void => {
      calls.push(`${name}(${args.map((a) => (a instanceof Uint8Array ? `${a.length} bytes, sum ${a.reduce((s, b) => (s * 31 + b) >>> 0, 0)}` : typeof a === 'bigint' ? `${a}n` : JSON.stringify(a as StructInfo))).join(', ')})`);
    };
  const visitor = new Proxy({} as OutputVisitor, { get: (_t, p) => (p === 'offset' ? 0 : log(String(p))) });
  await readBerStream(source, { deviceFields: () => visitor }, options);
  return calls;
}

test('a device body over the reader maxBuffer, read in small pieces, gives the same values as read whole', async () => {
  const { ber, blob } = await bigDeviceStream();
  assert.ok(ber.length > BLOB, `stream of ${ber.length} bytes`);
  const whole = await deviceCalls(ber);
  // The 1 MiB buffer and its checksum, the 300 array elements and the rest, in order.
  const sum = blob.reduce((s, b) => (s * 31 + b) >>> 0, 0);
  assert.ok(whole.includes(`buffer("blob", ${BLOB} bytes, sum ${sum})`), whole.slice(0, 3).join('\n'));
  assert.equal(whole[0], 'startStruct("big", {"vmsdName":"big","version":4})');
  assert.ok(whole.includes('startArray("regs", 300)'));
  assert.ok(whole.includes(`uint64("regs", ${299n << 40n}n)`));
  assert.ok(whole.includes('startTree("map", 2)'));
  assert.ok(whole.includes('startSubsection("big/extra", 2)'));
  assert.equal(whole.at(-1), 'endStruct()');
  for (const [piece, bufferSize, maxBuffer] of [
    [1, 64, 1 << 16],
    [4093, 4096, 1 << 16],
    [1 << 16, 1 << 16, 300000],
  ] as const) {
    const calls = await deviceCalls(new MemorySource(ber, piece), { reader: { bufferSize, maxBuffer } });
    assert.deepEqual(calls, whole, `pieces of ${piece}, buffer ${bufferSize}, maxBuffer ${maxBuffer}`);
  }
});

test('a large device body cut short fails with E_TRUNCATED and the path of the value it was in', async () => {
  const { ber } = await bigDeviceStream();
  // Cut inside the 1 MiB buffer (the body is far larger than maxBuffer), from a source that
  // does not tell its size, so the reader learns of the cut only when the bytes stop.
  const memory = new MemorySource(ber.subarray(0, 200000), 4096);
  const unsized: ByteSource = { read: (into) => memory.read(into), close: () => memory.close() };
  await assert.rejects(
    () => deviceCalls(unsized, { reader: { bufferSize: 4096, maxBuffer: 1 << 16 } }),
    (e: unknown) => {
      const err = e as { code?: string; path?: unknown[]; offset?: number };
      assert.equal(err.code, 'E_TRUNCATED', String(e));
      assert.ok(err.path?.includes('big') === true && err.path.includes('blob'), `path ${JSON.stringify(err.path)}`);
      assert.ok(err.offset !== undefined && err.offset <= 200000, `offset ${err.offset}`);
      return true;
    },
  );
});
