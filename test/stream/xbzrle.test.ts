// XBZRLE codec: the behaviours QEMU's tests/unit/test-xbzrle.c checks (re-expressed from the
// spec), golden vectors worked out by hand, a reference encoder written the slow obvious way,
// and hostile decoder input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeUleb128Small,
  encodeUleb128Small,
  ulebLength,
  ulebValue,
  xbzrleDecode,
  xbzrleEncode,
  XBZRLE_OVERFLOW,
} from '../../src/stream/xbzrle.js';
import { isVmsError } from '../../src/errors.js';

const PAGE = 4096;

/** Byte-at-a-time encoder following the spec text, with QEMU's conservative room checks. */
function referenceEncode(oldPage: Uint8Array, newPage: Uint8Array, limit: number): Uint8Array | -1 {
  const out: number[] = [];
  const put = (v: number): void => {
    if (v < 0x80) out.push(v);
    else out.push((v & 0x7f) | 0x80, v >>> 7);
  };
  let i = 0;
  while (i < newPage.length) {
    const z = i;
    while (i < newPage.length && oldPage[i] === newPage[i]) i++;
    if (i === newPage.length) break;
    if (out.length + 2 > limit) return -1;
    put(i - z);
    const n = i;
    while (i < newPage.length && oldPage[i] !== newPage[i]) i++;
    if (out.length + (i - n) + 2 > limit) return -1;
    put(i - n);
    for (let k = n; k < i; k++) out.push(newPage[k]!);
  }
  return Uint8Array.from(out);
}

function encodeToArray(oldPage: Uint8Array, newPage: Uint8Array, limit = oldPage.length): Uint8Array | -1 {
  const out = new Uint8Array(limit + 16);
  const n = xbzrleEncode(oldPage, newPage, out, limit);
  return n < 0 ? -1 : out.slice(0, n);
}

function expectFormatError(fn: () => unknown, offset: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVmsError(e), `not a VmsError: ${String(e)}`);
    assert.equal(e.code, 'E_FORMAT');
    assert.equal(e.offset, offset, e.message);
    return true;
  });
}

test('ULEB128: every two-byte value round-trips with the same length both ways', () => {
  const buf = new Uint8Array(2);
  for (let v = 0; v <= 0x3fff; v++) {
    const written = encodeUleb128Small(buf, 0, v);
    assert.equal(written, v < 0x80 ? 1 : 2);
    const packed = decodeUleb128Small(buf, 0);
    assert.equal(ulebValue(packed), v);
    assert.equal(ulebLength(packed), written);
  }
});

test('ULEB128: golden bytes at the length boundaries', () => {
  const enc = (v: number): number[] => {
    const b = new Uint8Array(2);
    return Array.from(b.subarray(0, encodeUleb128Small(b, 0, v)));
  };
  assert.deepEqual(enc(0x00), [0x00]);
  assert.deepEqual(enc(0x7f), [0x7f]); // largest one-byte count
  assert.deepEqual(enc(0x80), [0x80, 0x01]); // low 7 bits 0 + continuation, then 1
  assert.deepEqual(enc(0xfff), [0xff, 0x1f]); // 4095: a page minus one byte
  assert.deepEqual(enc(0x1000), [0x80, 0x20]); // 4096: a whole page
  assert.deepEqual(enc(0x3fff), [0xff, 0x7f]); // largest two-byte count
});

test('ULEB128: 0x4000 and negatives do not fit the two-byte form', () => {
  for (const v of [0x4000, -1, 1.5]) {
    assert.throws(() => encodeUleb128Small(new Uint8Array(3), 0, v), (e: unknown) => isVmsError(e) && e.code === 'E_USAGE');
  }
});

test('ULEB128: a third byte, or a missing second byte, is invalid', () => {
  assert.equal(decodeUleb128Small(Uint8Array.of(0x80, 0x80), 0), -1);
  assert.equal(decodeUleb128Small(Uint8Array.of(0x80, 0x80, 0x01), 0), -1);
  assert.equal(decodeUleb128Small(Uint8Array.of(0x80), 0), -1);
  assert.equal(decodeUleb128Small(Uint8Array.of(0x85, 0x01), 0, 1), -1); // end cuts it
  assert.equal(decodeUleb128Small(new Uint8Array(0), 0), -1);
  // A non-minimal form decodes (QEMU's decoder accepts it too); the encoder never makes it.
  assert.equal(ulebValue(decodeUleb128Small(Uint8Array.of(0x80, 0x00), 0)), 0);
});

test('encode: a page against itself is 0 bytes (zero page and random page)', () => {
  const zero = new Uint8Array(PAGE);
  assert.equal(xbzrleEncode(zero, zero, new Uint8Array(PAGE)), 0);
  const random = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) random[i] = (i * 2654435761) >>> 24;
  assert.equal(xbzrleEncode(random, random.slice(), new Uint8Array(PAGE)), 0);
});

test('encode/decode: one changed byte at the end of a page', () => {
  const oldPage = new Uint8Array(PAGE);
  const newPage = new Uint8Array(PAGE);
  newPage[PAGE - 1] = 1;
  const enc = encodeToArray(oldPage, newPage);
  assert.notEqual(enc, -1);
  assert.deepEqual(Array.from(enc as Uint8Array), [
    0xff, 0x1f, // unchanged run 4095
    0x01, //       changed run 1
    0x01, //       the new byte
  ]);
  const page = oldPage.slice();
  assert.equal(xbzrleDecode(enc as Uint8Array, page), PAGE);
  assert.deepEqual(page, newPage);
});

test('encode/decode: one changed byte at the start gives an empty first unchanged run', () => {
  const oldPage = new Uint8Array(PAGE).fill(7);
  const newPage = oldPage.slice();
  newPage[0] = 9;
  const enc = encodeToArray(oldPage, newPage) as Uint8Array;
  assert.deepEqual(Array.from(enc), [0x00, 0x01, 0x09]);
  const page = oldPage.slice();
  assert.equal(xbzrleDecode(enc, page), 1); // reaches only the first byte
  assert.deepEqual(page, newPage);
});

test('encode: golden vector with runs split inside and across words', () => {
  const oldPage = Uint8Array.of(0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9);
  const newPage = Uint8Array.of(0, 0, 0, 0, 1, 0xa, 0xb, 0xc, 0xd, 0xe, 7, 8, 9, 9, 0xf, 9);
  const enc = encodeToArray(oldPage, newPage) as Uint8Array;
  assert.deepEqual(Array.from(enc), [
    0x05, //                         bytes 0..4 unchanged
    0x05, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, // bytes 5..9 changed
    0x04, //                         bytes 10..13 unchanged
    0x01, 0x0f, //                   byte 14 changed; byte 15 unchanged is implied
  ]);
});

test('encode: a delta that does not fit the limit returns -1 (every other byte changed)', () => {
  const oldPage = new Uint8Array(PAGE);
  const newPage = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE / 2 - 1; i++) newPage[i * 2] = 1;
  assert.equal(xbzrleEncode(oldPage, newPage, new Uint8Array(PAGE), PAGE), XBZRLE_OVERFLOW);
  // With room to spare it encodes, and decodes back.
  const big = new Uint8Array(3 * PAGE);
  const n = xbzrleEncode(oldPage, newPage, big);
  assert.ok(n > PAGE);
  // Such a delta is longer than the page, so a receiver must refuse it.
  expectFormatError(() => xbzrleDecode(big.subarray(0, n), oldPage.slice(), { offset: 64 }), 64);
});

test('encode: the room check keeps 2 spare bytes, as QEMU does', () => {
  const oldPage = new Uint8Array(PAGE);
  const newPage = new Uint8Array(PAGE);
  newPage[PAGE - 1] = 1; // encodes to 4 bytes
  assert.equal(xbzrleEncode(oldPage, newPage, new Uint8Array(8), 5), 4);
  assert.equal(xbzrleEncode(oldPage, newPage, new Uint8Array(8), 4), XBZRLE_OVERFLOW);
  assert.equal(xbzrleEncode(oldPage, newPage, new Uint8Array(8), 1), XBZRLE_OVERFLOW);
});

test('encode: pages of different length, or over 0x3fff bytes, are usage errors', () => {
  assert.throws(() => xbzrleEncode(new Uint8Array(8), new Uint8Array(16), new Uint8Array(16)), (e: unknown) => isVmsError(e) && e.code === 'E_USAGE');
  const huge = new Uint8Array(0x4000);
  assert.throws(() => xbzrleEncode(huge, huge, new Uint8Array(16)), (e: unknown) => isVmsError(e) && e.code === 'E_USAGE');
});

test('encode matches the reference encoder and decodes back, aligned and unaligned', () => {
  const changes = fc.array(fc.record({ at: fc.nat(PAGE - 1), len: fc.integer({ min: 1, max: 300 }), seed: fc.nat(255) }), { maxLength: 40 });
  fc.assert(
    fc.property(fc.uint8Array({ minLength: PAGE, maxLength: PAGE }), changes, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 16, max: PAGE + 64 }), (base, edits, shiftOld, shiftNew, limit) => {
      const oldStore = new Uint8Array(PAGE + 4);
      const newStore = new Uint8Array(PAGE + 4);
      const oldPage = oldStore.subarray(shiftOld, shiftOld + PAGE);
      const newPage = newStore.subarray(shiftNew, shiftNew + PAGE);
      oldPage.set(base);
      newPage.set(base);
      for (const e of edits) {
        for (let k = e.at; k < Math.min(PAGE, e.at + e.len); k++) newPage[k] = (newPage[k]! + 1 + ((e.seed + k) % 3)) & 0xff;
      }
      const want = referenceEncode(oldPage, newPage, limit);
      const out = new Uint8Array(limit + 8);
      const n = xbzrleEncode(oldPage, newPage, out, limit);
      if (want === -1) {
        assert.equal(n, -1);
        return;
      }
      assert.deepEqual(out.subarray(0, n), want);
      if (n <= PAGE) {
        const page = oldPage.slice();
        xbzrleDecode(out.subarray(0, n), page);
        assert.deepEqual(page, newPage);
      }
    }),
    { numRuns: 300, seed: 20201 },
  );
});

test('decode: an encoded length above the page size is rejected at its first byte', () => {
  expectFormatError(() => xbzrleDecode(new Uint8Array(PAGE + 1), new Uint8Array(PAGE), { offset: 1000 }), 1000);
});

test('decode: malformed deltas name the offset of the bad count', () => {
  const page = new Uint8Array(16);
  const at = 500;
  const cases: [number[], number, string][] = [
    [[0x80], 0, 'truncated first count'],
    [[0x02], 1, 'unchanged run with no changed run after it'],
    [[0x02, 0x80], 1, 'truncated changed-run count'],
    [[0x80, 0x80, 0x01, 0x01, 0x00], 0, 'three-byte count'],
    [[0x02, 0x00], 1, 'empty changed run'],
    [[0x01, 0x01, 0x07, 0x00, 0x01, 0x07], 3, 'empty unchanged run after the first'],
    [[0x11, 0x01, 0x07], 1, 'unchanged run past the page end'],
    [[0x0f, 0x02, 0x07, 0x07], 2, 'changed run past the page end'],
    [[0x02, 0x03, 0x07], 2, 'literal bytes missing'],
  ];
  for (const [bytes, off, what] of cases) {
    expectFormatError(() => xbzrleDecode(Uint8Array.from(bytes), page.slice(), { offset: at, path: ['ram', what] }), at + off);
  }
});

test('decode: errors carry the path given', () => {
  try {
    xbzrleDecode(Uint8Array.of(0x80), new Uint8Array(16), { offset: 7, path: ['ram', 'pc.ram', 0x2000] });
    assert.fail('no error');
  } catch (e) {
    assert.ok(isVmsError(e));
    assert.deepEqual(e.path, ['ram', 'pc.ram', 0x2000]);
  }
});

test('decode: an empty delta changes nothing and a full-page literal replaces the page', () => {
  const page = new Uint8Array(8).fill(3);
  assert.equal(xbzrleDecode(new Uint8Array(0), page), 0);
  assert.deepEqual(page, new Uint8Array(8).fill(3));
  // Unchanged run 0, changed run 6: the largest delta that fits an 8-byte page.
  assert.equal(xbzrleDecode(Uint8Array.of(0x00, 0x06, 1, 2, 3, 4, 5, 6), page), 6);
  assert.deepEqual(Array.from(page), [1, 2, 3, 4, 5, 6, 3, 3]);
});

test('decode fuzz: arbitrary bytes either decode within the page or fail with E_FORMAT', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 1, max: 64 }), (bytes, pageLen) => {
      const page = new Uint8Array(pageLen);
      try {
        const end = xbzrleDecode(bytes, page, { offset: 10 });
        assert.ok(end <= pageLen);
      } catch (e) {
        assert.ok(isVmsError(e), String(e));
        assert.equal(e.code, 'E_FORMAT');
        assert.ok(e.offset !== undefined && e.offset >= 10 && e.offset <= 10 + bytes.length);
      }
    }),
    { numRuns: 3000, seed: 7 },
  );
});

test('decode fuzz: mutated valid deltas never escape as other errors', () => {
  const oldPage = new Uint8Array(PAGE);
  const newPage = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i += 37) newPage[i] = 1 + (i & 0x7f);
  const enc = encodeToArray(oldPage, newPage) as Uint8Array;
  fc.assert(
    fc.property(fc.nat(enc.length - 1), fc.nat(255), fc.nat(enc.length), (pos, value, cut) => {
      const bad = enc.slice(0, cut);
      if (pos < bad.length) bad[pos] = value;
      try {
        assert.ok(xbzrleDecode(bad, oldPage.slice()) <= PAGE);
      } catch (e) {
        assert.ok(isVmsError(e) && e.code === 'E_FORMAT', String(e));
      }
    }),
    { numRuns: 2000, seed: 11 },
  );
});

test('encode speed: sparse changes go word-wise', (t) => {
  const pages = 2000;
  const oldPage = new Uint8Array(PAGE);
  const newPage = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i += 512) newPage[i + 3] = 1;
  const out = new Uint8Array(PAGE);
  // Best of 5, so a busy machine's scheduling noise does not decide the comparison.
  const time = (a: Uint8Array, b: Uint8Array): number => {
    let best = Infinity;
    for (let rep = 0; rep < 5; rep++) {
      const t0 = process.hrtime.bigint();
      for (let p = 0; p < pages; p++) xbzrleEncode(a, b, out);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return best;
  };
  const unaligned = new Uint8Array(2 * PAGE + 2);
  const oldOdd = unaligned.subarray(1, PAGE + 1);
  const newOdd = unaligned.subarray(PAGE + 1, 2 * PAGE + 1);
  oldOdd.set(oldPage);
  newOdd.set(newPage);
  time(oldPage, newPage); // warm up
  time(oldOdd, newOdd);
  const wordMs = time(oldPage, newPage);
  const byteMs = time(oldOdd, newOdd);
  const mibPerSec = (ms: number): string => ((pages * PAGE) / 1048576 / (ms / 1000)).toFixed(0);
  t.diagnostic(`aligned ${mibPerSec(wordMs)} MiB/s, unaligned (byte path) ${mibPerSec(byteMs)} MiB/s`);
  assert.equal(xbzrleEncode(oldPage, newPage, out), xbzrleEncode(oldOdd, newOdd, out));
  assert.ok(wordMs < byteMs, `word path (${wordMs} ms) should beat the byte path (${byteMs} ms)`);
});
