/** Random and mutated inputs: the reader ends cleanly or throws a VmsError, never anything else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChannelReader, MemorySource } from '../../../src/channel/index.js';
import { isVmsError } from '../../../src/errors.js';
import { BerEventKind, BerReader } from '../../../src/format/ber/index.js';
import { checkX690 } from '../../../src/asn1/x690/index.js';
import { streamSource, unhex } from './support.js';

const SEED = unhex('30 80 02 01 05 24 80 04 02 aa bb 00 00 7f c6 50 06 02 02 10 00 04 00 1f 81 49 01 ff 00 00 0c 02 c3 a9');

/** Valid-looking inputs with a few bytes overwritten, inserted or cut. */
const arbInput = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc
    .array(fc.tuple(fc.nat(SEED.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })
    .map((edits) => {
      const b = SEED.slice();
      for (const [at, v] of edits) b[at] = v;
      return b;
    }),
  fc.nat(SEED.length).map((n) => SEED.subarray(0, n)),
);

/** Reads to the end; `piece` feeds it in pieces from a source that knows its size, or not when `unsized`. */
async function drain(bytes: Uint8Array, piece?: number, unsized = false): Promise<string> {
  const source = unsized ? streamSource(bytes, piece) : new MemorySource(bytes, piece);
  const ch = piece === undefined ? new ChannelReader(bytes) : new ChannelReader(source, { bufferSize: 16 });
  const r = new BerReader(ch, { maxDepth: 8 });
  let events = 0;
  try {
    for (;;) {
      const k = await r.read();
      if (k === BerEventKind.Done) return `done ${events}`;
      assert.ok(++events <= bytes.length * 2 + 2, 'more events than the input can hold');
    }
  } catch (e) {
    assert.ok(isVmsError(e), `not a VmsError: ${String(e)}`);
    assert.ok(e.offset !== undefined && e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} outside the input`);
    return `${e.code} @${e.offset}`;
  }
}

test('mutated and random inputs never throw anything but a VmsError, whole or in pieces', async () => {
  await fc.assert(
    fc.asyncProperty(arbInput, fc.integer({ min: 1, max: 5 }), async (bytes, piece) => {
      const whole = await drain(bytes);
      assert.equal(await drain(bytes, piece), whole, 'chunking changes nothing');
      // Without a known size, a length past the end is found later (at EOF or at the next bad
      // byte), so only the outcome's kind must match: clean end or a VmsError.
      assert.equal((await drain(bytes, piece, true)).startsWith('done'), whole.startsWith('done'));
    }),
    { numRuns: 400 },
  );
});

test('the X.690 check returns a report for any input', async () => {
  await fc.assert(
    fc.asyncProperty(arbInput, async (bytes) => {
      const r = await checkX690(bytes, { maxDepth: 8 });
      assert.equal(r.valid, r.errors === 0);
      for (const d of r.diagnostics) assert.ok(d.offset >= 0 && d.offset <= bytes.length);
    }),
    { numRuns: 400 },
  );
});
