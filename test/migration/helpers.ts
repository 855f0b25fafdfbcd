/** Shared helpers of the migration tests: TLS test credentials, migrate-over-a-listener. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Listener } from '../../src/channel/transports/socket.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import type { SampleMachine } from '../../src/migration/sample-machine.js';

/**
 * Makes a CA and server/client certificates (EC P-256) in QEMU's tls-creds-x509 layout;
 * `name` prefixes the CA's CN so two calls give two unrelated CAs.
 */
export function makeTlsCreds(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `vmstream-tls-${name}-`));
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...key, '-keyout', 'ca-key.pem', '-out', 'ca-cert.pem', '-days', '2', '-subj', `/CN=${name} test CA`);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const side of ['server', 'client']) {
    ossl('req', ...key, '-keyout', `${side}-key.pem`, '-out', `${side}.csr`, '-subj', `/CN=${side}`);
    ossl('x509', '-req', '-in', `${side}.csr`, '-CA', 'ca-cert.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${side}-cert.pem`, '-days', '2', '-extfile', 'san.ext');
  }
  return dir;
}

/** Accepts one connection on `listener` and receives into `machine`; the promise settles with the outcome. */
export function receiveOnce(listener: Listener, machine: SampleMachine, stallTimeoutMs = 5000) {
  return (async () => {
    const conn = await listener.accept();
    const dest = new MigrationDestination(machine, { stallTimeoutMs, afterCommit: async () => ({ hash: await machine.hash() }) });
    try {
      return await dest.receive({ source: conn.source, reply: conn.sink });
    } finally {
      conn.sink.destroy();
    }
  })();
}
