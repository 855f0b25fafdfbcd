import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listen, openDuplex, openSink, openSource } from '../../src/channel/open.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import { LiveSampleMachine } from '../../src/migration/live-machine.js';
import { MigrationSource } from '../../src/migration/source.js';
import { tlsOptions } from '../../src/cli/commands/migrate.js';
import { makeTlsCreds, receiveOnce } from './helpers.js';

function running(ramMiB: number, randomMiB: number, dirtyMBps = 0): LiveSampleMachine {
  const m = new LiveSampleMachine({ ramMiB });
  m.fillRandom(randomMiB, 11);
  m.startWorkload(dirtyMBps);
  return m;
}

for (const kind of ['tcp', 'unix'] as const) {
  test(`live migration over ${kind} with a workload: destination equals the source`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstream-mig-'));
    const listener = await listen(kind === 'tcp' ? 'tcp:127.0.0.1:0' : `unix:${join(dir, 's.sock')}`);
    const src = running(32, 16, 10);
    const dst = new LiveSampleMachine({ ramMiB: 32 });
    try {
      const incoming = receiveOnce(listener, dst);
      const conn = await openDuplex(listener.uri);
      const result = await new MigrationSource(src, { maxBandwidth: 40e6 }).migrate({ sink: conn.sink, reverse: conn.source });
      src.stopWorkload();
      await incoming;
      assert.equal(result.stats.status, 'completed');
      assert.deepEqual(result.report, { hash: await src.hash() });
      assert.equal(src.isRunning, false, 'the source stays stopped after a completed migration');
    } finally {
      src.stopWorkload();
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('migration through exec: and file: streams loads back into an equal machine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-mig-'));
  try {
    for (const uri of [`exec:cat > ${join(dir, 'a.mig')}`, `file:${join(dir, 'b.mig')}`]) {
      const src = running(8, 4);
      await new MigrationSource(src).migrate({ sink: await openSink(uri) });
      const dst = new LiveSampleMachine({ ramMiB: 8 });
      const file = uri.startsWith('exec:') ? join(dir, 'a.mig') : join(dir, 'b.mig');
      await new MigrationDestination(dst).receive({ source: await openSource(`file:${file}`) });
      assert.equal(await dst.hash(), await src.hash(), uri);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS with mutual certificate checks: a trusted client migrates, an untrusted one is refused', async () => {
  const good = makeTlsCreds('good');
  const other = makeTlsCreds('other');
  const listener = await listen('tls:127.0.0.1:0', tlsOptions(good, 'server'));
  const dst = new LiveSampleMachine({ ramMiB: 8 });
  const pristine = await dst.hash();
  try {
    // Clients that trust the server but present a certificate another CA signed, or none:
    // the server refuses the handshake, and nothing is received.
    const strangerCreds = { ...tlsOptions(other, 'client'), ca: tlsOptions(good, 'client').ca };
    const anonymous = { ca: tlsOptions(good, 'client').ca };
    for (const creds of [strangerCreds, anonymous]) {
      const stranger = running(8, 2);
      const before = listener.refused;
      const refused = await openDuplex(listener.uri, creds)
        .then((c) => new MigrationSource(stranger, { stallTimeoutMs: 2000 }).migrate({ sink: c.sink, reverse: c.source }))
        .then(
          () => 'migrated',
          (e: { code?: string }) => e.code,
        );
      assert.notEqual(refused, 'migrated');
      assert.equal(stranger.isRunning, true);
      assert.equal(await dst.hash(), pristine);
      // With TLS 1.3 the server checks the client's certificate after the client thinks it is connected.
      for (let i = 0; i < 50 && listener.refused === before; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(listener.refused, before + 1, 'the listener refused the handshake');
    }
    // A client that does not trust the server's CA gives up on its own.
    const wary = await openDuplex(listener.uri, tlsOptions(other, 'client')).then(
      () => 'connected',
      (e: { code?: string }) => e.code,
    );
    assert.equal(wary, 'E_IO');

    const src = running(8, 4, 5);
    const incoming = receiveOnce(listener, dst);
    const conn = await openDuplex(listener.uri, tlsOptions(good, 'client'));
    const r = await new MigrationSource(src).migrate({ sink: conn.sink, reverse: conn.source });
    src.stopWorkload();
    await incoming;
    assert.deepEqual(r.report, { hash: await src.hash() });
  } finally {
    await listener.close();
    rmSync(good, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  }
});
