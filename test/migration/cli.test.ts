import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('vmstream demo --json: a live migration into a destination process, verified, with the documented fields', () => {
  const r = spawnSync(process.execPath, [MAIN, 'demo', '--ram', '32', '--random', '16', '--dirty-rate', '10', '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const k of ['totalTimeMs', 'downtimeMs', 'transferredBytes', 'throughputMBps', 'iterations']) assert.equal(typeof out[k], 'number', k);
  assert.equal(out['status'], 'completed');
  assert.equal(out['verified'], true);
  assert.equal(out['sourceHash'], out['destinationHash']);
  assert.ok((out['transferredBytes'] as number) > 16 << 20);
});

test('vmstream demo --file keeps the save/load demo', () => {
  const r = spawnSync(process.execPath, [MAIN, 'demo', '--file', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { equal: boolean }).equal, true);
});
