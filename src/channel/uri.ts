/**
 * Channel URIs, as QEMU's migration URIs plus files and block windows:
 *   file:PATH   PATH   -   tcp:HOST:PORT   tcp:[V6]:PORT   unix:PATH   tls:HOST:PORT
 *   exec:COMMAND   block:PATH@OFFSET+LENGTH (sizes: decimal or 0x hex, optional K/M/G/T = KiB...)
 */
import { VmsError } from '../errors.js';

export type ChannelAddress =
  | { readonly kind: 'stdio' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'tcp' | 'tls'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'exec'; readonly command: string }
  | { readonly kind: 'block'; readonly path: string; readonly offset: number; readonly length: number };

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** Parses a channel URI; E_USAGE names what is wrong. */
export function parseChannelUri(uri: string): ChannelAddress {
  if (uri === '-') return { kind: 'stdio' };
  const m = SCHEME.exec(uri);
  if (m === null) {
    if (uri === '') throw usage(uri, 'empty channel URI', 'a path, -, or SCHEME:...');
    return { kind: 'file', path: uri };
  }
  const rest = uri.slice(m[0].length);
  switch (m[1]!.toLowerCase()) {
    case 'file':
      if (rest === '') throw usage(uri, 'file: needs a path', 'file:PATH');
      return { kind: 'file', path: rest };
    case 'unix':
      if (rest === '') throw usage(uri, 'unix: needs a socket path', 'unix:PATH');
      return { kind: 'unix', path: rest };
    case 'exec':
      if (rest.trim() === '') throw usage(uri, 'exec: needs a command', 'exec:COMMAND');
      return { kind: 'exec', command: rest };
    case 'tcp':
    case 'tls': {
      const kind = m[1]!.toLowerCase() as 'tcp' | 'tls';
      return { kind, ...hostPort(uri, rest, kind) };
    }
    case 'block':
      return { kind: 'block', ...blockWindow(uri, rest) };
    default:
      // A one-letter "scheme" is more likely a drive letter or a relative name; neither is ours.
      throw usage(uri, `unknown channel type "${m[1]}:"`, 'file:, tcp:, unix:, tls:, exec:, block: or a plain path (write file:NAME for a file whose name has a colon)');
  }
}

/** The URI form of an address (the inverse of parseChannelUri). */
export function formatChannelUri(a: ChannelAddress): string {
  switch (a.kind) {
    case 'stdio':
      return '-';
    case 'file':
      return `file:${a.path}`;
    case 'unix':
      return `unix:${a.path}`;
    case 'exec':
      return `exec:${a.command}`;
    case 'tcp':
    case 'tls':
      return `${a.kind}:${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
    case 'block':
      return `block:${a.path}@${a.offset}+${a.length}`;
  }
}

function hostPort(uri: string, rest: string, kind: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw usage(uri, 'bad IPv6 address', `${kind}:[ADDRESS]:PORT`);
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw usage(uri, `${kind}: needs a port`, `${kind}:HOST:PORT`);
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) throw usage(uri, 'an IPv6 address needs brackets', `${kind}:[ADDRESS]:PORT`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw usage(uri, `bad port "${portText}"`, 'a port number 0..65535');
  }
  return { host, port: Number(portText) };
}

function blockWindow(uri: string, rest: string): { path: string; offset: number; length: number } {
  const at = rest.lastIndexOf('@');
  const form = 'block:PATH@OFFSET+LENGTH';
  if (at <= 0) throw usage(uri, 'block: needs a path and a window', form);
  const plus = rest.indexOf('+', at);
  if (plus < 0) throw usage(uri, 'block: needs a window length', form);
  return {
    path: rest.slice(0, at),
    offset: parseSize(rest.slice(at + 1, plus), uri, 'offset'),
    length: parseSize(rest.slice(plus + 1), uri, 'length'),
  };
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** A byte count: decimal or 0x hex, with an optional binary unit (K, M, G, T; "KiB" also accepted). */
export function parseSize(text: string, uri: string, what: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  const v = m === null ? NaN : Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(v)) throw usage(uri, `bad ${what} "${text}"`, 'a byte count such as 4096, 0x1000 or 64M');
  return v;
}

function usage(uri: string, reason: string, expected: string): VmsError {
  return new VmsError('E_USAGE', reason, { expected, actual: JSON.stringify(uri) });
}
