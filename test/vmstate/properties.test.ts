/**
 * Property tests: random descriptions (every field kind, nesting, arrays, subsections, version
 * and existence gates) with random valid states round-trip through the binary visitors, in
 * random chunkings; any truncation fails with E_TRUNCATED (or stops cleanly at a subsection
 * boundary, where the rest would belong to an outer level) and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChannelReader } from '../../src/channel/reader.js';
import { MemorySource } from '../../src/channel/transports/memory.js';
import { isVmsError } from '../../src/errors.js';
import { BinaryInputVisitor } from '../../src/format/binary/index.js';
import * as v from '../../src/vmstate/index.js';
import type { AnyVmsd, Field, ScalarType } from '../../src/vmstate/index.js';
import { hex, saveBytes } from './helpers.js';

type Obj = Record<string, unknown>;

// ---- a model of descriptions, generated first, then built with the real builders ----------

type Elem = { k: 'scalar'; t: ScalarType; check: boolean } | { k: 'struct'; d: GenDesc };
type GenField =
  | Elem
  | { k: 'vstruct'; d: GenDesc; version: number }
  | { k: 'array'; elem: Elem; n: number }
  | { k: 'varray'; elem: Elem; countType: 'uint8' | 'uint16' | 'uint32' | 'int32'; multiply: number }
  | { k: 'pointers'; elem: Elem; n: number }
  | { k: 'buffer'; n: number }
  | { k: 'vbuffer'; multiply: number }
  | { k: 'unused'; n: number }
  | { k: 'bitmap'; bits: number | 'var' }
  | { k: 'nullptr' }
  | { k: 'list'; d: GenDesc }
  | { k: 'tree'; key: 'direct' | GenDesc; value: GenDesc };
interface GenSlot {
  f: GenField;
  since: number;
  gated: boolean;
}
interface GenDesc {
  /** False inside list/tree elements, which load into fresh zeroed structs (no NULL slots, no checks). */
  checks: boolean;
  version: number;
  minVersion: number;
  slots: GenSlot[];
  subs: GenDesc[];
}

const SCALARS: ScalarType[] = ['bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'int32le', 'timer', 'string'];
const CHECKABLE = new Set<ScalarType>(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

/** `checks` false inside list/tree elements: QEMU loads those into fresh zeroed structs. */
function arbDesc(depth: number, checks: boolean): fc.Arbitrary<GenDesc> {
  const scalar: fc.Arbitrary<Elem> = fc.record({
    k: fc.constant('scalar' as const),
    t: fc.constantFrom(...SCALARS.filter((t) => checks || t !== 'int32le')),
    check: checks ? fc.boolean() : fc.constant(false),
  });
  const elem: fc.Arbitrary<Elem> =
    depth > 0 ? fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: arbDesc(depth - 1, checks).map((d) => ({ k: 'struct' as const, d })) }) : scalar;
  const kids = depth > 0 ? arbDesc(depth - 1, checks) : undefined;
  const listKid = depth > 0 ? arbDesc(depth - 1, false) : undefined;
  const fields: fc.Arbitrary<GenField>[] = [
    elem,
    fc.record({ k: fc.constant('array' as const), elem, n: fc.integer({ min: 0, max: 4 }) }),
    fc.record({
      k: fc.constant('varray' as const),
      elem,
      countType: fc.constantFrom('uint8' as const, 'uint16' as const, 'uint32' as const, 'int32' as const),
      multiply: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({ k: fc.constant('pointers' as const), elem, n: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ k: fc.constant('buffer' as const), n: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ k: fc.constant('vbuffer' as const), multiply: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ k: fc.constant('unused' as const), n: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ k: fc.constant('bitmap' as const), bits: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constant('var' as const)) }),
    fc.constant({ k: 'nullptr' as const }),
  ];
  if (kids !== undefined && listKid !== undefined) {
    fields.push(
      kids.chain((d) => fc.integer({ min: d.minVersion, max: d.version }).map((version) => ({ k: 'vstruct' as const, d, version }))),
      listKid.map((d) => ({ k: 'list' as const, d })),
      fc.record({ k: fc.constant('tree' as const), key: fc.oneof(fc.constant('direct' as const), listKid), value: listKid }),
    );
  }
  return fc.integer({ min: 1, max: 3 }).chain((version) =>
    fc.record({
      checks: fc.constant(checks),
      version: fc.constant(version),
      minVersion: fc.integer({ min: 0, max: version }),
      slots: fc.array(
        fc.record({ f: fc.oneof(...fields), since: fc.integer({ min: 0, max: version }), gated: fc.boolean() }),
        { minLength: 1, maxLength: 5 },
      ),
      subs: depth > 0 && kids !== undefined ? fc.array(arbDesc(depth - 1, checks), { maxLength: 2 }) : fc.constant([]),
    }),
  );
}

/** A built description plus what the tests need to make states and targets for it. */
interface Built {
  desc: AnyVmsd;
  gen: GenDesc;
  /** Field names per slot (count/size fields come before their slot). */
  names: string[];
  gate: string;
  subs: Built[];
  structs: Map<GenDesc, Built>;
}

function build(gen: GenDesc, name: string, ids: { n: number }): Built {
  const structs = new Map<GenDesc, Built>();
  const fresh = (): string => `x${ids.n++}`;
  // Unique names that are never a prefix of one another: QEMU's prefix rule would otherwise let
  // a nested struct claim its parent's subsection (a real hazard of the wire format).
  const sub = (d: GenDesc): AnyVmsd => {
    const b = build(d, `${fresh()}:`, ids);
    structs.set(d, b);
    return b.desc;
  };
  const elemField = (e: Elem): Field<unknown> =>
    e.k === 'struct' ? v.struct(sub(e.d)) : scalarField(e.t, e.check);
  const gate = `${name.replace(/\W/g, '_')}g`;
  const fields: Record<string, Field<unknown>> = { [gate]: v.bool() };
  const names: string[] = [];
  for (const slot of gen.slots) {
    const fname = fresh();
    names.push(fname);
    // A gated field is present when the gate bool is true (QEMU field_exists); else `since` decides.
    const o = slot.gated ? { exists: (s: Obj) => s[gate] === true } : { since: slot.since };
    const f = slot.f;
    switch (f.k) {
      case 'scalar':
        fields[fname] = scalarField(f.t, f.check, o);
        break;
      case 'struct':
        fields[fname] = v.struct(sub(f.d), o);
        break;
      case 'vstruct':
        fields[fname] = v.vstruct(sub(f.d), f.version, o);
        break;
      case 'array':
        fields[fname] = v.array(elemField(f.elem), f.n, o);
        break;
      case 'pointers':
        fields[fname] = v.pointerArray(elemField(f.elem), f.n, o);
        break;
      case 'varray':
        fields[`${fname}_n`] = scalarField(f.countType, false);
        fields[fname] = v.varray(elemField(f.elem), `${fname}_n`, { ...o, multiply: f.multiply });
        break;
      case 'buffer':
        fields[fname] = v.buffer(f.n, o);
        break;
      case 'vbuffer':
        fields[`${fname}_n`] = v.uint32();
        fields[fname] = v.vbuffer(`${fname}_n`, { ...o, multiply: f.multiply });
        break;
      case 'unused':
        fields[fname] = v.unused(f.n, o);
        break;
      case 'bitmap':
        if (f.bits === 'var') fields[`${fname}_n`] = v.int32();
        fields[fname] = v.bitmap(f.bits === 'var' ? `${fname}_n` : f.bits, o);
        break;
      case 'nullptr':
        fields[fname] = v.nullPointer(o);
        break;
      case 'list':
        fields[fname] = v.list(sub(f.d), o);
        break;
      case 'tree':
        fields[fname] = f.key === 'direct' ? v.tree('direct', sub(f.value), o) : v.tree(sub(f.key), sub(f.value), o);
        break;
    }
  }
  const subs = gen.subs.map((d, i) => build(d, `${name}/${i}`, ids));
  const desc = v.vmstate({
    name,
    version: gen.version,
    minVersion: gen.minVersion,
    fields,
    subsections: subs.map((s) => s.desc),
    // A subsection is needed when its own gate is set.
    needed: name.includes('/') ? (s: Obj) => s[gate] === true : undefined,
  });
  return { desc, gen, names, gate, subs, structs };
}

function scalarField(t: ScalarType, check: boolean, o: v.Presence = {}): Field<unknown> {
  const withCheck = { ...o, equal: check && CHECKABLE.has(t) };
  switch (t) {
    case 'bool': return v.bool(o);
    case 'int8': return v.int8(withCheck);
    case 'int16': return v.int16(withCheck);
    case 'int32': return v.int32(withCheck);
    case 'int64': return v.int64(withCheck);
    case 'uint8': return v.uint8(withCheck);
    case 'uint16': return v.uint16(withCheck);
    case 'uint32': return v.uint32(withCheck);
    case 'uint64': return v.uint64(withCheck);
    case 'int32le': return v.int32le(o);
    case 'timer': return v.timer(o);
    case 'string': return v.string(o);
  }
}

// ---- states -----------------------------------------------------------------------------------

function arbScalar(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case 'bool': return fc.boolean();
    case 'int8': return fc.integer({ min: -128, max: 127 });
    case 'int16': return fc.integer({ min: -32768, max: 32767 });
    case 'int32': return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'int32le': return fc.integer({ min: 0, max: 0x7fffffff });
    case 'uint8': return fc.integer({ min: 0, max: 255 });
    case 'uint16': return fc.integer({ min: 0, max: 65535 });
    case 'uint32': return fc.integer({ min: 0, max: 0xffffffff });
    case 'int64':
    case 'timer': return fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    case 'uint64': return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 'string': return fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }).map((c) => String.fromCharCode(...c));
  }
}

const bytesOf = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

function arbState(b: Built): fc.Arbitrary<Obj> {
  const elem = (e: Elem): fc.Arbitrary<unknown> => (e.k === 'scalar' ? arbScalar(e.t) : arbState(b.structs.get(e.d)!));
  const parts: fc.Arbitrary<Obj>[] = [fc.boolean().map((g) => ({ [b.gate]: g }))];
  b.gen.slots.forEach((slot, i) => {
    const n = b.names[i]!;
    const f = slot.f;
    const one = (a: fc.Arbitrary<unknown>): fc.Arbitrary<Obj> => a.map((x) => ({ [n]: x }));
    switch (f.k) {
      case 'scalar':
        parts.push(one(arbScalar(f.t)));
        break;
      case 'struct':
      case 'vstruct':
        parts.push(one(arbState(b.structs.get(f.d)!)));
        break;
      case 'array':
        parts.push(one(fc.array(elem(f.elem), { minLength: f.n, maxLength: f.n })));
        break;
      case 'pointers':
        parts.push(one(fc.array(b.gen.checks ? fc.option(elem(f.elem), { nil: null }) : elem(f.elem), { minLength: f.n, maxLength: f.n })));
        break;
      case 'varray':
        parts.push(
          fc.integer({ min: 0, max: 3 }).chain((count) =>
            fc.array(elem(f.elem), { minLength: count * f.multiply, maxLength: count * f.multiply }).map((a) => ({ [`${n}_n`]: count, [n]: a })),
          ),
        );
        break;
      case 'buffer':
        parts.push(one(bytesOf(f.n)));
        break;
      case 'vbuffer':
        parts.push(fc.integer({ min: 0, max: 20 }).chain((size) => bytesOf(size * f.multiply).map((a) => ({ [`${n}_n`]: size, [n]: a }))));
        break;
      case 'bitmap': {
        const words = (bits: number): fc.Arbitrary<BigUint64Array> =>
          fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: Math.ceil(bits / 64), maxLength: Math.ceil(bits / 64) }).map((w) => BigUint64Array.from(w));
        if (f.bits === 'var') parts.push(fc.integer({ min: 0, max: 150 }).chain((bits) => words(bits).map((w) => ({ [`${n}_n`]: bits, [n]: w }))));
        else parts.push(one(words(f.bits)));
        break;
      }
      case 'list':
        parts.push(one(fc.array(arbState(b.structs.get(f.d)!), { maxLength: 3 })));
        break;
      case 'tree': {
        const key = f.key === 'direct' ? fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) : arbState(b.structs.get(f.key)!);
        parts.push(one(fc.array(fc.tuple(key, arbState(b.structs.get(f.value)!)), { maxLength: 3 })));
        break;
      }
      case 'unused':
      case 'nullptr':
        break;
    }
  });
  for (const s of b.subs) parts.push(arbState(s));
  return fc.tuple(...parts).map((ps) => Object.assign({}, ...ps) as Obj);
}

/**
 * A load target for `state`: zeros everywhere, except what the receiver must already have
 * (values of equal / le fields, and which pointer slots are NULL), as a real receiver would.
 */
function targetFor(b: Built, state: Obj): Obj {
  const t = v.emptyState(b.desc) as Obj;
  const elem = (e: Elem, x: unknown): unknown => (e.k === 'struct' ? targetFor(b.structs.get(e.d)!, x as Obj) : e.check || e.t === 'int32le' ? x : zeroLike(x));
  b.gen.slots.forEach((slot, i) => {
    const n = b.names[i]!;
    const f = slot.f;
    const x = state[n];
    if (f.k === 'scalar') t[n] = elem(f, x);
    else if (f.k === 'struct' || f.k === 'vstruct') t[n] = targetFor(b.structs.get(f.d)!, x as Obj);
    else if (f.k === 'array' || f.k === 'varray') t[n] = (x as unknown[]).map((e) => elem(f.elem, e));
    else if (f.k === 'pointers') t[n] = (x as unknown[]).map((e) => (e === null ? null : elem(f.elem, e)));
  });
  for (const s of b.subs) Object.assign(t, pick(targetFor(s, state), s));
  return t;
}

function pick(o: Obj, b: Built): Obj {
  const out: Obj = { [b.gate]: o[b.gate] };
  for (const n of Object.keys(b.desc.fields)) if (n in o) out[n] = o[n];
  for (const s of b.subs) Object.assign(out, pick(o, s));
  return out;
}

function zeroLike(x: unknown): unknown {
  if (typeof x === 'bigint') return 0n;
  if (typeof x === 'number') return 0;
  if (typeof x === 'boolean') return false;
  if (typeof x === 'string') return '';
  return x;
}

const arbCase = arbDesc(2, true).chain((gen) => {
  const built = build(gen, 'dev', { n: 0 });
  return fc.tuple(fc.constant(built), arbState(built));
});

test('any description with any valid state round-trips through the binary visitors, in any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, fc.integer({ min: 1, max: 9 }), async ([built, state], piece) => {
      // With the EOF byte after the state, as in a real stream (something always follows a section).
      const wire = await saveBytes(built.desc, state);
      const target = targetFor(built, state);
      const before = structuredClone(target);
      const reader = new ChannelReader(new MemorySource(wire, piece), { bufferSize: 8 });
      const loaded = await reader.retry(() => v.load(built.desc, new BinaryInputVisitor(reader), target));
      assert.equal(reader.offset, wire.length - 1, 'load consumed exactly what save wrote');
      assert.deepEqual(target, before, 'target untouched');
      // Loading then saving again gives the same bytes: nothing on the wire was lost or invented.
      assert.equal(hex(await saveBytes(built.desc, loaded)), hex(wire));
    }),
    { numRuns: 150 },
  );
});

test('a truncated stream gives E_TRUNCATED (or stops at a subsection boundary) and applies nothing', async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, fc.double({ min: 0, max: 1, noNaN: true }), async ([built, state], where) => {
      const wire = await saveBytes(built.desc, state, false);
      if (wire.length === 0) return;
      const cut = Math.min(wire.length - 1, Math.floor(where * wire.length));
      const target = targetFor(built, state);
      const before = structuredClone(target);
      const reader = ChannelReader.fromBytes(wire.subarray(0, cut));
      try {
        v.load(built.desc, new BinaryInputVisitor(reader), target);
        // Only a cut right before a subsection header can load: the loader sees no subsection.
        assert.equal(wire[cut], 0x05, `loaded a prefix of ${cut}/${wire.length} bytes not at a subsection`);
        assert.equal(reader.offset, cut);
      } catch (e) {
        assert.ok(isVmsError(e), `not a VmsError: ${String(e)}`);
        assert.equal(e.code, 'E_TRUNCATED', e.message);
        assert.equal(e.path[0], 'dev');
      }
      assert.deepEqual(target, before);
    }),
    { numRuns: 150 },
  );
});

test('random bytes into any description give a state or a VmsError, never another error', () => {
  fc.assert(
    fc.property(arbCase, fc.uint8Array({ maxLength: 300 }), ([built], junk) => {
      const reader = ChannelReader.fromBytes(junk);
      try {
        v.load(built.desc, new BinaryInputVisitor(reader), v.emptyState(built.desc), built.desc.version, { maxElements: 10_000, maxBytes: 1 << 16 });
      } catch (e) {
        assert.ok(isVmsError(e), `not a VmsError: ${String(e)}`);
        assert.ok(e.offset === undefined || (e.offset >= 0 && e.offset <= junk.length), `offset ${e.offset} outside the input`);
        assert.equal(e.path[0], 'dev');
      }
    }),
    { numRuns: 300 },
  );
});
