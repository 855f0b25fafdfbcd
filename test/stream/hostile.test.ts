/**
 * Hostile input on real QEMU streams: truncation at every section boundary and at random
 * offsets, and random byte flips. Every failure must be our VmsError (never a TypeError,
 * a RangeError, a hang or a huge allocation); every truncation must fail. Seeded, so a
 * failure reproduces; bounded to a few seconds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isVmsError } from '../../src/errors.js';
import type { OutputVisitor } from '../../src/format/visitor.js';
import { readStream, type StreamVisitor } from '../../src/stream/index.js';
import { fixtureStreams, readFixture } from './fixtures.js';
import { goldenStream, pipe } from './golden.js';

/** A visitor that touches every value, so lazy bugs in field events would show. */
function consumer(): StreamVisitor {
  const fields: OutputVisitor = new Proxy({} as OutputVisitor, {
    get: (_t, k) => (k === 'offset' ? 0 : (...args: unknown[]) => void args.length),
  });
  let sum = 0;
  return {
    deviceFields: () => fields,
    ramPage: (p) => {
      sum += p.wire.length + (p.page?.[0] ?? 0);
    },
    end: () => void sum,
  };
}

/** Small cap on buffering: a length field that escaped its check would hit E_LIMIT here, not allocate gigabytes. */
const OPTIONS = { decodeXbzrle: true, decodeCompressed: true, reader: { maxBuffer: 8 << 20 }, maxDeviceTail: 8 << 20, maxFieldBytes: 1 << 20 };

async function outcome(bytes: Uint8Array, asPipe = false): Promise<'ok' | string> {
  try {
    await readStream(asPipe ? pipe(bytes, 1 << 16) : bytes, consumer(), OPTIONS);
    return 'ok';
  } catch (e) {
    if (isVmsError(e)) return e.code;
    throw e;
  }
}

/** Mulberry32: a tiny seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where the stream may legitimately end early: right after EOF (the trailer is optional). */
let trailerAt = -1;

/** Offsets where sections, footers, EOF and the trailer begin. */
async function boundaries(bytes: Uint8Array): Promise<number[]> {
  const at = new Set<number>([0, 4, 8]);
  trailerAt = -1;
  await readStream(
    bytes,
    {
      sectionStart: (h) => void at.add(h.offset),
      sectionEnd: (_h, e) => {
        at.add(e.payloadEnd);
        if (e.footer) at.add(e.payloadEnd + 5);
      },
      eof: (o) => void at.add(o),
      trailer: (t) => {
        at.add(t.offset);
        trailerAt = t.offset;
      },
    },
    { pageData: false },
  );
  return [...at].filter((o) => o < bytes.length).sort((a, b) => a - b);
}

const streams = [
  { name: 'golden', bytes: goldenStream().bytes },
  ...fixtureStreams()
    .filter((f) => ['pc-basic', 'pc-old', 'xbzrle', 'pc-ignore-shared'].includes(f.name))
    .map((f) => ({ name: f.name, bytes: readFixture(f) })),
];

describe('hostile input', () => {
  for (const s of streams) {
    it(`${s.name}: truncation at every section boundary (±1) fails with a VmsError`, async () => {
      const cuts = new Set<number>();
      for (const b of await boundaries(s.bytes)) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d < s.bytes.length) cuts.add(b + d);
      // A stream that stops right after EOF is complete (no trailer); QEMU loads it too.
      if (trailerAt >= 0) assert.equal(await outcome(s.bytes.subarray(0, trailerAt)), 'ok');
      cuts.delete(trailerAt);
      // Without footers or a trailer, nothing marks where device data ends: a cut stream whose
      // last byte is 00 looks exactly like one ending in EOF (see split.ts), so skip those.
      if (trailerAt < 0) for (const c of [...cuts]) if (s.bytes[c - 1] === 0x00) cuts.delete(c);
      for (const cut of cuts) {
        const r = await outcome(s.bytes.subarray(0, cut));
        assert.notEqual(r, 'ok', `a stream cut at ${cut} was accepted`);
      }
      // A few through a pipe too: the reader cannot see the end coming there.
      for (const cut of [...cuts].filter((_, i) => i % 15 === 0)) assert.notEqual(await outcome(s.bytes.subarray(0, cut), true), 'ok');
    });

    it(`${s.name}: truncation at random offsets fails with a VmsError`, async () => {
      const next = rng(s.bytes.length);
      for (let i = 0; i < 15; i++) {
        const cut = Math.floor(next() * s.bytes.length);
        assert.notEqual(await outcome(s.bytes.subarray(0, cut)), 'ok', `cut at ${cut}`);
      }
    });

    it(`${s.name}: random byte flips give a VmsError or a clean read`, async () => {
      const next = rng(0xc0ffee ^ s.bytes.length);
      const codes = new Map<string, number>();
      // Half of the flips land in the structured part (everything but the page data bulk).
      const marks = await boundaries(s.bytes);
      for (let i = 0; i < 40; i++) {
        const b = s.bytes.slice();
        const flips = 1 + Math.floor(next() * 3);
        for (let k = 0; k < flips; k++) {
          const near = marks[Math.floor(next() * marks.length)]!;
          const pos = i % 2 === 0 ? Math.min(b.length - 1, near + Math.floor(next() * 64)) : Math.floor(next() * b.length);
          b[pos] = b[pos]! ^ (1 << Math.floor(next() * 8));
        }
        const r = await outcome(b);
        codes.set(r, (codes.get(r) ?? 0) + 1);
      }
      assert.ok([...codes.keys()].some((k) => k !== 'ok'), 'no flip was detected at all');
    });
  }
});
