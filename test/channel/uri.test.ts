import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatChannelUri, parseChannelUri, parseSize } from '../../src/channel/uri.js';

test('channel URIs parse into addresses and format back', () => {
  const cases: [string, object][] = [
    ['-', { kind: 'stdio' }],
    ['dump.mig', { kind: 'file', path: 'dump.mig' }],
    ['./a/b:c', { kind: 'file', path: './a/b:c' }],
    ['file:x:y', { kind: 'file', path: 'x:y' }],
    ['tcp:localhost:4444', { kind: 'tcp', host: 'localhost', port: 4444 }],
    ['tcp::4444', { kind: 'tcp', host: '', port: 4444 }],
    ['tcp:[::1]:0', { kind: 'tcp', host: '::1', port: 0 }],
    ['tls:example.org:443', { kind: 'tls', host: 'example.org', port: 443 }],
    ['unix:/run/q.sock', { kind: 'unix', path: '/run/q.sock' }],
    ['exec:gzip -c > out.gz', { kind: 'exec', command: 'gzip -c > out.gz' }],
    ['block:/dev/sdb@1M+0x1000', { kind: 'block', path: '/dev/sdb', offset: 1 << 20, length: 4096 }],
    ['block:a@b@4096+64KiB', { kind: 'block', path: 'a@b', offset: 4096, length: 65536 }],
  ];
  for (const [uri, want] of cases) {
    const a = parseChannelUri(uri);
    assert.deepEqual(a, want, uri);
    assert.deepEqual(parseChannelUri(formatChannelUri(a)), a, `round trip of ${uri}`);
  }
});

test('malformed URIs are E_USAGE naming what was expected', () => {
  for (const uri of ['', 'tcp:host', 'tcp:host:99999', 'tcp:::1:80', 'tcp:[::1]80', 'unix:', 'exec: ', 'block:f', 'block:f@12', 'block:f@x+1', 'ftp:host/x', 'file:']) {
    assert.throws(
      () => parseChannelUri(uri),
      (e: unknown) => {
        const v = e as { code?: string; expected?: string };
        return v.code === 'E_USAGE' && typeof v.expected === 'string';
      },
      uri,
    );
  }
});

test('sizes take decimal, hex and binary units', () => {
  assert.equal(parseSize('4096', '', 'n'), 4096);
  assert.equal(parseSize('0x10', '', 'n'), 16);
  assert.equal(parseSize('2K', '', 'n'), 2048);
  assert.equal(parseSize('3g', '', 'n'), 3 * 2 ** 30);
  assert.throws(() => parseSize('1.5M', '', 'n'));
  assert.throws(() => parseSize('99999999T', '', 'n'));
});
