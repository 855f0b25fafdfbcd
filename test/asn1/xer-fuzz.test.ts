/**
 * Mutated BER of every type the XER writer renders its own way (ANY, BIT STRING, REAL, BMP and
 * Universal strings, hex-written strings): validation with the XER writer attached never throws,
 * names offsets inside the input, and gives the same document and findings whatever the read
 * pieces (the walker and writer carry state across pieces: characters, unused bits, ANY headers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import { BerWriter, UniversalTag } from '../../src/format/ber/writer.js';
import { TagClass, Universal, berTag, universalTag } from '../../src/format/ber/tag.js';
import { loadSchema, validateBer } from '../../src/asn1/validate/index.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import { fixturePath } from './helpers.js';

const values = loadSchema([fixturePath('XerTypes.asn')], 'Values').type;

async function sample(): Promise<Uint8Array> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new BerWriter(out);
  const ctx = (n: number) => berTag(TagClass.Context, n);
  w.startIndefinite(UniversalTag.Sequence);
  w.real(0.1).real(-Infinity).bitString(Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5]), 3).bitString(Uint8Array.of(0x64), 2, ctx(0));
  w.primitive(universalTag(Universal.BMPString), Uint8Array.from(Buffer.from('Aé€😀<', 'utf16le').swap16()));
  w.primitive(universalTag(Universal.UniversalString), Uint8Array.from([0, 0, 0, 0x41, 0, 1, 0xf6, 0]));
  w.primitive(universalTag(Universal.TeletexString), Uint8Array.from(Buffer.from('teletex text of twenty')));
  w.startIndefinite(ctx(1)).startDefinite(UniversalTag.Sequence, 6).integer(1).boolean(true).end().end();
  w.startIndefinite(ctx(2)).oid('2.5.4.3').utf8String('x').end();
  w.end();
  await out.close();
  return sink.bytes();
}

async function run(input: Uint8Array, piece: number): Promise<{ xer: string; findings: string[] }> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const xer = new XerWriter(out);
  const r = await validateBer(new ChannelReader(new MemorySource(input, piece), { bufferSize: 64 }), values, { observer: xer });
  await xer.finish();
  await out.close();
  for (const d of r.diagnostics) assert.ok(d.offset >= 0 && d.offset <= input.length, `${d.code} at ${d.offset} of ${input.length}`);
  return { xer: Buffer.from(sink.bytes()).toString('utf8'), findings: r.diagnostics.map((d) => `${d.severity} ${d.code} @${d.offset}`) };
}

test('mutated BER: no throw, offsets inside the input, same XER and findings for any read pieces', async () => {
  const base = await sample();
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 97 }),
      async (edits, piece) => {
        const bytes = [...base];
        for (const [at, value, how] of edits) {
          const p = at % (bytes.length + 1);
          if (how === 'set' && p < bytes.length) bytes[p] = value;
          else if (how === 'insert') bytes.splice(p, 0, value);
          else bytes.splice(p, 1);
        }
        const input = Uint8Array.from(bytes);
        const whole = await run(input, Number.MAX_SAFE_INTEGER);
        const pieces = await run(input, piece);
        assert.deepEqual(pieces.findings, whole.findings);
        assert.equal(pieces.xer, whole.xer);
      },
    ),
    { numRuns: 300, seed: 20261126 },
  );
});
