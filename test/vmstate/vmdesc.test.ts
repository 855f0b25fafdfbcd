/** vmdesc descriptions of a save (spec §1.7), checked against QEMU's own trailer excerpts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { array, describeSave, int64, list, struct, uint16, uint32, uint64, uint8, unused, vmstate, vstruct, withTmp } from '../../src/vmstate/index.js';
import type { AnyVmsd, StateOf, VmdescFieldJson, VmdescStructJson } from '../../src/vmstate/index.js';
import { SAMPLE_DEVICES, generateMachine } from '../../src/sample/index.js';
import { saveBytes } from './helpers.js';

test("QEMU's timer section is described as in the §6 trailer", () => {
  const timer = vmstate({ name: 'timer', version: 2, fields: { cpu_ticks_offset: int64(), unused: unused(8), cpu_clock_offset: int64() } });
  const d = describeSave(timer, { cpu_ticks_offset: 1n, cpu_clock_offset: 2n });
  assert.equal(
    JSON.stringify(d),
    JSON.stringify({
      vmsd_name: 'timer',
      version: 2,
      fields: [
        { name: 'cpu_ticks_offset', type: 'int64', size: 8 },
        { name: 'unused', type: 'unused_buffer', size: 8 },
        { name: 'cpu_clock_offset', type: 'int64', size: 8 },
      ],
    }),
  );
});

test('compressible arrays describe element 0 with array_len; tmp and vstruct are inlined; structs nest', () => {
  const fpregTmp = vmstate({ name: 'fpreg_tmp', version: 0, fields: { tmp_mant: uint64(), tmp_exp: uint16() } });
  const inner = vmstate({ name: 'PCIDevice', version: 2, fields: { a: uint8() } });
  const cpu = vmstate({
    name: 'cpu',
    version: 12,
    fields: {
      'env.regs': array(uint64(), 16),
      tmp: withTmp(fpregTmp, { init: () => ({ tmp_mant: 0n, tmp_exp: 0 }), apply: (_t, p: object) => p }),
      dev: struct(inner),
      vdev: vstruct(inner, 1),
      q: list(inner),
    },
  });
  const st = { 'env.regs': Array.from({ length: 16 }, () => 0n), dev: { a: 1 }, vdev: { a: 2 }, q: [{ a: 1 }, { a: 2 }] };
  const d = describeSave(cpu, st);
  const byName = (n: string): VmdescFieldJson => d.fields.find((f) => f.name === n)!;
  assert.equal(JSON.stringify(byName('env.regs')), '{"name":"env.regs","array_len":16,"type":"uint64","size":8}');
  assert.equal(
    JSON.stringify(byName('tmp')),
    JSON.stringify({
      name: 'tmp',
      type: 'tmp',
      vmsd_name: 'fpreg_tmp',
      version: 0,
      fields: [
        { name: 'tmp_mant', type: 'uint64', size: 8 },
        { name: 'tmp_exp', type: 'uint16', size: 2 },
      ],
      size: 10,
    }),
  );
  assert.equal(JSON.stringify(byName('dev')), '{"name":"dev","type":"struct","struct":{"vmsd_name":"PCIDevice","version":2,"fields":[{"name":"a","type":"uint8","size":1}]},"size":1}');
  assert.equal(byName('vdev').type, 'vstruct');
  assert.equal(byName('vdev').version, 1);
  assert.equal(JSON.stringify(byName('q')), '{"name":"q","type":"qtailq","size":5}');
});

/** Bytes a description accounts for (array_len elements, every indexed one, subsection headers). */
function describedBytes(d: VmdescStructJson): number {
  let n = 0;
  for (const f of d.fields) n += f.size * (f.array_len ?? 1);
  for (const s of d.subsections ?? []) n += 1 + 1 + s.vmsd_name.length + 4 + describedBytes(s);
  return n;
}

test('the described sizes add up to the bytes saved (sample machine devices)', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const m = generateMachine(seed, { ramMiB: 1 });
    for (const dev of SAMPLE_DEVICES) {
      const desc: AnyVmsd = dev.desc;
      const state = m[dev.key] as StateOf<typeof desc>;
      const wire = await saveBytes(desc, state, false);
      const d = describeSave(desc, state);
      assert.equal(describedBytes(d), wire.length, `${dev.idstr} seed ${seed}`);
    }
  }
});

test('equal fields use QEMU info names, including the uint64 quirk', () => {
  const d = vmstate({ name: 'e', version: 1, fields: { a: uint32({ equal: true }), b: uint64({ equal: true }) } });
  assert.deepEqual(
    describeSave(d, { a: 1, b: 2n }).fields.map((f) => f.type),
    ['uint32 equal', 'int64 equal'],
  );
});
