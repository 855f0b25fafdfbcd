/** Test helpers: save to bytes and load from bytes through the binary visitors. */
import assert from 'node:assert/strict';
import { ChannelReader } from '../../src/channel/reader.js';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { isVmsError } from '../../src/errors.js';
import type { VmsCode, VmsError } from '../../src/errors.js';
import { BinaryInputVisitor, BinaryOutputVisitor } from '../../src/format/binary/index.js';
import { load, save } from '../../src/vmstate/index.js';
import type { AnyVmsd, LoadOptions, StateOf } from '../../src/vmstate/index.js';

/** QEMU_VM_EOF, appended after the state as QEMU's test harness does. */
export const EOF = 0x00;

/** Saves `state` and appends one EOF byte (as test-vmstate.c's save_vmstate). */
export async function saveBytes<D extends AnyVmsd>(desc: D, state: StateOf<D>, withEof = true): Promise<Uint8Array> {
  const sink = new MemorySink();
  const w = new ChannelWriter(sink, { chunkSize: 64 });
  save(desc, state, new BinaryOutputVisitor(w));
  if (withEof) w.u8(EOF);
  await w.close();
  return sink.bytes();
}

/** Loads from bytes; returns the state and the reader (to check what is left). */
export function loadBytes<D extends AnyVmsd>(
  desc: D,
  bytes: Uint8Array,
  target: StateOf<D>,
  version: number = desc.version,
  options?: LoadOptions,
): { state: StateOf<D>; reader: ChannelReader } {
  const reader = ChannelReader.fromBytes(bytes);
  const state = load(desc, new BinaryInputVisitor(reader), target, version, options);
  return { state, reader };
}

/** Loads, then requires the EOF byte and nothing after it (test-vmstate.c's "must reach EOF"). */
export function loadAll<D extends AnyVmsd>(desc: D, bytes: Uint8Array, target: StateOf<D>, version?: number): StateOf<D> {
  const { state, reader } = loadBytes(desc, bytes, target, version);
  assert.equal(reader.u8(), EOF, 'EOF byte follows the state');
  assert.equal(reader.buffered, 0, 'nothing after EOF');
  return state;
}

/** Runs `fn` and returns the VmsError it throws, asserting its code. */
export function expectVmsError(fn: () => unknown, code: VmsCode): VmsError {
  try {
    fn();
  } catch (e) {
    assert.ok(isVmsError(e), `expected a VmsError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected VmsError ${code}, but nothing was thrown`);
}

/**
 * QEMU's load_vmstate truncation checks: 0 bytes, size-2, the first half and the second half
 * must all fail with E_TRUNCATED (QEMU only asks for a failure; ours is typed), and the target
 * must come out untouched.
 */
export function checkTruncations<D extends AnyVmsd>(desc: D, wire: Uint8Array, target: StateOf<D>, version?: number): void {
  const before = structuredClone(target);
  const half = Math.floor(wire.length / 2);
  const cuts: [string, Uint8Array][] = [['empty', wire.subarray(0, 0)]];
  if (wire.length > 3) {
    cuts.push(['size-2', wire.subarray(0, wire.length - 2)]);
    cuts.push(['first half', wire.subarray(0, half)]);
    cuts.push(['second half', wire.subarray(half, half * 2)]);
  }
  for (const [what, bytes] of cuts) {
    const e = expectVmsError(() => loadBytes(desc, bytes, target, version), 'E_TRUNCATED');
    assert.ok(e.offset !== undefined, `${what}: error has an offset`);
    assert.equal(e.path[0], desc.name, `${what}: path starts with the description`);
  }
  assert.deepEqual(target, before, 'a failed load applies nothing');
}

/** Hex dump for assertion messages. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
