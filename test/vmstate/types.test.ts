/**
 * Type tests: the state type is inferred from a description, and a wrong state shape does not
 * compile. The `@ts-expect-error` lines fail the build if they ever start compiling; the test
 * below runs tsc on this file so `node:test` reports it too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { ChannelWriter } from '../../src/channel/writer.js';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { BinaryOutputVisitor } from '../../src/format/binary/index.js';
import {
  array,
  bool,
  buffer,
  describes,
  list,
  pointerArray,
  save,
  string,
  struct,
  timer,
  tree,
  uint16,
  uint64,
  uint8,
  unused,
  validate,
  vmstate,
} from '../../src/vmstate/index.js';
import type { StateOf } from '../../src/vmstate/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

const inner = vmstate({ name: 'inner', fields: { x: uint8() } });
const extra = vmstate({ name: 'dev/extra', fields: { on: bool() }, needed: (s) => s.on });
const dev = vmstate({
  name: 'dev',
  version: 2,
  fields: {
    a: uint8(),
    b: uint64({ since: 2 }),
    pad: unused(2),
    check: validate((s: { a: number }) => s.a < 10),
    s: string(),
    t: timer(),
    arr: array(uint16(), 2),
    ptrs: pointerArray(struct(inner), 2),
    nested: struct(inner),
    items: list(inner),
    buf: buffer(4),
    byKey: tree('direct', inner),
  },
  subsections: [extra],
  // Hooks see the inferred state.
  preSave: (s) => ({ ...s, a: s.a & 0xff }),
});

type Dev = StateOf<typeof dev>;
expectType<
  Equal<
    Dev,
    {
      a: number;
      b: bigint;
      s: string;
      t: bigint;
      arr: number[];
      ptrs: ({ x: number } | null)[];
      nested: { x: number };
      items: { x: number }[];
      buf: Uint8Array;
      byKey: [key: bigint, value: { x: number }][];
      on: boolean;
    }
  >
>();

const good: Dev = {
  a: 1,
  b: 2n,
  s: 'x',
  t: -1n,
  arr: [1, 2],
  ptrs: [{ x: 1 }, null],
  nested: { x: 1 },
  items: [],
  buf: new Uint8Array(4),
  byKey: [[1n, { x: 2 }]],
  on: true,
};
const out = new BinaryOutputVisitor(new ChannelWriter(new MemorySink()));

function wrongShapes(): void {
  save(dev, good, out);
  // @ts-expect-error 64-bit fields are bigint, not number
  save(dev, { ...good, b: 2 }, out);
  // @ts-expect-error a missing field
  save(dev, { a: 1 }, out);
  // @ts-expect-error unused bytes are not part of the state
  const withPad: Dev = { ...good, pad: 0 };
  // @ts-expect-error nested structs have their own shape
  save(dev, { ...good, nested: { y: 1 } }, out);
  // @ts-expect-error subsection fields are part of the state, with their types
  save(dev, { ...good, on: 1 }, out);
  // @ts-expect-error tree entries are [key, value] pairs
  save(dev, { ...good, byKey: [{ x: 2 }] }, out);
  vmstate({
    name: 'hooked',
    fields: { a: uint8() },
    // @ts-expect-error preSave must return the same state shape
    preSave: (s) => ({ ...s, a: 'x' }),
  });
  void withPad;
}
void wrongShapes;

// describes<S>() ties a description to an existing state type (QEMU's type_check macros).
interface Uart {
  divider: number;
  lsr: number;
  fifo: number[];
}
export const uartDesc = describes<Uart>()(vmstate({ name: 'uart', fields: { divider: uint16(), lsr: uint8(), fifo: array(uint8(), 16) } }));
// @ts-expect-error a field with another type than the state type
describes<Uart>()(vmstate({ name: 'uart', fields: { divider: uint64(), lsr: uint8(), fifo: array(uint8(), 16) } }));
// @ts-expect-error a renamed field
describes<Uart>()(vmstate({ name: 'uart', fields: { div: uint16(), lsr: uint8(), fifo: array(uint8(), 16) } }));
// @ts-expect-error a missing field
describes<Uart>()(vmstate({ name: 'uart', fields: { divider: uint16(), fifo: array(uint8(), 16) } }));

test('the type tests compile exactly as expected (tsc on this file)', () => {
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  // Run from the package root, which is two levels above dist/test/vmstate.
  const root = new URL('../../../', import.meta.url);
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--skipLibCheck', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', 'test/vmstate/types.test.ts'],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
