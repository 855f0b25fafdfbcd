import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { listen, openSink, openSource } from '../../src/channel/open.js';
import { isVmsError } from '../../src/errors.js';
import { pseudoRandomBytes, rejectsWith } from './helpers.js';

let dir = '';
const pem: Record<string, string> = {};
let haveOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  haveOpenssl = false;
}

/** Runs openssl in the temp dir. */
function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, and a key plus certificate signed by it (or self-signed when `ca` is undefined). */
async function issue(name: string, cn: string, ca: string | undefined, ext: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  if (ca === undefined) {
    openssl('x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  } else {
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  pem[`${name}.key`] = await readFile(join(dir, `${name}.key`), 'utf8');
  pem[`${name}.crt`] = await readFile(join(dir, `${name}.crt`), 'utf8');
}

before(async () => {
  if (!haveOpenssl) return;
  dir = await mkdtemp(join(tmpdir(), 'vmstream-tls-'));
  const caExt = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
  await issue('ca', 'vmstream test CA', undefined, caExt);
  await issue('rogue-ca', 'untrusted CA', undefined, caExt);
  await issue('server', 'localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await issue('client', 'migration client', 'ca', 'extendedKeyUsage=clientAuth\n');
  await issue('rogue', 'rogue client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
});
after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const serverOptions = () => ({ ca: pem['ca.crt'], cert: pem['server.crt'], key: pem['server.key'], requireClientCert: true });
const clientOptions = () => ({ ca: pem['ca.crt'], cert: pem['client.crt'], key: pem['client.key'], servername: 'localhost' });

test('tls: mutual TLS moves the same bytes both ways', { skip: !haveOpenssl && 'openssl not installed' }, async () => {
  const data = pseudoRandomBytes(2 << 20, 11);
  const l = await listen('tls:127.0.0.1:0', serverOptions());
  assert.match(l.uri, /^tls:127\.0\.0\.1:\d+$/);
  try {
    const serve = (async () => {
      const c = await l.accept();
      const r = new ChannelReader(c.source);
      const n = await r.retry(() => r.u32());
      const got = await r.retry(() => r.bytesCopy(n));
      // Echo it back on the same connection.
      const w = new ChannelWriter(c.sink);
      w.u32(got.length).bytes(got);
      await w.close();
      await r.close();
      return got;
    })();
    const client = await import('../../src/channel/open.js').then((m) => m.openDuplex(l.uri, clientOptions()));
    const w = new ChannelWriter(client.sink);
    w.u32(data.length).bytes(data);
    await w.close();
    const r = new ChannelReader(client.source);
    const n = await r.retry(() => r.u32());
    const echoed = await r.retry(() => r.bytesCopy(n));
    assert.equal(await r.atEnd(), true);
    await r.close();
    assert.ok(Buffer.from(await serve).equals(data));
    assert.ok(Buffer.from(echoed).equals(data));
  } finally {
    await l.close();
  }
});

test('tls: the client checks the server certificate', { skip: !haveOpenssl && 'openssl not installed' }, async () => {
  const l = await listen('tls:127.0.0.1:0', serverOptions());
  try {
    // A CA that did not sign the server: refused.
    const e = await rejectsWith(() => openSink(l.uri, { ...clientOptions(), ca: pem['rogue-ca.crt'] }), 'E_IO');
    assert.match(e.message, /certificate/i);
    // The right CA but the wrong name: refused.
    await rejectsWith(() => openSink(l.uri, { ...clientOptions(), servername: 'not-the-server.example' }), 'E_IO');
  } finally {
    await l.close();
  }
});

test('tls: a client without a trusted certificate is refused by the server', { skip: !haveOpenssl && 'openssl not installed' }, async () => {
  const l = await listen('tls:127.0.0.1:0', serverOptions());
  let accepted = 0;
  const acceptLoop = (async () => {
    for await (const c of l) {
      accepted++;
      await c.source.close();
      await c.sink.close();
    }
  })();
  try {
    for (const opts of [
      { ca: pem['ca.crt'], servername: 'localhost' }, // no client certificate
      { ca: pem['ca.crt'], cert: pem['rogue.crt'], key: pem['rogue.key'], servername: 'localhost' }, // untrusted issuer
    ]) {
      // TLS 1.3 finishes the client's handshake before the server checks its certificate, so
      // the refusal may come at connect or at the first read; either way it is an error.
      let failed = false;
      try {
        const src = await openSource(l.uri, opts);
        const r = new ChannelReader(src);
        await r.fill(1);
      } catch (err) {
        failed = isVmsError(err) && err.code === 'E_IO';
        if (!failed) throw err;
      }
      assert.ok(failed, `the untrusted client ${opts.cert === undefined ? 'without a certificate' : 'with a rogue certificate'} got an E_IO`);
    }
    // Wait for the server to register both refusals.
    for (let i = 0; i < 100 && l.refused < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(l.refused, 2);
    assert.equal(accepted, 0, 'no connection reached the application');
  } finally {
    await l.close();
    await acceptLoop;
  }
});

test('tls: listening without a certificate is E_USAGE', async () => {
  await rejectsWith(() => listen('tls:127.0.0.1:0'), 'E_USAGE');
});

test('tls: a server that never answers the handshake is E_TIMEOUT after connectTimeout', async () => {
  const l = await listen('tcp:127.0.0.1:0'); // plain TCP: accepts, never speaks TLS
  try {
    const t0 = performance.now();
    const e = await rejectsWith(() => openSink(l.uri.replace(/^tcp:/, 'tls:'), { connectTimeout: 200 }), 'E_TIMEOUT');
    assert.ok(performance.now() - t0 >= 190);
    assert.match(e.message, /timed out/);
  } finally {
    await l.close();
  }
});
