/**
 * --descriptions: the trailer-less pc-old stream (pc-i440fx-2.2) decoded with descriptions
 * from elsewhere: pc-basic's trailer as a vmdesc JSON, the pc-basic stream itself, and a
 * -dump-vmstate dump made by QEMU at test time. Descriptions that do not fit leave the
 * section opaque with a note; rewrites stay byte-identical; an edit loads into QEMU 7.2.
 * The QEMU parts fail when QEMU is missing unless VMSTREAM_SKIP_INTEROP=1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runConvert } from '../../src/cli/commands/convert.js';
import { runEdit } from '../../src/cli/commands/edit.js';
import { collectInfo, type StreamInfo } from '../../src/cli/commands/info.js';
import { isVmsError } from '../../src/errors.js';
import { parseDescriptions, readDescriptionsFile, type Descriptions } from '../../src/stream/descriptions.js';
import type { SectionHeader } from '../../src/stream/events.js';
import { readStream } from '../../src/stream/reader.js';
import { locateTrailer } from '../../src/stream/trailer.js';
import { parseVmdesc, type Vmdesc } from '../../src/stream/vmdesc.js';
import { FieldTreeBuilder, type FieldNode } from '../../src/cli/commands/dump.js';
import { loadFixture, readManifest } from '../../tools/qemu/fixtures.js';
import { QEMU_BINARY } from '../../tools/qemu/launch.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/qemu/', import.meta.url));
const OLD = join(FIXTURES, 'pc-old.mig');
const BASIC = join(FIXTURES, 'pc-basic.mig');
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const skipQemu = process.env['VMSTREAM_SKIP_INTEROP'] === '1' ? 'VMSTREAM_SKIP_INTEROP=1: real-QEMU interop tests skipped' : false;
const tmp = mkdtempSync(join(tmpdir(), 'vmstream-descriptions-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const oldBytes = new Uint8Array(readFileSync(OLD));
/** Device sections of pc-old (everything but RAM). */
const DEVICE_SECTIONS = 28;

function basicVmdesc(): { json: Uint8Array; vmdesc: Vmdesc } {
  const b = new Uint8Array(readFileSync(BASIC));
  const loc = locateTrailer(b, 0)!;
  const json = b.subarray(loc.jsonOffset, loc.jsonOffset + loc.length);
  return { json, vmdesc: parseVmdesc(json) };
}

/** Writes a vmdesc JSON file and returns its path. */
function writeVmdesc(name: string, v: Vmdesc): string {
  const p = join(tmp, name);
  writeFileSync(p, JSON.stringify(v));
  return p;
}

function section(info: StreamInfo, name: string, instance = 0): NonNullable<StreamInfo['sections'][number]> {
  const s = info.sections.find((x) => x.name === name && x.instance === instance);
  assert.ok(s !== undefined, `no section ${name}:${instance}`);
  return s;
}

/** The field tree of one section of `bytes`, decoded with `descs`. */
async function fieldsOf(bytes: Uint8Array, descs: Descriptions, idstr: string, instance = 0): Promise<FieldNode | undefined> {
  const tree = new FieldTreeBuilder();
  let found: FieldNode | undefined;
  await readStream(
    bytes,
    {
      deviceFields: (h: SectionHeader) => (h.idstr === idstr && h.instance === instance ? tree : undefined),
      sectionEnd: (h: SectionHeader) => {
        if (h.idstr === idstr && h.instance === instance) found = tree.root;
      },
    },
    { descriptions: descs, pageData: false },
  );
  return found;
}

function child(n: FieldNode | undefined, name: string): FieldNode {
  const c = n?.children?.find((x) => x.name === name);
  assert.ok(c !== undefined, `no field ${name} in ${n?.name}`);
  return c;
}

describe('descriptions from a 7.2 stream decode the trailer-less pc-old stream', () => {
  it('(a) the trailer of pc-basic, extracted to a vmdesc JSON', async () => {
    const file = join(tmp, 'pc-basic.vmdesc.json');
    writeFileSync(file, basicVmdesc().json);
    const descs = await readDescriptionsFile(file);
    assert.equal(descs.kind, 'vmdesc');
    assert.equal(descs.typesGuessed, false);
    const info = await collectInfo(oldBytes, { descriptions: descs });
    assert.equal(info.trailer.present, false);
    assert.deepEqual(
      { tried: info.descriptions?.tried, decoded: info.descriptions?.decoded },
      { tried: DEVICE_SECTIONS, decoded: DEVICE_SECTIONS - 1 },
    );
    assert.equal(section(info, 'cpu').described, true);
    assert.match(section(info, 'cpu').descriptions!.note, /decoded by vmdesc description \(cpu:0\)/);
    // pc-i440fx-2.2's PIIX4 PM state differs from 7.2's: it must stay opaque, and say why.
    const pm = section(info, '0000:00:01.3/piix4_pm');
    assert.equal(pm.described, false);
    assert.equal(pm.descriptions?.decoded, false);
    assert.match(pm.descriptions!.note, /do not fit: piix4_pm: .*at byte \d+/);
  });

  it('(b) the pc-basic stream file itself (its trailer is taken)', async () => {
    const descs = await readDescriptionsFile(BASIC);
    assert.equal(descs.kind, 'stream');
    assert.equal(descs.count, basicVmdesc().vmdesc.devices.length);
    const info = await collectInfo(oldBytes, { descriptions: descs });
    assert.equal(info.descriptions?.decoded, DEVICE_SECTIONS - 1);
    // Values come out named: the master PIC's mask and the CPU's registers.
    const pic = await fieldsOf(oldBytes, descs, 'i8259', 0);
    assert.equal(child(pic, 'imr').type, 'uint8');
    const cpu = await fieldsOf(oldBytes, descs, 'cpu', 0);
    const regs = child(cpu, 'env.regs');
    assert.equal(regs.type, 'array[16]');
  });

  it('matches by VMSD name and version when the idstr differs (another PCI slot)', async () => {
    const moved = basicVmdesc().vmdesc;
    const devices = moved.devices.map((d) => (d.name === '0000:00:00.0/I440FX' ? { ...d, name: '0000:00:05.0/I440FX' } : d));
    const file = writeVmdesc('moved.json', { page_size: moved.page_size, devices });
    const info = await collectInfo(oldBytes, { descriptions: await readDescriptionsFile(file) });
    const host = section(info, '0000:00:00.0/I440FX');
    assert.equal(host.described, true);
    assert.match(host.descriptions!.note, /\(VMSD I440FX v3\)/);
  });

  it('works on a pipe too (stdin)', () => {
    const r = spawnSync(process.execPath, [CLI, 'info', '--json', '-', '--descriptions', BASIC], { input: oldBytes, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.toString());
    const j = JSON.parse(r.stdout.toString()) as StreamInfo;
    assert.equal(j.descriptions?.decoded, DEVICE_SECTIONS - 1);
  });

  it('a section the stream itself describes keeps its own description', async () => {
    const descs = parseDescriptions(basicVmdesc().json, 'pc-basic trailer');
    let tried = 0;
    await readStream(new Uint8Array(readFileSync(BASIC)), {}, { descriptions: descs, pageData: false, onDescription: () => void tried++ });
    assert.equal(tried, 0);
  });
});

describe('descriptions that do not fit leave the section opaque with a note', () => {
  const base = basicVmdesc().vmdesc;
  const edit = (idstr: string, change: (d: Record<string, unknown>) => void): Vmdesc => {
    const copy = structuredClone(base) as unknown as { page_size: number; devices: Record<string, unknown>[] };
    for (const d of copy.devices) if (d['name'] === idstr) change(d);
    return copy as unknown as Vmdesc;
  };

  it('wrong version', async () => {
    const file = writeVmdesc('wrong-version.json', edit('timer', (d) => void (d['version'] = 3)));
    const info = await collectInfo(oldBytes, { descriptions: await readDescriptionsFile(file) });
    const timer = section(info, 'timer');
    assert.equal(timer.described, false);
    assert.match(timer.descriptions!.note, /timer: version 2 is not 3/);
    assert.equal(info.descriptions?.decoded, DEVICE_SECTIONS - 2);
  });

  it('wrong sizes (fewer bytes than the section, then more)', async () => {
    const shrink = writeVmdesc(
      'short-field.json',
      edit('timer', (d) => {
        (d['fields'] as Record<string, unknown>[])[0]!['size'] = 4;
        (d['fields'] as Record<string, unknown>[])[0]!['type'] = 'int32';
      }),
    );
    let info = await collectInfo(oldBytes, { descriptions: await readDescriptionsFile(shrink) });
    assert.equal(section(info, 'timer').described, false);
    assert.match(section(info, 'timer').descriptions!.note, /reads 20 of the section's 24 bytes/);
    const grow = writeVmdesc('long-field.json', edit('timer', (d) => void ((d['fields'] as Record<string, unknown>[])[1]!['size'] = 4096)));
    info = await collectInfo(oldBytes, { descriptions: await readDescriptionsFile(grow) });
    assert.equal(section(info, 'timer').described, false);
    assert.match(section(info, 'timer').descriptions!.note, /the section's 24 bytes end inside unused at byte \d+/);
    // The other sections are unaffected, and the walk itself did not fail.
    assert.equal(section(info, 'cpu').described, true);
  });

  it('a subsection on the wire that the description lacks', async () => {
    // pc-old's cpu sends subsections; a description without them cannot account for them.
    const file = writeVmdesc('no-subsections.json', edit('cpu', (d) => void delete d['subsections']));
    const info = await collectInfo(oldBytes, { descriptions: await readDescriptionsFile(file) });
    assert.equal(section(info, 'cpu').described, false);
    assert.match(section(info, 'cpu').descriptions!.note, /subsection cpu\/\S+ is not in the description/);
  });

  it('no description of the device at all', async () => {
    const file = writeVmdesc('only-timer.json', { page_size: 4096, devices: base.devices.filter((d) => d.name === 'timer') });
    const info = await collectInfo(oldBytes, { descriptions: await readDescriptionsFile(file) });
    assert.equal(info.descriptions?.decoded, 1);
    assert.match(section(info, 'fdc').descriptions!.note, /no description of "fdc"/);
  });

  it('a malformed stream still throws a VmsError', async () => {
    const descs = parseDescriptions(basicVmdesc().json, 'pc-basic trailer');
    // Cut inside acpi_build/globalstate (a cut right after a 0x00 byte would look like EOF: split.ts's limit).
    const cut = oldBytes.subarray(0, oldBytes.length - 100);
    await assert.rejects(readStream(cut, {}, { descriptions: descs, pageData: false }), (e: unknown) => isVmsError(e) && e.code === 'E_TRUNCATED');
  });
});

describe('loading descriptions files', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(isVmsError(e), String(e));
      return e.code;
    }
    return 'no error';
  };
  it('refuses what is none of the three forms, naming why', () => {
    assert.equal(code(() => parseDescriptions(new TextEncoder().encode('not json'), 'x')), 'E_DESCRIPTION');
    assert.equal(code(() => parseDescriptions(new TextEncoder().encode('[1, 2]'), 'x')), 'E_DESCRIPTION');
    assert.equal(code(() => parseDescriptions(oldBytes, 'pc-old.mig')), 'E_DESCRIPTION'); // a stream with no trailer
    assert.equal(code(() => parseDescriptions(new TextEncoder().encode('{"page_size": 4096, "devices": [{"name": 1}]}'), 'x')), 'E_FORMAT');
  });
  it('checks the shape of a -dump-vmstate JSON and names the path', () => {
    const bad = { vmschkmachine: { Name: 'pc' }, dev: { Description: { name: 'dev', version_id: 1, minimum_version_id: 1, Fields: [{ field: 'a', version_id: 0, size: -1 }] } } };
    try {
      parseDescriptions(new TextEncoder().encode(JSON.stringify(bad)), 'd.json');
      assert.fail('accepted a negative size');
    } catch (e) {
      assert.ok(isVmsError(e));
      assert.equal(e.code, 'E_DESCRIPTION');
      assert.deepEqual(e.path, ['d.json', 'dev', 'Description', 'Fields', 0, 'size']);
    }
    const deep: Record<string, unknown> = { name: 'x', version_id: 1, minimum_version_id: 1 };
    let at = deep;
    for (let i = 0; i < 100; i++) {
      const next: Record<string, unknown> = { name: 'x', version_id: 1, minimum_version_id: 1 };
      at['Fields'] = [{ field: 'f', version_id: 0, size: 8, Description: next }];
      at = next;
    }
    assert.equal(code(() => parseDescriptions(new TextEncoder().encode(JSON.stringify({ x: { Description: deep } })), 'deep.json')), 'E_DESCRIPTION');
  });
  it('guesses types from -dump-vmstate C sizes and honours field versions', async () => {
    // A hand-made dump of i8259 as QEMU 7.2 prints it (field names, versions, C sizes).
    const fields = ['last_irr', 'irr', 'imr', 'isr', 'priority_add', 'irq_base', 'read_reg_select', 'poll', 'special_mask', 'init_state', 'auto_eoi', 'rotate_on_auto_eoi', 'special_fully_nested_mode', 'init4', 'single_mode', 'elcr'];
    const dump = {
      vmschkmachine: { Name: 'pc-i440fx-2.2' },
      'isa-i8259': {
        Name: 'i8259',
        version_id: 1,
        minimum_version_id: 1,
        Description: {
          name: 'i8259',
          version_id: 1,
          minimum_version_id: 1,
          Fields: [
            { field: 'parent_obj', version_id: 0, field_exists: false, size: 0 },
            ...fields.map((f) => ({ field: f, version_id: 0, field_exists: false, size: 1 })),
            { field: 'future', version_id: 2, field_exists: false, size: 4 },
          ],
          Subsections: [],
        },
      },
    };
    const descs = parseDescriptions(new TextEncoder().encode(JSON.stringify(dump)), 'i8259.json');
    assert.equal(descs.typesGuessed, true);
    const info = await collectInfo(oldBytes, { descriptions: descs });
    assert.equal(section(info, 'i8259', 1).described, true);
    assert.match(section(info, 'i8259', 1).descriptions!.note, /types guessed from C sizes/);
    const pic = await fieldsOf(oldBytes, descs, 'i8259', 0);
    assert.equal(child(pic, 'imr').type, 'uint8');
    assert.equal(pic?.children?.some((c) => c.name === 'future'), false);
  });
});

describe('rewrites of a stream decoded by descriptions', () => {
  it('convert --to qemu is byte-identical; through BER and back too, with named fields in the BER', async () => {
    const out = join(tmp, 'old-rewritten.mig');
    await runConvert(OLD, { output: out, to: 'qemu', descriptions: BASIC });
    assert.deepEqual(new Uint8Array(readFileSync(out)), oldBytes);
    const ber = join(tmp, 'old.ber');
    await runConvert(OLD, { output: ber, to: 'ber', descriptions: BASIC });
    assert.ok(Buffer.from(readFileSync(ber)).includes(Buffer.from('env.regs')), 'BER names the cpu fields');
    const back = join(tmp, 'old-back.mig');
    await runConvert(ber, { output: back, to: 'qemu' });
    assert.deepEqual(new Uint8Array(readFileSync(back)), oldBytes);
  });

  it('dump --json carries a note per section and the decoded fields', () => {
    const r = spawnSync(process.execPath, [CLI, 'dump', '--json', OLD, '--descriptions', BASIC], { maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.toString());
    const j = JSON.parse(r.stdout.toString()) as { items: { item: string; name?: string; descriptions?: { decoded: boolean; note: string }; fields?: FieldNode }[] };
    const secs = j.items.filter((x) => x.item === 'section' && x.name !== 'ram');
    assert.equal(secs.length, DEVICE_SECTIONS);
    assert.equal(secs.filter((s) => s.descriptions?.decoded === true).length, DEVICE_SECTIONS - 1);
    const pic = secs.find((s) => s.name === 'i8259')!;
    assert.ok(pic.fields?.children?.some((c) => c.name === 'imr'));
    const text = spawnSync(process.execPath, [CLI, 'info', OLD, '--descriptions', BASIC]).stdout.toString();
    assert.match(text, /descriptions: .*: 27 of 28 undescribed device sections decoded/);
  });

  it('edit changes a field decoded by description, and only its bytes', async () => {
    const out = join(tmp, 'old-edited.mig');
    await runEdit(OLD, ['i8259.imr=0x5a'], out, { descriptions: BASIC });
    const edited = new Uint8Array(readFileSync(out));
    assert.equal(edited.length, oldBytes.length);
    const diff = [...edited.keys()].filter((i) => edited[i] !== oldBytes[i]);
    assert.equal(diff.length, 1);
    assert.equal(edited[diff[0]!], 0x5a);
    const pic = await fieldsOf(edited, await readDescriptionsFile(BASIC), 'i8259', 0);
    assert.equal(child(pic, 'imr').value, 0x5a);
  });
});

describe('with a real QEMU 7.2', { skip: skipQemu }, () => {
  it('(c) a -dump-vmstate of pc-i440fx-2.2 made now decodes some pc-old sections, with guessed types', async () => {
    const file = join(tmp, 'dump-vmstate.json');
    const r = spawnSync(QEMU_BINARY, ['-M', 'pc-i440fx-2.2', '-dump-vmstate', file, '-display', 'none', '-nodefaults'], { timeout: 60_000 });
    assert.equal(r.status, 0, `${QEMU_BINARY} -dump-vmstate failed (install QEMU or set VMSTREAM_SKIP_INTEROP=1): ${r.error?.message ?? r.stderr?.toString()}`);
    const descs = await readDescriptionsFile(file);
    assert.equal(descs.kind, 'dump-vmstate');
    const info = await collectInfo(oldBytes, { descriptions: descs });
    const decoded = info.sections.filter((s) => s.descriptions?.decoded === true).map((s) => `${s.name}:${s.instance}`);
    // QEMU 7.2.22: fw_cfg, i8259 ×2, mc146818rtc, ps2kbd, ps2mouse, pckbd, port92 (8 of 28).
    assert.ok(decoded.length >= 6, `decoded only ${decoded.join(', ')}`);
    for (const s of ['i8259:0', 'i8259:1', 'mc146818rtc:0', 'port92:0']) assert.ok(decoded.includes(s), `${s} not decoded`);
    // Non-qdev sections are not in such a dump: they stay opaque and say so.
    assert.match(section(info, 'timer').descriptions!.note, /no description of "timer"/);
    // And the rewrite stays byte-identical.
    const out = join(tmp, 'old-dump-rewritten.mig');
    await runConvert(OLD, { output: out, to: 'qemu', descriptions: file });
    assert.deepEqual(new Uint8Array(readFileSync(out)), oldBytes);
  });

  it('an edit of pc-old decoded by descriptions loads into QEMU 7.2 with -M pc-i440fx-2.2', async () => {
    const entry = readManifest(FIXTURES)?.streams.find((s) => s.name === 'pc-old');
    assert.ok(entry !== undefined, 'pc-old is in the manifest');
    assert.ok(entry.machineArgs.includes('pc-i440fx-2.2'));
    const out = join(tmp, 'old-edited-for-qemu.mig');
    await runEdit(OLD, ['cpu.env.regs[0]=0x1234abcd', 'i8259.imr=0x5a'], out, { descriptions: BASIC });
    const r = await loadFixture(FIXTURES, entry, out, async (q) => ({ registers: await q.hmp('info registers'), pic: await q.hmp('info pic') }));
    assert.equal(r.status, 'completed', r.error);
    assert.match(r.values!.registers, /EAX=1234abcd/);
    assert.match(r.values!.pic, /pic0: irr=[0-9a-f]+ imr=5a/);
  });
});
