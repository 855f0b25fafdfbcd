/** Field edits on the golden stream: paths, value parsing, and sizes that never change. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelWriter, MemorySink } from '../../src/channel/index.js';
import { isVmsError } from '../../src/errors.js';
import type { OutputVisitor } from '../../src/format/visitor.js';
import { FieldEditor, matchSection, parseEdit, type FieldEdit } from '../../src/stream/edit.js';
import { readStream, StreamWriter, type SectionHeader } from '../../src/stream/index.js';
import { goldenStream } from './golden.js';

const { bytes, at } = goldenStream();

async function edit(...specs: string[]): Promise<{ out: Uint8Array; edits: FieldEdit[] }> {
  const edits: FieldEdit[] = [];
  class Editing extends StreamWriter {
    override deviceFields(h: SectionHeader): OutputVisitor {
      const mine = new Map<string, FieldEdit>();
      for (const spec of specs) {
        const { target, value } = parseEdit(spec);
        const path = matchSection(target, h);
        if (path === undefined) continue;
        const e: FieldEdit = { spec, section: h.idstr, path, value, applied: 0 };
        edits.push(e);
        mine.set(path, e);
      }
      return new FieldEditor(super.deviceFields(h), mine, h.idstr);
    }
  }
  const sink = new MemorySink();
  await readStream(bytes, new Editing(new ChannelWriter(sink)));
  return { out: sink.bytes(), edits };
}

/** The bytes that differ from the golden stream, as offset-within-device-data → value. */
function changes(out: Uint8Array): Record<number, number> {
  assert.equal(out.length, bytes.length);
  const d: Record<number, number> = {};
  for (let i = 0; i < out.length; i++) if (out[i] !== bytes[i]) d[i - at.deviceData!] = out[i]!;
  return d;
}

describe('field edits', () => {
  it('sets scalars, array elements, struct members, subsection fields and single buffer bytes', async () => {
    const { out, edits } = await edit(
      'dev0.x=0x01020304', //           bytes 0..3
      'dev0.regs[1]=0xabcd', //         bytes 6..7
      'dev0.flag=false', //             byte 8
      'dev0:0.inner.b=-1', //           byte 24 (instance given explicitly)
      'dev0.q[0]=7', //                 bytes 28..29 (was -2)
      'dev0.dev0/sub.y=0x100', //       subsection: be64 at 46..53 (after its 14-byte header; was 42)
      'dev0.odd@2=0x99', //             byte 27 of the opaque 3-byte field
    );
    assert.deepEqual(
      edits.map((e) => e.applied),
      [1, 1, 1, 1, 1, 1, 1],
    );
    assert.deepEqual(changes(out), { 0: 1, 1: 2, 2: 3, 3: 4, 6: 0xab, 7: 0xcd, 8: 0, 24: 0xff, 27: 0x99, 28: 0, 29: 7, 52: 1, 53: 0 });
  });

  it('refuses values that do not fit the field, naming the section and the path', async () => {
    for (const spec of ['dev0.regs[0]=65536', 'dev0.inner.b=128', 'dev0.x=-1', 'dev0.flag=maybe', 'dev0.odd=0102', 'dev0.x=12abc']) {
      const err = await edit(spec).catch((e: unknown) => e);
      assert.ok(isVmsError(err), spec);
      assert.equal(err.code, 'E_USAGE');
      assert.equal(err.path[0], 'section 3(dev0)');
    }
  });

  it('leaves the stream alone when no path matches, and matches idstrs that contain dots and colons', async () => {
    const { out, edits } = await edit('dev0.nothing=1', 'other.x=1');
    assert.deepEqual(changes(out), {});
    assert.deepEqual(edits.map((e) => e.applied), [0]);
    assert.equal(matchSection('0000:00:01.3/piix4_pm.parent_obj.config[0]@60', { idstr: '0000:00:01.3/piix4_pm', instance: 0 }), 'parent_obj.config[0]@60');
    assert.equal(matchSection('dma:1.x', { idstr: 'dma', instance: 1 }), 'x');
    assert.equal(matchSection('dma.x', { idstr: 'dma', instance: 1 }), undefined);
  });
});
