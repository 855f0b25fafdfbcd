// Streams we rewrote or edited load into a real QEMU 7.2, and QEMU shows the edited values:
// EAX from `info registers`, the master PIC's IMR from `info pic`, a PCI interrupt line from
// `info pci`. Fails when QEMU is missing unless VMSTREAM_SKIP_INTEROP=1.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runConvert } from '../../src/cli/commands/convert.js';
import { collectInfo } from '../../src/cli/commands/info.js';
import { runDump } from '../../src/cli/commands/dump.js';
import { runEdit } from '../../src/cli/commands/edit.js';
import { loadFixture, readManifest } from '../../tools/qemu/fixtures.js';
import type { QemuHandle } from '../../tools/qemu/launch.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/qemu/', import.meta.url));
const skip = process.env['VMSTREAM_SKIP_INTEROP'] === '1' ? 'VMSTREAM_SKIP_INTEROP=1: real-QEMU interop tests skipped' : false;
const tmp = mkdtempSync(join(tmpdir(), 'vmstream-interop-streams-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const PIIX4_PM = '0000:00:01.3/piix4_pm';

async function readBack(q: QemuHandle): Promise<{ registers: string; pic: string; pci: string }> {
  const clean = (s: string): string => s.replace(/\r\n/g, '\n');
  return { registers: clean(await q.hmp('info registers')), pic: clean(await q.hmp('info pic')), pci: clean(await q.hmp('info pci')) };
}

describe('edited and rewritten streams load into QEMU 7.2', { skip }, () => {
  const manifest = readManifest(FIXTURES);
  it('has fixtures', () => assert.ok(manifest !== undefined && manifest.streams.length > 0));
  for (const entry of manifest?.streams ?? []) {
    it(`${entry.name}: edit (or rewrite) then load, and read the values back`, async () => {
      const input = join(FIXTURES, entry.file);
      const info = await collectInfo(new Uint8Array(readFileSync(input)));
      const out = join(tmp, `${entry.name}.mig`);
      const edits: string[] = [];
      if (info.trailer.present) {
        edits.push('cpu.env.regs[0]=0x1234abcd', 'i8259.imr=0x5a');
        if (info.sections.some((s) => s.name === PIIX4_PM)) edits.push(`${PIIX4_PM}.parent_obj.config[0]@60=9`);
        await runEdit(input, edits, out);
      } else {
        // No vmdesc: device sections are opaque, so only a rewrite is possible.
        await runConvert(input, { output: out, to: 'qemu' });
      }
      const r = await loadFixture(FIXTURES, entry, out, readBack);
      assert.equal(r.status, 'completed', r.error);
      if (edits.length === 0) return;
      const v = r.values!;
      assert.match(v.registers, /EAX=1234abcd/);
      assert.match(v.pic, /pic0: irr=[0-9a-f]+ imr=5a/);
      if (edits.length === 3) assert.match(v.pci, /function 3:\n(?:.*\n)*?\s+IRQ 9, pin A/);
    });
  }

  it('RAM we extract (XBZRLE deltas applied, CONTINUE across sections) equals what QEMU loaded', async () => {
    const entry = manifest!.streams.find((e) => e.name === 'xbzrle') ?? manifest!.streams[0]!;
    const dir = join(tmp, 'extract');
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write; // runDump prints the tree
    try {
      await runDump(join(FIXTURES, entry.file), { extract: dir });
    } finally {
      process.stdout.write = write;
    }
    const ours = readFileSync(join(dir, 'pc.ram'));
    const theirs = join(tmp, 'pmem.bin');
    // Above 1 MiB guest-physical addresses are pc.ram one to one (below, VGA and ROM windows overlay it).
    const from = 0x100000;
    const r = await loadFixture(FIXTURES, entry, undefined, async (q) => {
      const said = await q.hmp(`pmemsave ${from} ${ours.length - from} "${theirs}"`);
      assert.equal(said.trim(), '', said);
      return readFileSync(theirs);
    });
    assert.equal(r.status, 'completed', r.error);
    assert.equal(r.values!.length, ours.length - from);
    assert.ok(Buffer.compare(r.values!, ours.subarray(from)) === 0, 'extracted pc.ram differs from guest memory');
  });

  it('an edit that breaks a value QEMU checks makes QEMU refuse the stream', async () => {
    const entry = manifest!.streams.find((e) => e.name === 'pc-basic')!;
    const out = join(tmp, 'bad-version.mig');
    // PCIDevice.version_id is an "int32 le": QEMU requires it to be at most its own (2).
    await runEdit(join(FIXTURES, entry.file), [`${PIIX4_PM}.parent_obj.version_id=3`], out);
    const r = await loadFixture(FIXTURES, entry, out);
    assert.notEqual(r.status, 'completed');
  });
});
