/**
 * The stream grammar on a hand-made golden stream that has every construct the reader
 * knows: configuration subsections, commands (with a PACKAGED blob), RAM START/PART/END
 * with CONTINUE carried across sections, ZERO/PAGE/XBZRLE/COMPRESS_PAGE records, x-ignore-shared
 * GPAs, footers, a device section decoded from the vmdesc, EOF and the trailer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelWriter, MemorySink, MemorySource } from '../../src/channel/index.js';
import { isVmsError } from '../../src/errors.js';
import type { OutputVisitor } from '../../src/format/visitor.js';
import { parseVmdesc, readStream, StreamWriter, type StreamVisitor } from '../../src/stream/index.js';
import { Bytes } from './build.js';
import { PAGE, PAGE2, VMDESC, Z, goldenStream, pipe } from './golden.js';

/** Records events as strings. */
function recorder(log: string[]): StreamVisitor {
  const fields: OutputVisitor = new Proxy({} as OutputVisitor, {
    get(_t, k) {
      if (k === 'offset') return 0;
      return (...args: unknown[]) => {
        log.push(
          `  ${String(k)}(${args
            .map((a) => (a instanceof Uint8Array ? `<${Buffer.from(a).toString('hex')}>` : typeof a === 'object' ? JSON.stringify(a) : String(a)))
            .join(',')})`,
        );
      };
    },
  });
  return {
    header: (h) => void log.push(`header v${h.version}`),
    configuration: (c) => void log.push(`config ${c.machine} ${c.subsections.map((s) => s.kind).join(',')}`),
    command: (c) => void log.push(`command ${c.name} ${JSON.stringify(c.detail)}`),
    packagedEnd: () => void log.push('packaged end'),
    sectionStart: (h) => void log.push(`${h.kind} ${h.id} ${h.idstr} v${h.version} d${h.depth}`),
    deviceFields: () => fields,
    ramBlocks: (l) => void log.push(`blocks ${l.total} ${l.blocks.map((x) => `${x.name}:${x.length}@${x.addr}`).join(' ')}`),
    ramPage: (p) =>
      void log.push(`page ${p.kind} ${p.block}+${p.offset} flags=${p.flags.toString(16)} wire=${p.wire.length} page=${p.page === undefined ? '-' : p.page.length}`),
    ramEos: (w) => void log.push(`eos ${w}`),
    sectionEnd: (h, e) => void log.push(`end ${h.id} footer=${e.footer}`),
    eof: (_o, d) => void log.push(`eof d${d}`),
    trailer: (t) => void log.push(`trailer ${t.vmdesc.devices.length}`),
    end: (n) => void log.push(`done ${n}`),
  };
}

describe('stream grammar (golden stream)', () => {
  const { bytes, at } = goldenStream();

  it('reports every item in order', async () => {
    const log: string[] = [];
    await readStream(bytes, recorder(log), { decodeXbzrle: true });
    assert.deepEqual(log, [
      'header v3',
      'config pc-t7 capabilities,uuid',
      'command PING {"value":1}',
      'command PACKAGED {"length":6}',
      'command POSTCOPY_LISTEN {}',
      'eof d1',
      'packaged end',
      'start 2 ram v4 d0',
      'blocks 12288 a:8192@1048576 b:4096@0',
      'eos 16',
      'end 2 footer=true',
      'part 2 ram v4 d0',
      'page page a+0 flags=8 wire=4096 page=4096',
      'eos 16',
      'end 2 footer=true',
      'end 2 ram v4 d0',
      'page xbzrle a+0 flags=60 wire=3 page=4096',
      'page zero b+0 flags=2 wire=0 page=-',
      `page compressed a+4096 flags=100 wire=${Z.length} page=4096`,
      'eos 16',
      'end 2 footer=true',
      'full 3 dev0 v1 d0',
      '  startStruct(dev0,{"vmsdName":"dev0","version":1})',
      '  uint32(x,3735928559)',
      '  startArray(regs,2)',
      '  uint16(regs,1)',
      '  uint16(regs,2)',
      '  endArray()',
      '  bool(flag,true)',
      '  unused(unused,2)',
      '  int64(when,-1)',
      '  nullPointer(p)',
      '  int32(le,7)',
      '  startStruct(inner,{"vmsdName":"inner","version":3})',
      '  int8(b,-2)',
      '  endStruct()',
      '  opaque(odd,fancy info,<010203>)',
      '  startArray(q,2)',
      '  int16(q,-2)',
      '  int16(q,5)',
      '  endArray()',
      '  startSubsection(dev0/sub,2)',
      '  int64(y,42)',
      '  endSubsection()',
      '  endStruct()',
      'end 3 footer=true',
      'eof d0',
      'trailer 1',
      `done ${bytes.length}`,
    ]);
  });

  it('decodes XBZRLE against its own copy and inflates compressed pages', async () => {
    const pages: Uint8Array[] = [];
    await readStream(bytes, { ramPage: (p) => void (p.page !== undefined && p.kind !== 'page' && pages.push(p.page.slice())) }, { decodeXbzrle: true });
    const expected = PAGE.slice();
    expected[16] = 0xaa;
    assert.deepEqual(pages[0], expected);
    assert.deepEqual(pages[1], PAGE2);
  });

  it('keeps XBZRLE and compressed pages encoded unless asked', async () => {
    const kinds: string[] = [];
    await readStream(bytes, { ramPage: (p) => void kinds.push(`${p.kind}:${p.page === undefined ? 'enc' : 'dec'}`) });
    assert.deepEqual(kinds, ['page:dec', 'xbzrle:enc', 'zero:enc', 'compressed:enc']);
  });

  for (const [label, make] of [
    ['bytes in memory', () => bytes],
    ['a seekable source in 7-byte pieces', () => new MemorySource(bytes, 7)],
    ['a pipe in 3-byte pieces', () => pipe(bytes, 3)],
  ] as const) {
    it(`rewrites byte for byte from ${label}`, async () => {
      const sink = new MemorySink();
      await readStream(make(), new StreamWriter(new ChannelWriter(sink)));
      assert.deepEqual(sink.bytes(), bytes);
    });
  }

  it('regenerates the vmdesc with QEMU separators', async () => {
    const sink = new MemorySink();
    await readStream(bytes, new StreamWriter(new ChannelWriter(sink), { regenerateVmdesc: true }));
    assert.deepEqual(sink.bytes(), bytes);
  });

  it('carries the CONTINUE block across sections and fails without one', async () => {
    // Make the PART's first record CONTINUE (no block named before it): 0x08 -> 0x28 and drop the name.
    const b = bytes.slice();
    b[at.firstPage! + 7] = 0x28;
    const err = await readStream(b, {}).catch((e: unknown) => e);
    assert.ok(isVmsError(err));
    assert.equal(err.code, 'E_FORMAT');
    assert.equal(err.offset, at.firstPage);
    assert.match(String(err.path[0]), /^section 2\(ram\)$/);
  });

  const cases: [string, (b: Uint8Array) => void, string, (a: Record<string, number>) => number | undefined][] = [
    ['bad magic', (b) => void (b[0] = 0x52), 'E_FORMAT', () => 0],
    ['v2 stream', (b) => void (b[7] = 2), 'E_VERSION', () => 4],
    ['unknown section type', (b) => void (b[at.ramPart!] = 0x09), 'E_FORMAT', (a) => a.ramPart],
    ['PART of a section never started', (b) => void (b[at.ramPart! + 4] = 9), 'E_FORMAT', (a) => a.ramPart! + 1],
    ['footer naming another section', (b) => void (b[at.partFooter! + 4] = 3), 'E_MISMATCH', (a) => a.partFooter! + 1],
    ['unknown RAM flags', (b) => void (b[at.firstPage! + 6] = 0x02), 'E_FORMAT', (a) => a.firstPage],
    ['unknown RAM block', (b) => void (b[at.firstPage! + 9] = 0x7a), 'E_UNKNOWN', (a) => a.firstPage! + 8],
    ['RAM page past its block', (b) => void (b[at.firstPage! + 5] = 0x20), 'E_FORMAT', (a) => a.firstPage],
    ['XBZRLE length above a page', (b) => void (b[at.xbzrle! + 9] = 0x20), 'E_FORMAT', (a) => a.xbzrle],
    ['missing subsection', (b) => void (b[at.eof! - 5 - 8 - 4 - 8 - 1 - 1] = 0x06), 'E_FORMAT', (a) => a.eof! - 5 - 8 - 4 - 8 - 1 - 1],
  ];
  for (const [name, mutate, code, where] of cases) {
    it(`rejects ${name} with ${code} at the right offset`, async () => {
      const b = bytes.slice();
      mutate(b);
      const err = await readStream(b, {}).catch((e: unknown) => e);
      assert.ok(isVmsError(err), `not a VmsError: ${String(err)}`);
      assert.equal(err.code, code, err.message);
      const off = where(at);
      if (off !== undefined) assert.equal(err.offset, off, err.message);
    });
  }

  it('names the device field when a device section is cut short (vmdesc given)', async () => {
    const vmdesc = parseVmdesc(new TextEncoder().encode(VMDESC));
    const err = await readStream(bytes.subarray(0, at.deviceData! + 7), {}, { vmdesc }).catch((e: unknown) => e);
    assert.ok(isVmsError(err));
    assert.equal(err.code, 'E_TRUNCATED');
    assert.deepEqual(err.path, ['section 3(dev0)', 'regs']);
  });

  it('reports a stream cut inside device data (no trailer to describe it) as truncated', async () => {
    for (const cut of [at.deviceData! + 10, at.eof! - 3, at.eof!]) {
      const err = await readStream(bytes.subarray(0, cut), {}).catch((e: unknown) => e);
      assert.ok(isVmsError(err));
      assert.equal(err.code, 'E_TRUNCATED', err.message);
    }
  });

  it('rejects bytes after the trailer', async () => {
    const b = new Uint8Array(bytes.length + 1);
    b.set(bytes);
    b[bytes.length] = 0x07;
    const err = await readStream(b, {}).catch((e: unknown) => e);
    assert.ok(isVmsError(err));
    assert.equal(err.code, 'E_FORMAT');
    assert.equal(err.offset, bytes.length);
  });

  it('splits a device section it has no description for (no trailer) and keeps it opaque', async () => {
    const noTrailer = bytes.subarray(0, at.trailer!);
    const opaque: number[] = [];
    const log: string[] = [];
    const v = recorder(log);
    v.deviceFields = () =>
      new Proxy({} as OutputVisitor, {
        get: (_t, k) => (k === 'opaque' ? (_n: string, _ty: string, b: Uint8Array) => void opaque.push(b.length) : () => undefined),
      });
    await readStream(noTrailer, v);
    assert.deepEqual(opaque, [at.eof! - 5 - at.deviceData!]);
    const sink = new MemorySink();
    await readStream(pipe(noTrailer, 5), new StreamWriter(new ChannelWriter(sink)));
    assert.deepEqual(sink.bytes(), noTrailer);
  });

  it('reads postcopy block page sizes after POSTCOPY_ADVISE, and none without it', async () => {
    const make = (advise: boolean): Uint8Array => {
      const b = new Bytes().u32(0x5145564d).u32(3);
      if (advise) b.u8(0x08).u16(3).u16(16).u64(0x201000n).u64(0x1000n); // POSTCOPY_ADVISE, host and target page sizes
      b.u8(0x01).u32(2).counted('ram').u32(0).u32(4).u64(0x201000n | 4n);
      b.counted('huge').u64(0x200000n);
      if (advise) b.u64(0x200000n); //                                       2 MiB pages: differs from the host's
      b.counted('small').u64(0x1000n); //                                    host-sized pages: no page size
      b.u64(0x10n).u8(0x7e).u32(2).u8(0x00);
      return b.build();
    };
    for (const advise of [true, false]) {
      const lists: string[] = [];
      const bytes = make(advise);
      await readStream(bytes, { ramBlocks: (l) => void lists.push(l.blocks.map((x) => `${x.name}:${x.pageSize ?? '-'}`).join(' ')) });
      assert.deepEqual(lists, [advise ? 'huge:2097152 small:-' : 'huge:- small:-']);
      const sink = new MemorySink();
      await readStream(bytes, new StreamWriter(new ChannelWriter(sink)));
      assert.deepEqual(sink.bytes(), bytes);
    }
  });
});
