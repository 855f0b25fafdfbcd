/** `vmstream validate --no-schema`: exit statuses, text and JSON output, --max-errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vms-validate-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function file(name: string, hex: string): string {
  const p = join(dir, name);
  writeFileSync(p, Buffer.from(hex.replace(/ /g, ''), 'hex'));
  return p;
}
const run = (...args: string[]) => spawnSync(process.execPath, [main, 'validate', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

test('a valid stream exits 0, warnings included', () => {
  const r = run('--no-schema', file('ok.ber', '30 80 02 01 05 04 81 01 aa 00 00'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /warning X690_LENGTH_FORM at byte 6/);
  assert.match(r.stdout, /valid \(3 values, 11 bytes, 0 errors, 1 warning\)/);
});

test('an invalid stream exits 1 and shows the offset, path and a hex excerpt', () => {
  const r = run('--no-schema', file('bad.ber', '30 80 02 02 00 7f 00 00'));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /error X690_INTEGER at byte 2 \(0x2\) in SEQUENCE\[0\]/);
  assert.match(r.stdout, /00000000: 30 80 \[02\] 02 00 7f 00 00/);
  assert.match(r.stdout, /invalid \(2 values/);
});

test('--json prints a report, --max-errors stops early', () => {
  const bad = file('many.ber', '30 80' + ' 01 00'.repeat(5) + ' 00 00');
  const r = run('--no-schema', '--json', '--max-errors', '2', bad);
  assert.equal(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { valid: boolean; errors: number; complete: boolean; diagnostics: { code: string; offset: number; path: string; excerpt: { hex: string } }[] };
  assert.equal(report.valid, false);
  assert.equal(report.errors, 2);
  assert.equal(report.complete, false);
  assert.deepEqual(report.diagnostics.map((d) => [d.code, d.offset, d.path]), [['X690_BOOLEAN', 2, 'SEQUENCE[0]'], ['X690_BOOLEAN', 4, 'SEQUENCE[1]']]);
  assert.match(report.diagnostics[0]!.excerpt.hex, /^3080/);
});

test('usage and I/O problems exit 2', () => {
  for (const args of [[join(dir, 'missing.ber')], ['--max-errors', 'x', file('x.ber', '05 00')], []]) {
    const r = run('--no-schema', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});
