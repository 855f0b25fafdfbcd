/**
 * Long OCTET STRINGs in XER (HexLines): asn1c's layout for any length, indentation and read
 * pieces, checked against a plain string formatter; and a sink that stalls does not let a pooled
 * block be overwritten while the writer still holds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import type { ByteSink } from '../../src/channel/transport.js';
import { validateBer } from '../../src/asn1/validate/index.js';
import { HexLines } from '../../src/asn1/xer/hex-lines.js';
import { XerWriter } from '../../src/asn1/xer/writer.js';
import type { AsnType } from '../../src/asn1/types.js';
import { compileText, mustType } from './helpers.js';

const tlv = (tag: number, content: Uint8Array): Uint8Array => {
  const n = content.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : n < 65536 ? [0x82, n >> 8, n & 255] : [0x83, n >> 16, (n >> 8) & 255, n & 255];
  return Uint8Array.from([tag, ...len, ...content]);
};
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
/** Pseudo-random bytes, every byte value included. */
const bytes = (n: number, seed: number): Uint8Array => {
  let x = seed * 2654435761 + 1;
  return Uint8Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
};

/** asn1c's layout of a long OCTET STRING element whose hex lines are indented by `indent` spaces. */
function expected(name: string, b: Uint8Array, indent: number): string {
  let s = `<${name}>`;
  for (let i = 0; i < b.length; i += 16) {
    s += `\n${' '.repeat(indent)}`;
    for (const x of b.subarray(i, i + 16)) s += `${x.toString(16).toUpperCase().padStart(2, '0')} `;
  }
  return `${s}\n${' '.repeat(indent - 4)}</${name}>`;
}

async function xer(input: Uint8Array | ChannelReader, type: AsnType): Promise<string> {
  const sink = new MemorySink();
  const out = new ChannelWriter(sink);
  const w = new XerWriter(out);
  const r = await validateBer(input, type, { observer: w });
  assert.deepEqual(r.diagnostics, []);
  await w.finish();
  await out.close();
  return Buffer.from(sink.bytes()).toString('latin1');
}

const nested = mustType(
  compileText(`M DEFINITIONS IMPLICIT TAGS ::= BEGIN
    S ::= SEQUENCE { a OCTET STRING, b SEQUENCE { c SEQUENCE { d OCTET STRING } }, e OCTET STRING }
  END`),
  'S',
);

test('long OCTET STRINGs at three indentations, of lengths around line and block sizes, in any read pieces', async () => {
  // 4096 lines of 16 bytes make one block; lengths around it, around the 1024-byte threshold, and odd ones.
  for (const [na, nd, ne] of [[17, 1024, 1023], [65536, 65536 + 5, 3 * 65536 - 1], [1040, 200_003, 65536 * 2 + 16]] as const) {
    const a = bytes(na, 1);
    const d = bytes(nd, 2);
    const e = bytes(ne, 3);
    const ber = tlv(0x30, cat(tlv(0x04, a), tlv(0x30, tlv(0x30, tlv(0x04, d))), tlv(0x04, e)));
    const want = [
      '<S>',
      `    ${expected('a', a, 8)}`,
      '    <b>',
      '        <c>',
      `            ${expected('d', d, 16)}`,
      '        </c>',
      '    </b>',
      `    ${expected('e', e, 8)}`,
      '</S>',
      '',
    ].join('\n');
    assert.equal(await xer(ber, nested), want, `lengths ${na} ${nd} ${ne}, whole`);
    for (const piece of [777, 4099, 65536 + 3]) {
      const doc = await xer(new ChannelReader(new MemorySource(ber, piece), { bufferSize: 8192 }), nested);
      assert.equal(doc, want, `lengths ${na} ${nd} ${ne}, pieces of ${piece}`);
    }
  }
});

/** A sink that holds every write until `open()`. */
class GatedSink implements ByteSink {
  readonly inner = new MemorySink();
  private gate: Promise<void>;
  private release!: () => void;
  constructor() {
    this.gate = new Promise((r) => (this.release = r));
  }
  open(): void {
    this.release();
  }
  async write(chunk: Uint8Array): Promise<void> {
    await this.gate;
    await this.inner.write(chunk);
  }
  async close(): Promise<void> {}
  destroy(): void {}
}

for (const noWasm of [false, true]) {
  const engine = noWasm ? 'js' : 'wasm';

  test(`HexLines (${engine}): lines at indentations 4 to 400, from any input offset, as a plain formatter writes them`, async () => {
    const sink = new MemorySink();
    const out = new ChannelWriter(sink);
    const lines = new HexLines(out, { noWasm });
    assert.equal(lines.engine, engine);
    const input = bytes(9000 * 16 + 7, 4);
    let want = '';
    // Deep indentation means fewer lines per block; odd start offsets cover unaligned input.
    for (const [indent, from, n] of [[4, 0, 16], [8, 3, 4097 * 16], [400, 7, 1500 * 16], [12, 1, 9000 * 16]] as const) {
      lines.write(input, from, from + n, indent);
      want += expected('x', input.subarray(from, from + n), indent).slice(3, -(indent + 1));
    }
    await out.flushAll();
    assert.equal(Buffer.from(sink.bytes()).toString('latin1'), want);
  });

  test(`a stalled sink (${engine}): pooled blocks are not reused while queued (the rest is copied), output intact`, async () => {
    const sink = new GatedSink();
    const out = new ChannelWriter(sink);
    const lines = new HexLines(out, { noWasm });
    // At indentation 400 a block holds 729 lines: 40 blocks' worth in one go is more than the pool
    // holds; then more at another indentation.
    const input = bytes(40 * 729 * 16, 9);
    lines.write(input, 0, input.length, 400);
    const more = bytes(5 * 4096 * 16 + 64, 10);
    lines.write(more, 0, more.length, 8);
    sink.open();
    await out.flushAll();
    const text = Buffer.from(sink.inner.bytes()).toString('latin1');
    // The lines alone: expected() less its open tag and its closing line.
    const body = (b: Uint8Array, indent: number) => expected('x', b, indent).slice(3, -(indent + 1));
    assert.equal(text, body(input, 400) + body(more, 8));
  });
}
