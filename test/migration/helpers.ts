/** Shared helpers of the migration tests: TLS test credentials, migrate-over-a-listener. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Listener } from '../../src/channel/transports/socket.js';
import { MigrationDestination } from '../../src/migration/destination.js';
import type { LiveSampleMachine } from '../../src/migration/live-machine.js';

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
export function receiveOnce(listener: Listener, machine: LiveSampleMachine, stallTimeoutMs = 5000) {
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

/** Starts `vmstream receive tcp:127.0.0.1:0 --sample --announce --json` as a child process. */
export async function spawnReceiver(ramMiB: number): Promise<{ uri: string; child: import('node:child_process').ChildProcess; output: Promise<string> }> {
  const { spawn } = await import('node:child_process');
  const receiveUrl = new URL('../../src/cli/commands/receive.js', import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(receiveUrl)}); await m.receiveCommand().parseAsync(process.argv.slice(1), { from: 'user' });`,
      'tcp:127.0.0.1:0',
      '--sample',
      '--ram',
      String(ramMiB),
      '--announce',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.resume();
  const uri = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (s: string) => {
      out += s;
      const nl = out.indexOf('\n');
      if (nl >= 0 && !out.startsWith('{"listening"')) reject(new Error(out));
      if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { listening: string }).listening);
    });
    child.once('exit', (c) => reject(new Error(`receiver exited with ${c}`)));
  });
  const output = new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
  return { uri, child, output };
}

/**
 * A TCP proxy in front of `upstream` (host, port) that forwards both ways and cuts both
 * connections once `cutAfter` bytes went from the client to the upstream.
 */
export async function cuttingProxy(upstreamPort: number, cutAfter: number): Promise<{ port: number; close(): void; forwarded(): number }> {
  const net = await import('node:net');
  let forwarded = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const up = net.connect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true });
    const cut = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('error', cut);
    up.on('error', cut);
    up.on('data', (b: Buffer) => client.write(b));
    up.on('end', () => client.end());
    client.on('data', (b: Buffer) => {
      const room = cutAfter - forwarded;
      if (room <= 0) return cut();
      const part = b.length <= room ? b : b.subarray(0, room);
      forwarded += part.length;
      up.write(part, () => {
        if (forwarded >= cutAfter) cut();
      });
    });
    client.on('end', () => up.end());
    if (cutAfter === 0) up.once('connect', cut);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => server.close(), forwarded: () => forwarded };
}
