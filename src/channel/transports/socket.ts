/**
 * Stream sockets (TCP, Unix, TLS) as a source/sink pair sharing one socket. Closing the sink
 * half-closes (FIN, or TLS close_notify), so the peer sees the end of the stream while the
 * source can still read a return path; the socket is released once both halves are closed.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { VmsError } from '../../errors.js';
import { ioError } from '../io-error.js';
import { ReadableSource, WritableSink } from './node-stream.js';
import { SlabSource, adoptAccepted } from './socket-reads.js';

/** Both directions of one connection. */
export interface SocketConnection {
  readonly source: ReadableSource | SlabSource;
  readonly sink: WritableSink;
  /** The peer's address, in URI form when known ("tcp:127.0.0.1:50312"). */
  readonly remote: string | undefined;
}

export interface SocketPairOptions {
  /** Queued unread bytes above which the socket is paused. Defaults to 1 MiB. */
  readonly maxQueued?: number;
  /** Which halves the caller will use; the other is closed at once. Defaults to 'both'. */
  readonly use?: 'both' | 'source' | 'sink';
  readonly name: string;
}

/** Wraps a connected socket as a source and a sink; the socket is destroyed when both are closed. */
export function socketPair(socket: net.Socket, options: SocketPairOptions): SocketConnection {
  const release = releaser(() => socket);
  const source = new ReadableSource(socket, {
    maxQueued: options.maxQueued,
    name: options.name,
    onClose: release,
  });
  return pair(socket, source, release, options);
}

/**
 * Like socketPair for a socket a server accepted with `pauseOnConnect`: the kernel reads
 * straight into our slabs (see socket-reads.ts), or, where this Node does not allow that,
 * the socket is read as usual.
 */
function acceptedPair(accepted: net.Socket, options: SocketPairOptions): SocketConnection {
  let socket = accepted;
  const release = releaser(() => socket);
  const slabs = new SlabSource({ maxQueued: options.maxQueued, name: options.name, onClose: release });
  const adopted = adoptAccepted(accepted, slabs.onread);
  if (adopted === undefined) {
    accepted.resume();
    return socketPair(accepted, options);
  }
  socket = adopted;
  slabs.attach(adopted);
  return pair(adopted, slabs, release, options);
}

/** A function that destroys the socket on its second call (both halves closed). */
function releaser(socket: () => net.Socket): () => void {
  let open = 2;
  return () => {
    if (--open === 0) socket().destroy();
  };
}

function pair(socket: net.Socket, source: ReadableSource | SlabSource, release: () => void, options: SocketPairOptions): SocketConnection {
  const sink = new WritableSink(socket, { name: options.name, afterClose: release });
  if (options.use === 'sink') void source.close();
  // A source-only user never writes: its sink half needs no FIN, only release on source close.
  if (options.use === 'source') release();
  return { source, sink, remote: remoteUri(socket) };
}

function remoteUri(socket: net.Socket): string | undefined {
  if (socket.remoteAddress === undefined) return undefined;
  const host = socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `tcp:${host}:${socket.remotePort}`;
}

export interface ConnectOptions {
  /** Milliseconds to wait for the connection (and TLS handshake). Defaults to 30 000. */
  readonly connectTimeout?: number;
}

export const DEFAULT_CONNECT_TIMEOUT = 30_000;

/** Connects a TCP (host/port) or Unix (path) socket. */
export function connectSocket(
  target: { host: string; port: number } | { path: string },
  name: string,
  options: ConnectOptions = {},
): Promise<net.Socket> {
  const socket =
    'path' in target
      ? net.connect({ path: target.path, allowHalfOpen: true })
      : net.connect({ host: target.host === '' ? 'localhost' : target.host, port: target.port, allowHalfOpen: true });
  return whenConnected(socket, 'connect', name, options.connectTimeout).then((s) => {
    if (!('path' in target)) s.setNoDelay(true);
    return s;
  });
}

export interface TlsOptions {
  /** Trusted CA certificates (PEM); defaults to Node's bundled roots. */
  readonly ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Our certificate chain (PEM): the server's, or the client's for mutual TLS. */
  readonly cert?: string | Uint8Array;
  /** Private key of `cert` (PEM). */
  readonly key?: string | Uint8Array;
  /** Name to check the server's certificate against (and send as SNI). Defaults to the host. */
  readonly servername?: string;
  /** Listening side: require a client certificate signed by `ca` (mutual TLS). Defaults to false. */
  readonly requireClientCert?: boolean;
}

/** Connects over TLS, checking the server's certificate against `ca` and `servername`. */
export function connectTls(host: string, port: number, name: string, options: TlsOptions & ConnectOptions): Promise<tls.TLSSocket> {
  const hostname = host === '' ? 'localhost' : host;
  const servername = options.servername ?? (net.isIP(hostname) === 0 ? hostname : undefined);
  const socket = tls.connect({
    host: hostname,
    port,
    ca: pemList(options.ca),
    cert: pem(options.cert),
    key: pem(options.key),
    servername,
    rejectUnauthorized: true,
    allowHalfOpen: true,
  } as tls.ConnectionOptions);
  return whenConnected(socket, 'secureConnect', name, options.connectTimeout).then(async (s) => {
    s.setNoDelay(true);
    if (s.getProtocol() === 'TLSv1.3') await whenAccepted(s, name);
    return s;
  });
}

/** How long a TLS 1.3 client waits for a session ticket as a sign that the server accepted it. */
const TLS13_ACCEPT_WAIT_MS = 500;

/**
 * In TLS 1.3 the client's handshake ends before the server has checked the client's
 * certificate, and Node's server refuses an untrusted one by closing the connection without
 * an alert. A refused client would then see a clean, empty stream. Servers send session
 * tickets only after accepting, so wait for a ticket (or the close, or at most
 * TLS13_ACCEPT_WAIT_MS for servers that send none).
 */
function whenAccepted(socket: tls.TLSSocket, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const refused = (e?: Error): void => {
      cleanup();
      socket.destroy();
      reject(
        e !== undefined
          ? ioError(e, `connecting to ${name}`)
          : new VmsError('E_IO', `${name} closed the connection after the TLS handshake`, {
              expected: 'the server to accept our certificate',
              actual: 'connection closed',
            }),
      );
    };
    const accepted = (): void => {
      cleanup();
      // Not from inside the 'session' callback: Node runs it within OpenSSL's read of the
      // ticket, and a write issued from there (our caller's first write) corrupted records.
      setImmediate(resolve);
    };
    const onEnd = (): void => refused();
    const timer = setTimeout(accepted, TLS13_ACCEPT_WAIT_MS);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('session', accepted);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', refused);
    };
    socket.once('session', accepted);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', refused);
  });
}

function whenConnected<S extends net.Socket>(socket: S, event: string, name: string, timeout = DEFAULT_CONNECT_TIMEOUT): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    const timer =
      timeout > 0
        ? setTimeout(() => {
            cleanup();
            socket.destroy();
            reject(new VmsError('E_TIMEOUT', `connecting to ${name} timed out`, { expected: `a connection within ${timeout} ms` }));
          }, timeout)
        : undefined;
    const onOk = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (e: Error): void => {
      cleanup();
      socket.destroy();
      reject(ioError(e, `connecting to ${name}`));
    };
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.off(event, onOk);
      socket.off('error', onError);
    };
    socket.once(event, onOk);
    socket.once('error', onError);
  });
}

/** The accepting side of tcp:, unix: and tls:. Iterate it (or call `accept()`) for connections. */
export interface Listener extends AsyncIterable<SocketConnection> {
  /** The address actually bound, as a URI ("tcp:127.0.0.1:40123" when asked for port 0). */
  readonly uri: string;
  /** The bound port (tcp, tls). */
  readonly port: number | undefined;
  /** Connections refused during the TLS handshake (e.g. a client without a trusted certificate). */
  readonly refused: number;
  /** The next connection; rejects with E_CLOSED once the listener is closed. */
  accept(): Promise<SocketConnection>;
  /** Stops listening and drops connections not yet accepted; accepted ones stay open. */
  close(): Promise<void>;
}

/** Connections accepted by the OS but not yet by the caller, beyond which new ones are dropped. */
const MAX_PENDING_CONNECTIONS = 64;

export interface ListenOptions {
  readonly maxQueued?: number;
}

/** Listens on TCP (host/port, port 0 = any free port), a Unix path, or TLS over TCP. */
export async function listenSocket(
  target: { kind: 'tcp' | 'tls'; host: string; port: number } | { kind: 'unix'; path: string },
  options: ListenOptions & TlsOptions = {},
): Promise<Listener> {
  const pending: SocketConnection[] = [];
  const waiters: { resolve: (c: SocketConnection) => void; reject: (e: unknown) => void }[] = [];
  let closed = false;
  let refused = 0;
  let uri = '';

  const deliver = (socket: net.Socket): void => {
    if (closed || pending.length >= MAX_PENDING_CONNECTIONS) {
      socket.destroy();
      return;
    }
    if (target.kind !== 'unix') socket.setNoDelay(true);
    const pairOptions = { maxQueued: options.maxQueued, name: `connection on ${uri}` };
    const conn = target.kind === 'tls' ? socketPair(socket, pairOptions) : acceptedPair(socket, pairOptions);
    const w = waiters.shift();
    if (w !== undefined) w.resolve(conn);
    else pending.push(conn);
  };

  let server: net.Server;
  if (target.kind === 'tls') {
    const requireClientCert = options.requireClientCert ?? false;
    server = tls.createServer(
      {
        ca: pemList(options.ca),
        cert: pem(options.cert),
        key: pem(options.key),
        requestCert: requireClientCert,
        rejectUnauthorized: requireClientCert,
        allowHalfOpen: true,
      } as tls.TlsOptions,
      deliver,
    );
    // Node sends the TLS alert and destroys the socket itself; we only count.
    server.on('tlsClientError', () => refused++);
  } else {
    // Paused: acceptedPair moves the connection to a socket that reads into our slabs before any read.
    server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, deliver);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(ioError(e, `listening on ${describe(target)}`)));
    if (target.kind === 'unix') server.listen(target.path, resolve);
    else server.listen(target.host === '' ? { port: target.port } : { host: target.host, port: target.port }, resolve);
  });
  server.on('error', () => {
    // After listening, errors concern single connections; they reach those connections' streams.
  });

  const addr = server.address();
  let port: number | undefined;
  if (addr !== null && typeof addr === 'object') {
    port = addr.port;
    const host = target.kind === 'unix' ? '' : target.host === '' ? addr.address : target.host;
    uri = `${target.kind}:${host.includes(':') ? `[${host}]` : host}:${port}`;
  } else {
    uri = `unix:${target.kind === 'unix' ? target.path : String(addr)}`;
  }

  const closedError = (): VmsError => new VmsError('E_CLOSED', `listener on ${uri} is closed`);
  const listener: Listener = {
    uri,
    port,
    get refused() {
      return refused;
    },
    accept() {
      const c = pending.shift();
      if (c !== undefined) return Promise.resolve(c);
      if (closed) return Promise.reject(closedError());
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of waiters.splice(0)) w.reject(closedError());
      for (const c of pending.splice(0)) c.sink.destroy();
      // Stop accepting now. The server's 'close' would also wait for accepted connections
      // (they stay the caller's to close); a handshake still in flight is dropped on delivery.
      server.close();
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        let c: SocketConnection;
        try {
          c = await listener.accept();
        } catch (e) {
          if (closed) return;
          throw e;
        }
        yield c;
      }
    },
  };
  return listener;
}

function describe(target: { kind: string; host?: string; port?: number; path?: string }): string {
  return target.path !== undefined ? `${target.kind}:${target.path}` : `${target.kind}:${target.host}:${target.port}`;
}

type Pem = string | Uint8Array;
function pem(v: Pem | undefined): string | Buffer | undefined {
  if (v === undefined || typeof v === 'string') return v;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
function pemList(v: Pem | readonly Pem[] | undefined): (string | Buffer)[] | string | Buffer | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' || v instanceof Uint8Array) return pem(v);
  return v.map((x) => pem(x)!);
}
