/** The stream CLI commands, run as a user would: info, dump, convert, edit, exit statuses. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureStreams, readFixture } from './fixtures.js';

const CLI = join('dist', 'src', 'cli', 'main.js');
const run = (args: string[], input?: Uint8Array) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
};

const all = fixtureStreams();
const basic = all.find((f) => f.name === 'pc-basic') ?? all[0];
const tmp = mkdtempSync(join(tmpdir(), 'vmstream-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('vmstream stream commands', { skip: basic === undefined ? 'no fixture streams' : false }, () => {
  const path = basic!.path;
  const bytes = readFixture(basic!);

  it('info --json has the documented fields', () => {
    const r = run(['info', '--json', path]);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString());
    assert.equal(j.format, 'qemu');
    assert.equal(j.machine, 'pc-i440fx-7.2');
    const timer = j.sections.find((s: { name: string }) => s.name === 'timer');
    assert.deepEqual([timer.id, timer.instance, timer.version, timer.bytes], [0, 0, 2, 48]);
    const ram = j.ram.blocks.find((b: { name: string }) => b.name === 'pc.ram');
    assert.equal(ram.length, 32 << 20);
    assert.equal(ram.zeroPages + ram.normalPages, (32 << 20) / 4096);
    assert.equal(j.trailer.present, true);
  });

  it('info reads stdin with -', () => {
    const r = run(['info', '-'], bytes);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /machine: +pc-i440fx-7\.2/);
  });

  it('dump prints fields with names and values, as text and as JSON', () => {
    const t = run(['dump', path]);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout.toString(), /\[full\] section 5 cpu:0 v12[^\n]*\n  env\.regs: array\[16\]\n    \[0\]: uint64 = 0 \(0x0\)/);
    const j = run(['dump', '--json', path]);
    assert.equal(j.status, 0, j.stderr);
    const doc = JSON.parse(j.stdout.toString());
    const cpu = doc.items.find((i: { item: string; name?: string }) => i.item === 'section' && i.name === 'cpu');
    assert.equal(cpu.fields.children[0].name, 'env.regs');
    assert.equal(doc.bytes, bytes.length);
  });

  it('dump --extract writes each RAM block as a sparse file of its length', () => {
    const dir = join(tmp, 'extract');
    const r = run(['dump', '--extract', dir, path]);
    assert.equal(r.status, 0, r.stderr);
    const ram = statSync(join(dir, 'pc.ram'));
    assert.equal(ram.size, 32 << 20);
    assert.ok(ram.blocks * 512 < ram.size, 'pc.ram is sparse');
    const bios = readFileSync(join(dir, 'pc.bios'));
    assert.equal(bios.length, 256 << 10);
    // The reset vector at the top of the BIOS: a far jump (0xEA), as in every PC BIOS image.
    assert.equal(bios[bios.length - 16], 0xea);
  });

  it('convert --to qemu rewrites byte for byte, file to file and stdin to stdout', () => {
    const out = join(tmp, 'copy.mig');
    assert.equal(run(['convert', path, '-o', out, '--to', 'qemu']).status, 0);
    assert.ok(Buffer.compare(readFileSync(out), bytes) === 0);
    const p = run(['convert', '-', '-o', '-'], bytes);
    assert.equal(p.status, 0, p.stderr);
    assert.ok(Buffer.compare(p.stdout, bytes) === 0);
  });

  it('edit changes exactly the named fields, and only their bytes', () => {
    const out = join(tmp, 'edited.mig');
    const r = run(['edit', path, '--set', 'cpu.env.regs[0]=0x1234', '--set', 'i8259:0.imr=0x5a', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const edited = readFileSync(out);
    assert.equal(edited.length, bytes.length);
    let changed = 0;
    for (let i = 0; i < bytes.length; i++) if (edited[i] !== bytes[i]) changed++;
    assert.equal(changed, 3); // 0x12, 0x34 in a be64, and 0x5a
    const d = run(['dump', out]).stdout.toString();
    assert.match(d, /env\.regs: array\[16\]\n    \[0\]: uint64 = 4660 \(0x1234\)/);
    assert.match(d, /section 15 i8259:0 v1[^\n]*\n(?:  .*\n)*?  imr: uint8 = 90 \(0x5a\)/);
  });

  it('edit refuses values that do not fit and fields that do not exist (exit 2, no output left)', () => {
    const out = join(tmp, 'bad.mig');
    for (const set of ['i8259.imr=256', 'cpu.env.nope=1', 'nosuch.x=1', 'i8259.imr']) {
      const r = run(['edit', path, '--set', set, '-o', out]);
      assert.equal(r.status, 2, `${set}: ${r.stderr}`);
      assert.throws(() => statSync(out));
    }
  });

  it('a bad stream exits 1 and names the offset and the section', () => {
    const cut = join(tmp, 'cut.mig');
    writeFileSync(cut, bytes.subarray(0, 200_000));
    const r = run(['info', cut]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /E_TRUNCATED: .* at byte \d+ \(0x[0-9a-f]+\) in section 2\(ram\)/);
    const j = run(['dump', '--json', cut]);
    assert.equal(j.status, 1);
    assert.equal(JSON.parse(j.stderr).error.code, 'E_TRUNCATED');
  });

  it('usage and I/O errors exit 2; --help exits 0', () => {
    assert.equal(run(['info', join(tmp, 'missing.mig')]).status, 2);
    assert.equal(run(['info']).status, 2);
    assert.equal(run(['convert', path, '-o', join(tmp, 'x'), '--to', 'xml']).status, 2);
    for (const c of ['info', 'dump', 'convert', 'edit']) {
      const h = run([c, '--help']);
      assert.equal(h.status, 0);
      assert.match(h.stdout.toString(), new RegExp(`Usage: vmstream ${c}`));
    }
  });
});
