import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { listen, openDuplex, openSink, openSource } from '../../src/channel/open.js';
import { MemorySink, MemorySource } from '../../src/channel/transports/memory.js';
import type { ByteSink, ByteSource } from '../../src/channel/transport.js';
import { pseudoRandomBytes, rejectsWith } from './helpers.js';

const MiB = 1 << 20;
const data = pseudoRandomBytes(3 * MiB + 12345, 42);
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmstream-channel-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `bytes` through a ChannelWriter: a header, then the body in uneven puts, then closes. */
async function send(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  const w = new ChannelWriter(sink, { chunkSize: 64 << 10, highWaterMark: 512 << 10 });
  w.u32(0x5145564d).u64(BigInt(bytes.length));
  for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7 + 3) % 200_000 + 1) {
    w.bytes(bytes.subarray(at, Math.min(bytes.length, at + step)));
    if (w.needsDrain) await w.drain();
  }
  await w.close();
}

/** Reads what `send` wrote and checks it. */
async function receive(source: ByteSource): Promise<Uint8Array> {
  const r = new ChannelReader(source, { bufferSize: 256 << 10 });
  const [magic, len] = await r.retry(() => [r.u32(), r.u64()] as const);
  assert.equal(magic, 0x5145564d);
  const out = new Uint8Array(Number(len));
  let at = 0;
  await r.forEachChunk(out.length, (c) => {
    out.set(c, at);
    at += c.length;
  });
  assert.equal(await r.atEnd(), true);
  await r.close();
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): void {
  assert.equal(a.length, b.length);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.length).equals(b), 'bytes differ');
}

test('memory: same bytes end to end', async () => {
  const sink = new MemorySink();
  await send(sink, data);
  sameBytes(await receive(new MemorySource(sink.bytes(), 10_000)), data);
});

test('file: same bytes end to end, plain path and file:, size known', async () => {
  const path = join(dir, 'a.mig');
  await send(await openSink(path), data);
  const src = await openSource(`file:${path}`);
  assert.equal(src.size, data.length + 12);
  sameBytes(await receive(src), data);
});

test('file: a missing file is E_IO naming the error', async () => {
  const e = await rejectsWith(() => openSource(join(dir, 'missing.mig')), 'E_IO');
  assert.equal(e.actual, 'ENOENT');
});

test('block: a window reads and writes only its range, and refuses to overrun', async () => {
  const path = join(dir, 'disk.img');
  await writeFile(path, new Uint8Array(256 << 10).fill(0xee));
  const window = `block:${path}@4K+64K`;
  const payload = pseudoRandomBytes(64 << 10, 5);

  const sink = await openSink(window);
  await sink.write(payload.subarray(0, 1000));
  await sink.write(payload.subarray(1000));
  const e = await rejectsWith(() => sink.write(Uint8Array.of(1)), 'E_LIMIT');
  assert.equal(e.offset, 64 << 10);
  await sink.close();

  const file = await readFile(path);
  assert.ok(file.subarray(0, 4096).every((b) => b === 0xee), 'before the window untouched');
  assert.ok(file.subarray(4096 + (64 << 10)).every((b) => b === 0xee), 'after the window untouched');
  sameBytes(file.subarray(4096, 4096 + (64 << 10)), payload);

  // Through a writer: the overrun surfaces as the writer's sticky E_LIMIT, nothing lands past the end.
  const w = new ChannelWriter(await openSink(window), { chunkSize: 4096 });
  w.bytes(new Uint8Array((64 << 10) + 100).fill(0x11));
  const we = await rejectsWith(() => w.close(), 'E_LIMIT');
  assert.equal(we.offset, 64 << 10);
  const after = await readFile(path);
  assert.equal(after[4096 + (64 << 10)], 0xee);
  assert.equal(after[4096 + (64 << 10) - 1], 0x11);

  // Reading stops at the window's end; skip seeks within it.
  const src = await openSource(window);
  assert.equal(src.size, 64 << 10);
  const r = new ChannelReader(src, { bufferSize: 4096 });
  await r.skip(60_000);
  assert.equal(await r.retry(() => r.u8()), 0x11);
  await r.skip((64 << 10) - 60_001);
  assert.equal(await r.atEnd(), true);
  const te = await rejectsWith(() => r.retry(() => r.u32()), 'E_TRUNCATED');
  assert.equal(te.offset, 64 << 10);
  await r.close();
});

test('exec: same bytes through cat, both directions', async () => {
  const path = join(dir, 'exec.mig');
  await send(await openSink(`exec:cat > '${path}'`), data);
  sameBytes(await receive(await openSource(`exec:cat '${path}'`)), data);
});

test('exec: a failing command is E_IO with its exit status', async () => {
  // As a source: the status is reported at the end of its output, not as a truncated stream.
  const r = new ChannelReader(await openSource('exec:printf abc; exit 3'));
  const e = await rejectsWith(() => r.retry(() => r.u32()), 'E_IO');
  assert.equal(e.actual, 'status 3');
  // As a sink: close() waits for the child and reports its status.
  const sink = await openSink('exec:cat > /dev/null; exit 4');
  await sink.write(new Uint8Array(10));
  const e2 = await rejectsWith(() => sink.close(), 'E_IO');
  assert.equal(e2.actual, 'status 4');
  // A child that exits without reading: the write or the close fails, never hangs.
  const w = new ChannelWriter(await openSink('exec:exit 5'));
  w.bytes(new Uint8Array(4 * MiB));
  const e3 = await rejectsWith(() => w.close(), 'E_IO');
  assert.equal(e3.actual, 'status 5');
});

test('exec: closing a source early stops the command', async () => {
  const src = await openSource('exec:yes');
  const r = new ChannelReader(src, { bufferSize: 4096 });
  assert.equal(await r.retry(() => r.u16()), 0x790a); // "y\n"
  await r.close();
});

async function throughListener(listenUri: string): Promise<void> {
  const l = await listen(listenUri);
  try {
    // Client writes, server reads.
    const [, received] = await Promise.all([
      openSink(l.uri).then((s) => send(s, data)),
      l.accept().then(async (c) => {
        const got = await receive(c.source);
        await c.sink.close();
        return got;
      }),
    ]);
    sameBytes(received, data);
    // Server writes, client reads.
    const [, got2] = await Promise.all([
      l.accept().then(async (c) => {
        await send(c.sink, data);
        await c.source.close();
      }),
      openSource(l.uri).then(receive),
    ]);
    sameBytes(got2, data);
  } finally {
    await l.close();
  }
}

test('tcp: listen on port 0 reports the real port; same bytes both ways', async () => {
  const l = await listen('tcp:127.0.0.1:0');
  assert.match(l.uri, /^tcp:127\.0\.0\.1:\d+$/);
  assert.ok(l.port! > 0);
  await l.close();
  await throughListener('tcp:127.0.0.1:0');
});

test('tcp: IPv6 loopback in [::1]:port form', async () => {
  await throughListener('tcp:[::1]:0');
});

test('unix: same bytes both ways', async () => {
  await throughListener(`unix:${join(dir, 'mig.sock')}`);
});

test('tcp: a duplex connection carries a return path while the main stream is half-closed', async () => {
  const l = await listen('tcp:127.0.0.1:0');
  try {
    const server = (async () => {
      const c = await l.accept();
      const got = await receive(c.source);
      // Reply on the return path after the client finished its stream.
      const w = new ChannelWriter(c.sink);
      w.u32(got.length);
      await w.close();
    })();
    const d = await openDuplex(l.uri);
    await send(d.sink, data.subarray(0, 100_000));
    const r = new ChannelReader(d.source);
    assert.equal(await r.retry(() => r.u32()), 100_000);
    assert.equal(await r.atEnd(), true);
    await r.close();
    await server;
  } finally {
    await l.close();
  }
});

test('tcp: refused connection and closed listener are clean errors', async () => {
  const l = await listen('tcp:127.0.0.1:0');
  const uri = l.uri;
  const waiting = rejectsWith(() => l.accept(), 'E_CLOSED');
  await l.close();
  await waiting;
  await rejectsWith(() => l.accept(), 'E_CLOSED');
  const e = await rejectsWith(() => openSource(uri), 'E_IO');
  assert.equal(e.actual, 'ECONNREFUSED');
  await rejectsWith(() => listen('exec:cat'), 'E_USAGE');
});

test('tcp: a peer that disconnects mid-stream gives E_IO or E_TRUNCATED at the right offset', async () => {
  const l = await listen('tcp:127.0.0.1:0');
  try {
    const client = await openSink(l.uri);
    const c = await l.accept();
    await client.write(Uint8Array.of(0, 0, 0, 8, 1, 2));
    await client.close();
    const r = new ChannelReader(c.source);
    const n = await r.retry(() => r.u32());
    const e = await rejectsWith(() => r.retry(() => r.bytesView(n)), 'E_TRUNCATED');
    assert.equal(e.offset, 4);
    await r.close();
    await c.sink.close();
  } finally {
    await l.close();
  }
});

test('stdio: - copies stdin to stdout through a child process', async () => {
  const channel = new URL('../../src/channel/index.js', import.meta.url).href;
  const script = `
    const c = await import(${JSON.stringify(channel)});
    const r = new c.ChannelReader(await c.openSource('-'));
    const w = new c.ChannelWriter(await c.openSink('-'));
    await c.copyChannel(r, w);
    await w.close();
    await r.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => chunks.push(b));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.end(data.subarray(0, MiB));
  assert.equal(await exited, 0);
  sameBytes(Buffer.concat(chunks), data.subarray(0, MiB));
});
