/**
 * Opens transports from channel URIs (see uri.ts): `openSource` for reading, `openSink` for
 * writing, `listen` for the accepting side of tcp:, unix: and tls:.
 */
import { VmsError } from '../errors.js';
import type { ByteSink, ByteSource } from './transport.js';
import { parseChannelUri, type ChannelAddress } from './uri.js';
import { BlockSink, BlockSource } from './transports/block.js';
import { ExecSink, ExecSource } from './transports/exec.js';
import { FileSink, FileSource } from './transports/file.js';
import {
  connectSocket,
  connectTls,
  listenSocket,
  socketPair,
  type ConnectOptions,
  type Listener,
  type TlsOptions,
} from './transports/socket.js';
import { stdinSource, stdoutSink } from './transports/stdio.js';

export interface OpenOptions extends TlsOptions, ConnectOptions {
  /** Sockets, pipes and stdin: unread bytes queued before the transport is paused. Defaults to 1 MiB. */
  readonly maxQueued?: number;
  /** file: sinks: fsync before close. Defaults to false. */
  readonly sync?: boolean;
}

/** Opens a URI for reading. */
export async function openSource(uri: string | ChannelAddress, options: OpenOptions = {}): Promise<ByteSource> {
  const a = typeof uri === 'string' ? parseChannelUri(uri) : uri;
  const name = typeof uri === 'string' ? uri : a.kind;
  switch (a.kind) {
    case 'stdio':
      return stdinSource(options);
    case 'file':
      return FileSource.open(a.path);
    case 'block':
      return BlockSource.open(a);
    case 'exec':
      return new ExecSource(a.command, options);
    case 'tcp':
    case 'unix':
    case 'tls':
      return socketPair(await connect(a, name, options), { maxQueued: options.maxQueued, use: 'source', name }).source;
  }
}

/** Opens a URI for writing. */
export async function openSink(uri: string | ChannelAddress, options: OpenOptions = {}): Promise<ByteSink> {
  const a = typeof uri === 'string' ? parseChannelUri(uri) : uri;
  const name = typeof uri === 'string' ? uri : a.kind;
  switch (a.kind) {
    case 'stdio':
      return stdoutSink();
    case 'file':
      return FileSink.open(a.path, options);
    case 'block':
      return BlockSink.open(a);
    case 'exec':
      return new ExecSink(a.command);
    case 'tcp':
    case 'unix':
    case 'tls':
      return socketPair(await connect(a, name, options), { maxQueued: options.maxQueued, use: 'sink', name }).sink;
  }
}

/** Connects to tcp:, unix: or tls: and returns both directions (e.g. a migration with a return path). */
export async function openDuplex(uri: string | ChannelAddress, options: OpenOptions = {}): Promise<{ source: ByteSource; sink: ByteSink }> {
  const a = typeof uri === 'string' ? parseChannelUri(uri) : uri;
  const name = typeof uri === 'string' ? uri : a.kind;
  if (a.kind !== 'tcp' && a.kind !== 'unix' && a.kind !== 'tls') {
    throw new VmsError('E_USAGE', `${a.kind}: is one-way`, { expected: 'tcp:, unix: or tls:', actual: name });
  }
  const { source, sink } = socketPair(await connect(a, name, options), { maxQueued: options.maxQueued, name });
  return { source, sink };
}

/**
 * Listens on tcp:HOST:PORT (port 0 picks a free port; the listener's `uri` has the real
 * one), unix:PATH or tls:HOST:PORT (needs cert and key; requireClientCert for mutual TLS).
 */
export async function listen(uri: string | ChannelAddress, options: OpenOptions = {}): Promise<Listener> {
  const a = typeof uri === 'string' ? parseChannelUri(uri) : uri;
  if (a.kind === 'tcp' || a.kind === 'tls' || a.kind === 'unix') {
    if (a.kind === 'tls' && (options.cert === undefined || options.key === undefined)) {
      throw new VmsError('E_USAGE', 'a tls: listener needs a certificate and a key', { expected: 'options cert and key' });
    }
    return listenSocket(a, options);
  }
  throw new VmsError('E_USAGE', `cannot listen on ${a.kind}:`, { expected: 'tcp:, unix: or tls:', actual: String(uri) });
}

function connect(a: ChannelAddress & { kind: 'tcp' | 'unix' | 'tls' }, name: string, options: OpenOptions) {
  switch (a.kind) {
    case 'tcp':
      return connectSocket({ host: a.host, port: a.port }, name, options);
    case 'unix':
      return connectSocket({ path: a.path }, name, options);
    case 'tls':
      return connectTls(a.host, a.port, name, options);
  }
}
