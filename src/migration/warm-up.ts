/**
 * Compiling a destination's receiving code before the stream arrives. In a fresh process V8
 * runs the hot loops (page records, lent socket chunks) in its interpreter until they have
 * run often enough to be optimised. On the bench (bench/migration.ts) a fresh `receive
 * --sample` took the first 120 MB 30-40 ms later than a warmed one, and the whole 539 MB
 * migration about 50 ms (a tenth) longer. `warmUpReceiving` sends a small migration from a
 * scratch machine through the same source, channel and destination code into scratch memory,
 * as `-mem-prealloc` pays for memory before the stream: it touches no real machine.
 */
import { MemorySink } from '../channel/transports/memory.js';
import type { ChunkLendingSource } from '../channel/reader.js';
import { MigrationDestination } from './destination.js';
import { GuestMemory } from './guest-memory.js';
import type { MigratableMachine } from './handlers.js';
import { fillXorshift } from './live-machine.js';
import { MigrationSource } from './source.js';

/** Scratch RAM per warm-up pass: half pseudo-random pages, half zero pages, as a busy guest. */
const WARM_UP_RAM_BYTES = 16 << 20;
/** Passes of the scratch stream: V8 optimises the hot loops during the first, uses them in the next. */
const WARM_UP_PASSES = 3;
/** Lent chunk size: socket slabs hand out up to 1 MiB per read. */
const WARM_UP_CHUNK_BYTES = 256 << 10;

/** Receives a few small synthetic migrations so the receiving code is compiled; takes some tens of ms. */
export async function warmUpReceiving(pageSize?: number): Promise<void> {
  const sink = new MemorySink();
  await new MigrationSource(scratchMachine(pageSize, true)).migrate({ sink });
  const stream = sink.bytes();
  for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
    await new MigrationDestination(scratchMachine(pageSize, false)).receive({ source: lender(stream) });
  }
}

function scratchMachine(pageSize: number | undefined, filled: boolean): MigratableMachine {
  const memory = new GuestMemory(pageSize);
  const block = memory.addBlock('vmstream.warm-up', WARM_UP_RAM_BYTES);
  if (filled) {
    const half = WARM_UP_RAM_BYTES / 2;
    fillXorshift(new Uint32Array(memory.bytesOf(block).buffer, 0, half / 4), 1);
    memory.markDirty(block, 0, half);
  }
  return { machineType: 'vmstream-warm-up', memory, devices: [], stop: () => undefined, resume: () => undefined };
}

/** A source lending `bytes` in chunks, as a socket source lends its slabs. */
function lender(bytes: Uint8Array): ChunkLendingSource {
  let at = 0;
  const next = (max: number): Uint8Array => {
    const view = bytes.subarray(at, Math.min(bytes.length, at + max));
    at += view.length;
    return view;
  };
  return {
    read: async (into) => {
      const view = next(into.length);
      into.set(view);
      return view.length;
    },
    readView: async () => next(WARM_UP_CHUNK_BYTES),
    close: async () => undefined,
  };
}
