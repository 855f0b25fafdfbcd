/**
 * Property tests: random trees written by BerWriter with random definite/indefinite choices
 * read back as the same events, whatever the chunking; openssl's parser agrees on framing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ChannelWriter, type ByteSink } from '../../../src/channel/index.js';
import { BerWriter, TagClass, berTag, tagName, tlvSize, indefiniteTlvSize, type BerTag } from '../../../src/format/ber/index.js';
import { encode, events, hex } from './support.js';

type Node =
  | { readonly kind: 'prim'; readonly tag: BerTag; readonly contents: Uint8Array }
  | { readonly kind: 'cons'; readonly tag: BerTag; readonly indefinite: boolean; readonly children: readonly Node[] };

const CLASSES = [TagClass.Universal, TagClass.Application, TagClass.Context, TagClass.Private] as const;
const arbTag = fc
  .tuple(fc.constantFrom(...CLASSES), fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 2 ** 40 })))
  .filter(([c, n]) => !(c === TagClass.Universal && n === 0))
  .map(([c, n]) => berTag(c, n));

const arbNode: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('prim' as const), tag: arbTag, contents: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({
      kind: fc.constant('cons' as const),
      tag: arbTag,
      indefinite: fc.boolean(),
      children: fc.array(tie('node'), { maxLength: 5 }),
    }),
  ),
})).node;

function size(n: Node): number {
  if (n.kind === 'prim') return tlvSize(n.tag, n.contents.length);
  const inner = contentSize(n);
  return n.indefinite ? indefiniteTlvSize(n.tag, inner) : tlvSize(n.tag, inner);
}
const contentSize = (n: Node & { kind: 'cons' }): number => n.children.reduce((s, c) => s + size(c), 0);

function write(w: BerWriter, n: Node): void {
  if (n.kind === 'prim') {
    w.primitive(n.tag, n.contents);
    return;
  }
  if (n.indefinite) w.startIndefinite(n.tag);
  else w.startDefinite(n.tag, contentSize(n));
  for (const c of n.children) write(w, c);
  w.end();
}

/** The events the reader must produce for a tree, in the format of support.events(). */
function expected(n: Node, offset: number, depth: number, index: number, out: string[]): number {
  const name = tagName(n.tag.cls, n.tag.number);
  const t = n.tag.bytes.length;
  if (n.kind === 'prim') {
    const h = tlvSize(n.tag, n.contents.length) - n.contents.length;
    out.push(`P ${name} @${offset} h${h} l=${n.contents.length} d${depth} i${index} ${hex(n.contents)}`);
    return offset + h + n.contents.length;
  }
  const inner = contentSize(n);
  const h = n.indefinite ? t + 1 : tlvSize(n.tag, inner) - inner;
  out.push(`S ${name} @${offset} h${h} l=${n.indefinite ? 'inf' : inner} d${depth} i${index}`);
  let at = offset + h;
  n.children.forEach((c, i) => (at = expected(c, at, depth + 1, i, out)));
  if (n.indefinite) at += 2;
  out.push(`E ${name} @${offset} end=${at} d${depth}`);
  return at;
}

test('random trees round-trip through BerWriter and BerReader, in any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbNode, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 9 }), async (roots, piece) => {
      const bytes = await encode((w) => roots.forEach((r) => write(w, r)));
      const want: string[] = [];
      let at = 0;
      roots.forEach((r, i) => (at = expected(r, at, 0, i, want)));
      assert.equal(bytes.length, at);
      assert.equal(bytes.length, roots.reduce((s, r) => s + size(r), 0));
      assert.deepEqual(await events(bytes), want);
      assert.deepEqual(await events(bytes, { piece, wholePrimitiveLimit: 50 }), want);
    }),
    { numRuns: 150 },
  );
});

test('a definite container whose contents differ from the declared length is E_USAGE', async () => {
  await assert.rejects(encode((w) => w.startDefinite(berTag(TagClass.Universal, 16), 4).integer(1).end()), { code: 'E_USAGE' });
  await assert.rejects(encode((w) => w.startDefinite(berTag(TagClass.Universal, 16), 2).integer(300).end()), { code: 'E_USAGE' });
  await assert.rejects(encode((w) => w.end()), { code: 'E_USAGE' });
});

test('page-sized OCTET STRINGs reach the sink by reference, not copied', async () => {
  const seen: Uint8Array[] = [];
  const sink: ByteSink = { write: async (c) => void seen.push(c), close: async () => {}, destroy: () => {} };
  const out = new ChannelWriter(sink, { zeroCopyThreshold: 4096 });
  const w = new BerWriter(out);
  const pages = [new Uint8Array(4096).fill(1), new Uint8Array(4096).fill(2)];
  w.startIndefinite(berTag(TagClass.Application, 11330));
  for (const p of pages) w.octetString(p);
  w.end();
  await out.close();
  assert.ok(seen.includes(pages[0]!) && seen.includes(pages[1]!), 'the page arrays themselves were written');
});

const openssl = spawnSync('openssl', ['version']).status === 0;

test('openssl asn1parse agrees on offsets, depths, header and contents lengths', { skip: !openssl && 'openssl not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vms-ber-'));
  try {
    // openssl refuses tag numbers above INT_MAX >> 7 ("header too long").
    const small = (n: Node): boolean => n.tag.number < 2 ** 24 && (n.kind === 'prim' || n.children.every(small));
    const samples = fc.sample(arbNode.filter((n) => n.kind === 'cons' && small(n)), { numRuns: 25, seed: 42 });
    for (const [i, root] of samples.entries()) {
      const bytes = await encode((w) => write(w, root));
      const file = join(dir, `${i}.ber`);
      writeFileSync(file, bytes);
      const r = spawnSync('openssl', ['asn1parse', '-inform', 'DER', '-in', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      // "    5:d=1  hl=4 l=   3 cons: appl [ 8914 ]"; openssl prints end-of-contents as its own line.
      const theirs = r.stdout
        .split('\n')
        .map((l) => /^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+|inf)\s+(cons|prim):\s*(\S+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && m[6] !== 'EOC')
        .map((m) => `${m[1]} d${m[2]} h${m[3]} l=${m[4]}`);
      const ours = (await events(bytes))
        .filter((l) => !l.startsWith('E '))
        .map((l) => {
          const m = /@(\d+) h(\d+) l=(\d+|inf) d(\d+)/.exec(l)!;
          return `${m[1]} d${m[4]} h${m[2]} l=${m[3]}`;
        });
      assert.deepEqual(ours, theirs, `sample ${i}: ${hex(bytes)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('headers are copied even when the channel sends tiny runs by reference', async () => {
  const { MemorySink } = await import('../../../src/channel/index.js');
  const sink = new MemorySink();
  const out = new ChannelWriter(sink, { zeroCopyThreshold: 1 });
  const w = new BerWriter(out);
  w.startIndefinite(berTag(TagClass.Universal, 16)).integer(1).integer(300).boolean(true).end();
  await out.close();
  assert.equal(hex(sink.bytes()), '3080' + '020101' + '0202012c' + '0101ff' + '0000');
});

test('what openssl asn1parse rejects, the reader rejects too (it is stricter, never looser)', { skip: !openssl && 'openssl not installed' }, async () => {
  const { decodeError, unhex } = await import('./support.js');
  const { isVmsError } = await import('../../../src/errors.js');
  const dir = mkdtempSync(join(tmpdir(), 'vms-ber-'));
  try {
    const vectors = ['30 05 04 05 01 02 03', '04 ff', '30 03 02 82 00', '04 88 40 00 00 00 00 00 00 00', '02 01', '30 80 02 01 00', '30 02 00 00', '1f 05 00'];
    let opensslRejected = 0;
    for (const [i, v] of vectors.entries()) {
      const file = join(dir, `h${i}.ber`);
      writeFileSync(file, unhex(v));
      if (spawnSync('openssl', ['asn1parse', '-inform', 'DER', '-in', file]).status === 0) continue;
      opensslRejected++;
      assert.ok(isVmsError(await decodeError(unhex(v))), v);
    }
    assert.ok(opensslRejected >= 4, 'openssl rejected the usual framing errors');
    // And the reader also rejects what openssl lets through: 00 00 in a definite container,
    // an unterminated indefinite length, a high tag form for a low number.
    for (const v of ['30 02 00 00', '30 80 02 01 00', '1f 05 00']) assert.ok(isVmsError(await decodeError(unhex(v))), v);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const libtasn1 = spawnSync('asn1Decoding', ['--version']).error === undefined;

test('libtasn1 asn1Decoding decodes BerWriter output, definite and indefinite', { skip: !libtasn1 && 'libtasn1-bin not installed' }, async () => {
  const { UniversalTag, integerSize, utf8Length, encodeOid } = await import('../../../src/format/ber/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'vms-ber-'));
  try {
    const schema = join(dir, 'test.asn');
    writeFileSync(
      schema,
      'Test { 1 2 3 } DEFINITIONS IMPLICIT TAGS ::= BEGIN\n' +
        'Page ::= [APPLICATION 9040] SEQUENCE { addr INTEGER, data OCTET STRING, ok BOOLEAN, name UTF8String, oid OBJECT IDENTIFIER }\n' +
        'Pages ::= SEQUENCE OF Page\nEND\n',
    );
    const PAGE = berTag(TagClass.Application, 9040);
    const data = new Uint8Array(8).fill(7);
    const addrs = [0, 4096, 2 ** 40];
    const inner = (a: number): number =>
      tlvSize(UniversalTag.Integer, integerSize(a)) + tlvSize(UniversalTag.OctetString, data.length) + tlvSize(UniversalTag.Boolean, 1) +
      tlvSize(UniversalTag.UTF8String, utf8Length('pc.ram')) + tlvSize(UniversalTag.ObjectIdentifier, encodeOid('1.2.840').length);
    for (const indefinite of [false, true]) {
      const bytes = await encode((w) => {
        if (indefinite) w.startIndefinite(UniversalTag.Sequence);
        else w.startDefinite(UniversalTag.Sequence, addrs.reduce((s, a) => s + tlvSize(PAGE, inner(a)), 0));
        for (const a of addrs) {
          if (indefinite) w.startIndefinite(PAGE);
          else w.startDefinite(PAGE, inner(a));
          w.integer(a).octetString(data).boolean(true).utf8String('pc.ram').oid('1.2.840').end();
        }
        w.end();
      });
      const file = join(dir, `pages-${indefinite}.ber`);
      writeFileSync(file, bytes);
      const r = spawnSync('asn1Decoding', [schema, file, 'Test.Pages'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /addr\s+type:INTEGER\s+value:0x010000000000/);
      assert.equal((r.stdout.match(/value:1\.2\.840/g) ?? []).length, 3);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
