/** BerReader: chunked input, long primitives in pieces, and every hostile input we know of. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader, type ByteSource } from '../../../src/channel/index.js';
import { BerEventKind, BerReader } from '../../../src/format/ber/index.js';
import { formatPath, isVmsError } from '../../../src/errors.js';
import { decodeError, events, streamSource, unhex } from './support.js';

const SAMPLE = unhex(
  '30 80' + //                         SEQUENCE, indefinite
    '02 01 05' + //                    INTEGER 5
    '24 80 04 02 aa bb 04 01 cc 00 00' + // constructed OCTET STRING of two segments
    '7f c6 50 82 00 09' + //           [APPLICATION 9040], long form length with a leading zero octet
    '02 02 10 00 04 03 01 02 03' + //  INTEGER 4096, OCTET STRING 010203
    '00 00' + //                       end-of-contents
    '05 00', //                        a second top-level value: NULL
);

test('1-, 2- and 7-byte pieces give the same events as the whole buffer', async () => {
  const whole = await events(SAMPLE);
  assert.equal(whole.length, 12);
  for (const piece of [1, 2, 7]) assert.deepEqual(await events(SAMPLE, { piece }), whole, `piece ${piece}`);
});

test('a primitive longer than wholePrimitiveLimit arrives in pieces that join to its contents', async () => {
  const contents = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  const bytes = Uint8Array.from([0x04, 0x82, 0x03, 0xe8, ...contents]);
  const r = new BerReader(new ChannelReader(streamSource(bytes, 97), { bufferSize: 64 }), { wholePrimitiveLimit: 100 });
  const got: number[] = [];
  let pieces = 0;
  for (;;) {
    const k = await r.read();
    if (k === BerEventKind.Done) break;
    assert.equal(k, BerEventKind.Primitive);
    assert.equal(r.event.contentOffset, got.length);
    assert.equal(r.event.length, 1000);
    got.push(...r.event.content);
    pieces++;
    assert.equal(r.event.final, got.length === 1000);
  }
  assert.ok(pieces > 1);
  assert.deepEqual(got, [...contents]);
});

test('skipRest skips the rest of a long primitive and reading goes on after it', async () => {
  const bytes = Uint8Array.from([0x04, 0x82, 0x10, 0x00, ...new Uint8Array(4096), 0x05, 0x00]);
  const r = new BerReader(new ChannelReader(streamSource(bytes, 500), { bufferSize: 64 }), { wholePrimitiveLimit: 16 });
  assert.equal(await r.read(), BerEventKind.Primitive);
  assert.equal(r.event.final, false);
  await r.skipRest();
  assert.equal(await r.read(), BerEventKind.Primitive);
  assert.equal(r.event.tagName, 'NULL');
  assert.equal(r.event.offset, 4100);
  assert.equal(await r.read(), BerEventKind.Done);
});

test('release() hands the position back to the channel', async () => {
  const ch = new ChannelReader(unhex('020105 ff'));
  const r = new BerReader(ch);
  assert.equal(r.next(), BerEventKind.Primitive);
  r.release();
  assert.equal(ch.offset, 3);
  assert.equal(ch.u8(), 0xff);
});

async function expectError(bytes: Uint8Array | ByteSource, code: string, offset: number, path?: string, opts = {}): Promise<void> {
  const e = await decodeError(bytes, opts);
  assert.ok(isVmsError(e), `expected a VmsError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  assert.equal(e.offset, offset, e.message);
  if (path !== undefined) assert.equal(formatPath(e.path), path, e.message);
  assert.ok(e.expected !== undefined && e.actual !== undefined, 'error says what was expected and found');
}

test('hostile: a length that runs past its parent\'s end', async () => {
  await expectError(unhex('30 05 04 05 01 02 03'), 'E_BER', 2, 'SEQUENCE[0]');
  await expectError(unhex('30 80 30 03 02 02 01 01 00 00'), 'E_BER', 4, 'SEQUENCE[0].SEQUENCE[0]');
});

test('hostile: a length past the source\'s known size fails before waiting for bytes', async () => {
  await expectError(unhex('04 05 01'), 'E_TRUNCATED', 0);
  await expectError(unhex('30 80 04 84 7f ff ff ff 00'), 'E_TRUNCATED', 2, 'SEQUENCE[0]');
});

test('hostile: a length of 2^62 is E_LIMIT, a 2 GiB length on an unsized stream is read, not allocated', async () => {
  await expectError(unhex('04 88 40 00 00 00 00 00 00 00'), 'E_LIMIT', 0);
  const before = process.memoryUsage().arrayBuffers;
  await expectError(streamSource(unhex('04 84 7f ff ff ff 01 02 03')), 'E_TRUNCATED', 9);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20, 'no allocation sized by the length');
});

test('hostile: nesting 10,000 deep fails fast with E_LIMIT (no recursion)', async () => {
  const deep = new Uint8Array(20_000);
  for (let i = 0; i < deep.length; i += 2) deep.set([0x30, 0x80], i);
  const t0 = performance.now();
  await expectError(deep, 'E_LIMIT', 2000);
  assert.ok(performance.now() - t0 < 1000);
  await expectError(deep.subarray(0, 20), 'E_LIMIT', 6, undefined, { maxDepth: 3 });
  // At the limit it is fine.
  const ok = Uint8Array.from([0x30, 0x80, 0x30, 0x80, 0x30, 0x80, 0, 0, 0, 0, 0, 0]);
  assert.equal((await events(ok, { maxDepth: 3 })).length, 6);
});

test('hostile: an unterminated indefinite length is E_TRUNCATED at EOF', async () => {
  await expectError(unhex('30 80 02 01 00'), 'E_TRUNCATED', 5, 'SEQUENCE[1]');
  await expectError(streamSource(unhex('30 80 02 01 00'), 2), 'E_TRUNCATED', 5);
});

test('hostile: a tag number that never ends is bounded', async () => {
  const endless = Uint8Array.from([0x1f, ...new Uint8Array(100).fill(0x81)]);
  await expectError(endless, 'E_LIMIT', 0);
  await expectError(streamSource(endless, 1), 'E_LIMIT', 0);
});

test('hostile: end-of-contents in the wrong place or malformed', async () => {
  await expectError(unhex('30 02 00 00'), 'E_BER', 2, 'SEQUENCE[0]'); // inside a definite container
  await expectError(unhex('00 00'), 'E_BER', 0); // at top level
  await expectError(unhex('30 80 00 01 00 00 00'), 'E_BER', 2); // EOC with a length
  await expectError(unhex('30 80 20 00 00 00'), 'E_BER', 2); // constructed [UNIVERSAL 0]
});

test('hostile: forbidden header forms', async () => {
  await expectError(unhex('04 80 00 00'), 'E_BER', 0); // indefinite primitive
  await expectError(unhex('04 ff'), 'E_BER', 0); // reserved length octet
  await expectError(unhex('1f 05 00'), 'E_BER', 0); // high form for tag 5
  await expectError(unhex('30 03 02 82 00'), 'E_BER', 2); // header crosses the parent's end
  await expectError(unhex('30 80 02 01 00 1f'), 'E_TRUNCATED', 5); // stream ends in a header
  const r = new BerReader(new ChannelReader(unhex('1f 05 00')), { allowNonMinimalTags: true });
  assert.equal(r.next(), BerEventKind.Primitive);
  assert.equal(r.event.tagNonMinimal, true);
  assert.equal(r.event.number, 5);
});

test('errors are sticky, and every proper prefix of a valid stream is E_TRUNCATED', async () => {
  const r = new BerReader(new ChannelReader(unhex('30 02 00 00')));
  assert.equal(r.next(), BerEventKind.Start);
  assert.throws(() => r.next(), { code: 'E_BER' });
  assert.throws(() => r.next(), { code: 'E_BER' });
  const valid = SAMPLE.subarray(0, SAMPLE.length - 2);
  for (let n = 1; n < valid.length; n++) {
    const e = await decodeError(valid.subarray(0, n));
    assert.ok(isVmsError(e) && e.code === 'E_TRUNCATED', `prefix ${n}: ${String(e)}`);
  }
});

test('skipRest past the end of an unsized stream is E_TRUNCATED with the path', async () => {
  const bytes = Uint8Array.from([0x30, 0x80, 0x04, 0x82, 0x10, 0x00, ...new Uint8Array(100)]);
  const r = new BerReader(new ChannelReader(streamSource(bytes, 30), { bufferSize: 64 }), { wholePrimitiveLimit: 16 });
  assert.equal(await r.read(), BerEventKind.Start);
  assert.equal(await r.read(), BerEventKind.Primitive);
  await assert.rejects(r.skipRest(), (e: unknown) => isVmsError(e) && e.code === 'E_TRUNCATED' && formatPath(e.path) === 'SEQUENCE[0]');
  assert.throws(() => r.next(), { code: 'E_TRUNCATED' }, 'sticky');
});
