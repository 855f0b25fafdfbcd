// Live migration with a real QEMU 7.2: `vmstream receive` accepts QEMU's `migrate tcp:` and
// writes a stream that a second QEMU loads back (-incoming "exec:cat FILE"); `vmstream send`
// migrates that stream into a QEMU started with -incoming tcp:, which reaches `completed`.
// Fails when QEMU is missing unless VMSTREAM_SKIP_INTEROP=1.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchQemu, qemuAvailable, shellQuote, QEMU_BINARY } from '../../tools/qemu/launch.js';
import { sendFile } from '../../src/cli/commands/send.js';

const skip = process.env['VMSTREAM_SKIP_INTEROP'] === '1' ? 'VMSTREAM_SKIP_INTEROP=1: real-QEMU interop tests skipped' : false;
/** A 64 MiB pc guest stopped at reset, with a deterministic RTC. */
const MACHINE = ['-M', 'pc', '-m', '64', '-S', '-rtc', 'base=2020-01-01T00:00:00,clock=vm'];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `vmstream receive tcp:127.0.0.1:0 -o FILE --announce --json` as a child process. */
async function startReceive(file: string, extra: readonly string[] = []): Promise<{ uri: string; done: Promise<{ code: number | null; out: string; err: string }> }> {
  const url = new URL('../../src/cli/commands/receive.js', import.meta.url).href;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); await m.receiveCommand().parseAsync(process.argv.slice(1), { from: 'user' });`, 'tcp:127.0.0.1:0', '-o', file, '--announce', '--json', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (err += s));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
  const uri = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (s: string) => {
      out += s;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { listening: string }).listening);
    });
    void done.then((d) => reject(new Error(`vmstream receive exited ${d.code}: ${d.err}`)));
  });
  return { uri, done };
}

test('QEMU is installed (set VMSTREAM_SKIP_INTEROP=1 to skip these tests instead)', { skip }, async () => {
  assert.ok(await qemuAvailable(), `${QEMU_BINARY} cannot be run; install qemu-system-x86 (scripts/ensure-deps.sh does)`);
});

test('vmstream receive takes a live migration from QEMU; the file loads back into QEMU; vmstream send migrates it into QEMU', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-qemu-live-'));
  const file = join(dir, 'from-qemu.mig');
  const handles: { quit(): Promise<unknown> }[] = [];
  try {
    // 1. QEMU (source) → vmstream receive.
    const recv = await startReceive(file);
    const src = await launchQemu({ args: MACHINE });
    handles.push(src);
    await src.qmp.execute('migrate', { uri: recv.uri });
    const out = await src.waitMigration({ timeoutMs: 60_000 });
    assert.equal(out.status, 'completed', out.error);
    const r = await recv.done;
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out.trim().split('\n').pop()!) as { status: string; bytes: number; sections: number };
    assert.equal(summary.status, 'completed');
    const bytes = readFileSync(file);
    assert.equal(bytes.length, summary.bytes);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);
    assert.ok(summary.sections > 30, `sections checked: ${summary.sections}`);

    // 2. The written stream loads back into QEMU.
    const back = await launchQemu({ args: [...MACHINE, '-incoming', `exec:cat ${shellQuote(file)}`] });
    handles.push(back);
    const loaded = await back.waitMigration({ timeoutMs: 60_000 });
    assert.equal(loaded.status, 'completed', loaded.error);

    // 3. vmstream send → QEMU -incoming tcp:.
    const port = await freePort();
    const dst = await launchQemu({ args: [...MACHINE, '-incoming', `tcp:127.0.0.1:${port}`] });
    handles.push(dst);
    const sent = await sendFile(file, `tcp:127.0.0.1:${port}`);
    assert.equal(sent.bytes, bytes.length);
    const received = await dst.waitMigration({ timeoutMs: 60_000 });
    assert.equal(received.status, 'completed', received.error);
  } finally {
    for (const h of handles) await h.quit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('QEMU refuses a stream damaged on the way (vmstream send of a truncated file)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-qemu-live-'));
  const handles: { quit(): Promise<unknown> }[] = [];
  try {
    const file = join(dir, 'x.mig');
    const src = await launchQemu({ args: MACHINE });
    handles.push(src);
    await src.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(file)}` });
    assert.equal((await src.waitMigration()).status, 'completed');
    const whole = readFileSync(file);
    const cut = join(dir, 'cut.mig');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const port = await freePort();
    const dst = await launchQemu({ args: [...MACHINE, '-incoming', `tcp:127.0.0.1:${port}`] });
    handles.push(dst);
    await sendFile(cut, `tcp:127.0.0.1:${port}`);
    const outcome = await dst.waitMigration({ timeoutMs: 60_000 });
    assert.notEqual(outcome.status, 'completed');
  } finally {
    for (const h of handles) await h.quit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vmstream receive --to ber converts QEMU\'s live migration on the fly; converted back, QEMU loads it', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmstream-qemu-live-'));
  const berFile = join(dir, 'from-qemu.ber');
  const handles: { quit(): Promise<unknown> }[] = [];
  try {
    const recv = await startReceive(berFile, ['--to', 'ber']);
    const src = await launchQemu({ args: MACHINE });
    handles.push(src);
    await src.qmp.execute('migrate', { uri: recv.uri });
    assert.equal((await src.waitMigration({ timeoutMs: 60_000 })).status, 'completed');
    const r = await recv.done;
    assert.equal(r.code, 0, r.err);
    const ber = readFileSync(berFile);
    assert.deepEqual([...ber.subarray(0, 4)], [0x7f, 0xd6, 0xcd, 0x53]);
    // BER → QEMU binary with the stream layer, then QEMU loads it.
    const { readAnyStream } = await import('../../src/stream/ber/any.js');
    const { StreamWriter } = await import('../../src/stream/writer.js');
    const { ChannelWriter } = await import('../../src/channel/writer.js');
    const { openSink } = await import('../../src/channel/open.js');
    const back = join(dir, 'back.mig');
    const w = new ChannelWriter(await openSink(`file:${back}`));
    await readAnyStream(new Uint8Array(ber), new StreamWriter(w));
    await w.close();
    const dst = await launchQemu({ args: [...MACHINE, '-incoming', `exec:cat ${shellQuote(back)}`] });
    handles.push(dst);
    const loaded = await dst.waitMigration({ timeoutMs: 60_000 });
    assert.equal(loaded.status, 'completed', loaded.error);
  } finally {
    for (const h of handles) await h.quit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
