/**
 * Every QEMU fixture stream: byte-identical rewrites (from memory, a seekable source and a
 * pipe), a regenerated vmdesc equal to QEMU's, and `info` agreeing with the manifest that
 * tools/qemu-streams.ts wrote from its own independent RAM walk.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelWriter, MemorySink, MemorySource } from '../../src/channel/index.js';
import { collectInfo } from '../../src/cli/commands/info.js';
import { encodeVmdesc, readStream, StreamWriter, type Trailer } from '../../src/stream/index.js';
import { fixtureStreams, readFixture } from './fixtures.js';
import { pipe } from './golden.js';

const streams = fixtureStreams();

describe('QEMU fixture streams', () => {
  it('the fixture set is present', () => {
    assert.ok(streams.length >= 1, 'no streams under test/fixtures/qemu (run node dist/tools/qemu-streams.js)');
  });

  for (const f of streams) {
    describe(f.name, () => {
      const bytes = readFixture(f);

      for (const [label, make] of [
        ['memory', () => bytes],
        ['a seekable source', () => new MemorySource(bytes, 64 * 1024)],
        ['a pipe', () => pipe(bytes, 4000)],
      ] as const) {
        it(`rewrites byte for byte from ${label}`, async () => {
          const sink = new MemorySink();
          await readStream(make(), new StreamWriter(new ChannelWriter(sink)), { decodeXbzrle: true, decodeCompressed: true });
          assert.ok(Buffer.compare(sink.bytes(), bytes) === 0, 'rewrite differs');
        });
      }

      it("re-serialises the vmdesc exactly as QEMU's JSON writer did", async () => {
        let trailer: Trailer | undefined;
        await readStream(bytes, { trailer: (t) => void (trailer = { ...t, json: t.json.slice() }) }, { pageData: false });
        if (f.manifest !== undefined && f.manifest.ram.machine !== null && !f.manifest.machineArgs.some((a) => a.includes('2.2'))) {
          assert.ok(trailer !== undefined, 'a 7.2 machine stream has a trailer');
        }
        if (trailer !== undefined) assert.deepEqual(encodeVmdesc(trailer.vmdesc), trailer.json);
      });

      it('info from a pipe (trailer found by buffering device data) equals info from a file', async () => {
        assert.deepEqual(await collectInfo(pipe(bytes, 8192)), await collectInfo(bytes));
      });

      it('info agrees with the manifest and decodes every device it has a description for', async () => {
        const info = await collectInfo(bytes);
        assert.equal(info.bytes, bytes.length);
        const undescribed = info.sections.filter((s) => s.described === false).map((s) => s.name);
        if (info.trailer.present) {
          assert.deepEqual(undescribed, []);
          assert.equal(info.sections.filter((s) => s.kinds[0] === 'full').length, info.trailer.devices);
        } else {
          assert.ok(undescribed.length > 0);
        }
        const m = f.manifest;
        if (m === undefined) return;
        assert.equal(info.machine, m.ram.machine);
        assert.equal(info.footers, m.ram.footers);
        assert.deepEqual(
          info.ram!.blocks.map((b) => [b.name, Number(b.length)]),
          m.ram.blocks.map((b) => [b.name, Number(b.length)]),
        );
        const sum = (k: 'zeroPages' | 'normalPages' | 'xbzrlePages' | 'compressedPages'): number => info.ram!.blocks.reduce((n, b) => n + b[k], 0);
        assert.equal(sum('zeroPages'), m.ram.records['zero']);
        assert.equal(sum('normalPages'), m.ram.records['page']);
        assert.equal(sum('xbzrlePages'), m.ram.records['xbzrle']);
        assert.equal(sum('compressedPages'), m.ram.records['compressed']);
        assert.equal(info.sections.find((s) => s.name === 'ram')!.kinds.length, m.ram.records['sections']);
      });
    });
  }
});
