import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TagClass,
  choiceAlternatives,
  compileAsn1,
  firstTags,
  formatRanges,
  hasErrors,
  inRanges,
  tagKey,
  throwOnErrors,
} from '../../src/asn1/index.js';
import { isVmsError } from '../../src/errors.js';
import { compileFixtures, compileText, component, mustType, tagsOf, where } from './helpers.js';

const mod = (tagging: string, body: string): string => `M DEFINITIONS ${tagging} ::= BEGIN\n${body}\nEND`;

test('the constructs fixture compiles cleanly, with the expected tags', () => {
  const r = compileFixtures('Constructs.asn');
  assert.deepEqual(r.diagnostics, []);
  const rec = mustType(r, 'Record');
  assert.deepEqual(rec.def.components.map((c) => `${c.name}:${tagsOf(c.type)}${c.optional ? '?' : ''}${c.extension ? '+' : ''}`), [
    'id:INTEGER', 'name:UTF8String', 'kind:ENUMERATED?', 'flags:BIT STRING?',
    'shape:[0]?', // CHOICE under an IMPLICIT-default tag: explicit
    'note:[1] IA5String?', // written EXPLICIT
    'blob:[2]', 'when:GeneralizedTime', 'extra:[3]?+', 'added:[4]+', 'more:[5]+',
    'trailer:[PRIVATE 1]', // after the second "...": back in the root
  ]);
  assert.equal(tagsOf(rec), '[APPLICATION 7]');
  assert.equal(rec.def.extensible, true);
  assert.deepEqual(rec.def.components.map((c) => c.group), [
    undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, 0, 0, undefined,
  ]);
  assert.equal(formatRanges(component(rec, 'blob').size!), '8 | 16..32');
  assert.deepEqual(rec.def.components[2]!.default, { kind: 'integer', value: 0n, name: 'plain' });
  assert.deepEqual(rec.def.components[3]!.default, { kind: 'bits', bits: '' });
  assert.equal(tagsOf(mustType(r, 'Deep')), '[APPLICATION 1] [3]');
  assert.equal(mustType(r, 'Univ').kind, 'OCTET STRING'); // [UNIVERSAL 30] on another name is just a tag
  assert.equal(tagsOf(mustType(r, 'Univ')), 'BMPString');
  assert.equal(mustType(r, 'Wrapped').contains, rec);
  assert.equal(mustType(r, 'Rel').kind, 'RELATIVE-OID');
  assert.equal(mustType(r, 'Num').kind, 'REAL');
  assert.deepEqual(r.value('big'), { kind: 'integer', value: 123456789012345678901234567890n });
  assert.deepEqual(r.value('id-record'), { kind: 'oid', arcs: [1n, 3n, 6n, 1n, 4n, 1n, 99999n, 7n] });
  assert.deepEqual(r.modules.get('Constructs')!.oid, [1n, 3n, 6n, 1n, 4n, 1n, 99999n, 1n]);
});

test('ENUMERATED numbering (X.680 20): unnumbered root items fill gaps, additions follow the maximum', () => {
  const kind = mustType(compileFixtures('Constructs.asn'), 'Kind');
  assert.deepEqual(kind.def.named.map((n) => `${n.name}=${n.value}${n.extension ? '+' : ''}`), ['plain=0', 'fancy=5', 'other=1', 'later=6+']);
  assert.equal(kind.def.extensible, true);
});

test('value and size constraints reduce to ranges: unions, open bounds, intersections, serial constraints, MIN/MAX', () => {
  const r = compileFixtures('Constructs.asn');
  const numbers = mustType(r, 'Numbers');
  assert.equal(formatRanges(numbers.value!), 'MIN..0 | 11..19 | 100..MAX');
  assert.deepEqual(numbers.def.named.map((n) => [n.name, n.value]), [['zero', 0n], ['minusOne', -1n], ['limit', 64n]]);
  assert.ok(inRanges(numbers.value, -5n) && inRanges(numbers.value, 15n) && !inRanges(numbers.value, 10n) && !inRanges(numbers.value, 20n));
  assert.equal(formatRanges(mustType(r, 'Both').value!), '5..10');
  assert.equal(formatRanges(mustType(r, 'Ids').size!), '1..MAX');
  const names = mustType(r, 'Names');
  assert.equal(formatRanges(names.size!), '0..64'); // helperBound, imported from the other module
  assert.equal(formatRanges(names.def.element!.size!), '1..4, ...');
  assert.equal(names.def.element!.size!.extensible, true);
  const alpha = mustType(r, 'Alpha');
  assert.equal(formatRanges(alpha.size!), '3');
  assert.equal(formatRanges(alpha.alphabet!), '48..57 | 97..122'); // FROM ("a".."z" | "0".."9") as code points
  const from = compileText(mod('', 'A ::= PrintableString (FROM ("cab" | "x"))\nB ::= UTF8String (FROM ("a".."z") ^ FROM ("m".."\u00e9"))\nC ::= INTEGER (FROM ("a"))\nD ::= IA5String (FROM ("ab".."z"))'));
  assert.deepEqual(where(from.diagnostics), ['4:16 ASN1_BAD_VALUE', '5:24 ASN1_BAD_VALUE']);
  assert.equal(formatRanges(mustType(from, 'A').alphabet!), '97..99 | 120');
  assert.equal(formatRanges(mustType(from, 'B').alphabet!), '109..122');
  assert.equal(mustType(from, 'C').alphabet, undefined);
  const serial = compileText(mod('', 'T ::= OCTET STRING (SIZE (1..10)) (SIZE (5..20))\nU ::= T (SIZE (7..8))'));
  assert.deepEqual(serial.diagnostics, []);
  assert.equal(formatRanges(mustType(serial, 'T').size!), '5..10');
  assert.equal(formatRanges(mustType(serial, 'U').size!), '7..8');
});

test('WITH COMPONENTS: constraints on named components, PRESENT, ABSENT, full and partial specifications', () => {
  const restricted = mustType(compileFixtures('Constructs.asn'), 'Restricted'); // Record (WITH COMPONENTS { ..., shape ABSENT })
  assert.equal(restricted.def.components.some((c) => c.name === 'shape'), false);
  assert.equal(restricted.def.components.length, 11);
  const r = compileText(mod('IMPLICIT TAGS', `S ::= SEQUENCE { a [0] INTEGER OPTIONAL, b [1] INTEGER OPTIONAL, c [2] OCTET STRING }
P ::= S (WITH COMPONENTS { ..., a PRESENT, c (SIZE (4)) })
F ::= S (WITH COMPONENTS { b, c })
L ::= SEQUENCE { x INTEGER OPTIONAL } (WITH COMPONENTS { x (0..9) PRESENT })
E ::= S (WITH COMPONENTS { ..., nope ABSENT })
N ::= INTEGER (WITH COMPONENTS { ..., a PRESENT })`));
  assert.deepEqual(where(r.diagnostics), ['6:33 ASN1_UNKNOWN_REFERENCE', '7:16 ASN1_BAD_VALUE']);
  const p = mustType(r, 'P');
  assert.deepEqual(p.def.components.map((c) => `${c.name}${c.optional ? '?' : ''}`), ['a', 'b?', 'c']);
  assert.equal(formatRanges(component(p, 'c').size!), '4');
  assert.equal(component(mustType(r, 'S'), 'c').size, undefined, 'the parent definition is unchanged');
  assert.deepEqual(mustType(r, 'F').def.components.map((c) => c.name), ['b', 'c']); // full: unnamed optional a is absent
  const of = compileText(mod('', 'Names ::= SEQUENCE OF IA5String\nShort ::= Names (WITH COMPONENT (SIZE (1..8)))\nBad ::= INTEGER (WITH COMPONENT (1..2))\nInline ::= SET (WITH COMPONENT (0..7)) OF INTEGER'));
  assert.deepEqual(where(of.diagnostics), ['4:18 ASN1_BAD_VALUE']);
  assert.equal(formatRanges(mustType(of, 'Short').def.element!.size!), '1..8');
  assert.equal(formatRanges(mustType(of, 'Inline').def.element!.value!), '0..7');
  assert.equal(mustType(of, 'Names').def.element!.size, undefined);
  const l = mustType(r, 'L');
  assert.deepEqual(l.def.components.map((c) => [c.name, c.optional, formatRanges(c.type.value!)]), [['x', false, '0..9']]);
});

test('EXPLICIT TAGS module: written tags are explicit unless IMPLICIT', () => {
  const r = compileText(mod('EXPLICIT TAGS', 'S ::= SEQUENCE { a [0] INTEGER, b [1] IMPLICIT INTEGER, c [2] C }\nC ::= CHOICE { x NULL, y BOOLEAN }'));
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(mustType(r, 'S').def.components.map((c) => tagsOf(c.type)), ['[0] INTEGER', '[1]', '[2]']);
});

test('IMPLICIT TAGS module: implicit unless EXPLICIT, or the type is an untagged CHOICE or open type', () => {
  const r = compileText(mod('IMPLICIT TAGS', `S ::= SEQUENCE { a [0] INTEGER, b [1] EXPLICIT INTEGER, c [2] C, d [3] ANY, e [4] T, f [5] TYPE-IDENTIFIER.&Type }
C ::= CHOICE { x NULL, y BOOLEAN }
T ::= [APPLICATION 9] C`));
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(mustType(r, 'S').def.components.map((c) => tagsOf(c.type)), [
    '[0]', '[1] INTEGER', '[2]', '[3]', '[4]', '[5]',
  ]);
  // [APPLICATION 9] C: explicit (C is an untagged CHOICE); [4] T: implicit, replacing [APPLICATION 9]
  assert.equal(tagsOf(mustType(r, 'T')), '[APPLICATION 9]');
  assert.equal(component(mustType(r, 'S'), 'e').kind, 'CHOICE');
});

test('AUTOMATIC TAGS: components numbered in order (extension additions too), CHOICE components explicit, written tags switch it off', () => {
  const r = compileFixtures('Constructs.asn');
  const auto = mustType(r, 'Auto', 'Helpers');
  assert.deepEqual(auto.def.components.map((c) => tagsOf(c.type)), ['[0]', '[1]', '[2]']);
  assert.equal(component(auto, 'second').kind, 'CHOICE');
  assert.deepEqual(mustType(r, 'AutoChoice').def.components.map((c) => tagsOf(c.type)), ['[0]', '[1]']);
  assert.deepEqual(mustType(r, 'Manual').def.components.map((c) => tagsOf(c.type)), ['[5]', 'BOOLEAN']);
  const ext = compileText(mod('AUTOMATIC TAGS', 'S ::= SEQUENCE { a INTEGER, ..., b BOOLEAN, [[ c NULL ]], ..., d REAL }\nT ::= SEQUENCE { a INTEGER, ..., b [7] BOOLEAN }'));
  assert.deepEqual(ext.diagnostics, []);
  assert.deepEqual(mustType(ext, 'S').def.components.map((c) => `${c.name}${tagsOf(c.type)}`), ['a[0]', 'b[1]', 'c[2]', 'd[3]']);
  // a tag written on an extension addition does not turn automatic tagging off (only root components count)
  assert.deepEqual(mustType(ext, 'T').def.components.map((c) => tagsOf(c.type)), ['[0]', '[1]']);
  // COMPONENTS OF brings its components with their own tags, not renumbered (X.680 25.5); all mandatory, so legal
  const co = compileText(mod('AUTOMATIC TAGS', 'A ::= SEQUENCE { x INTEGER, y BOOLEAN }\nB ::= SEQUENCE { COMPONENTS OF A, z NULL }'));
  assert.deepEqual(mustType(co, 'B').def.components.map((c) => `${c.name}${tagsOf(c.type)}`), ['x[0]', 'y[1]', 'z[0]']);
  assert.deepEqual(co.diagnostics, []);
  const coOpt = compileText(mod('AUTOMATIC TAGS', 'A ::= SEQUENCE { x INTEGER OPTIONAL }\nB ::= SEQUENCE { COMPONENTS OF A, z NULL }'));
  assert.deepEqual(where(coOpt.diagnostics), ['3:35 ASN1_AMBIGUOUS_TAG']);
});

test('EXTENSIBILITY IMPLIED makes SEQUENCE, SET, CHOICE and ENUMERATED extensible', () => {
  const r = compileFixtures('Constructs.asn');
  assert.equal(mustType(r, 'Colors', 'Helpers').def.extensible, true);
  assert.equal(mustType(r, 'AutoChoice', 'Helpers').def.extensible, true);
  assert.equal(mustType(r, 'Pair', 'Constructs').def.extensible, false);
});

test('imports between modules given together, external references Module.Type and Module.value', () => {
  const r = compileAsn1([
    { text: 'A DEFINITIONS ::= BEGIN EXPORTS T, v; T ::= [APPLICATION 5] INTEGER v INTEGER ::= 9 hidden INTEGER ::= 1 END', file: 'a.asn' },
    { text: 'B DEFINITIONS IMPLICIT TAGS ::= BEGIN IMPORTS T, v FROM A; U ::= SEQUENCE { t T, w A.T (0..v) } END', file: 'b.asn' },
  ]);
  assert.deepEqual(r.diagnostics, []);
  const u = mustType(r, 'U');
  // A has no tag default, so EXPLICIT: the application tag wraps the INTEGER
  assert.deepEqual(u.def.components.map((c) => tagsOf(c.type)), ['[APPLICATION 5] INTEGER', '[APPLICATION 5] INTEGER']);
  assert.equal(formatRanges(component(u, 'w').value!), '0..9');
  assert.equal(component(u, 't'), mustType(r, 'T', 'A'), 'an untagged, unconstrained reference is the named type itself');
});

test('import errors: unknown module, undefined symbol, symbol not exported', () => {
  const r = compileAsn1([
    { text: 'A DEFINITIONS ::= BEGIN EXPORTS T; T ::= INTEGER Hidden ::= NULL END', file: 'a.asn' },
    { text: 'B DEFINITIONS ::= BEGIN\nIMPORTS T, Hidden, Nope FROM A\n  X FROM Gone;\nU ::= SEQUENCE { x X, t T }\nEND', file: 'b.asn' },
  ]);
  assert.deepEqual(where(r.diagnostics), ['2:12 ASN1_UNKNOWN_IMPORT', '2:20 ASN1_UNKNOWN_IMPORT', '3:10 ASN1_UNKNOWN_IMPORT']);
  assert.match(r.diagnostics[0]!.message, /does not export Hidden/);
  assert.match(r.diagnostics[1]!.message, /does not define Nope/);
  assert.match(r.diagnostics[2]!.message, /Gone .*was not given/);
  assert.equal(r.diagnostics[2]!.file, 'b.asn');
  // X from the missing module is reported once, at the import, not again where it is used
  assert.equal(mustType(r, 'U').def.components.length, 2);
});

test('resolve errors: each reported with line and column; compilation goes on', () => {
  const r = compileFixtures('ResolveErrors.asn');
  assert.deepEqual(where(r.diagnostics).sort(), [
    '10:41 ASN1_DUPLICATE', // component a twice
    '11:41 ASN1_AMBIGUOUS_TAG', // CHOICE { a INTEGER, b INTEGER }
    '12:58 ASN1_AMBIGUOUS_TAG', // optional [0] then [0]
    '13:35 ASN1_AMBIGUOUS_TAG', // SET { INTEGER, Alias (INTEGER) }
    '16:15 ASN1_CIRCULAR', // LoopA ::= LoopB, LoopB ::= [1] LoopA
    '17:14 ASN1_CIRCULAR', // SEQUENCE { next Infinite }: no finite value
    '18:20 ASN1_BAD_TAG', // [0] IMPLICIT CHOICE
    '19:57 ASN1_BAD_VALUE', // DEFAULT z, not an item
    '4:22 ASN1_UNKNOWN_IMPORT',
    '6:30 ASN1_UNKNOWN_REFERENCE', // type Unknown
    '7:26 ASN1_UNKNOWN_REFERENCE', // value no-such-bound
    '9:1 ASN1_DUPLICATE', // Dup assigned twice
  ]);
  assert.ok(r.diagnostics.every((d) => d.file === 'ResolveErrors.asn'));
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message), [
    'Infinite has no finite value: every value of it must contain another one',
  ]);
  // the good types next to the bad ones are compiled
  assert.deepEqual(mustType(r, 'Fine').def.components.map((c) => tagsOf(c.type)), ['[0]', '[1]']);
  const rec = mustType(r, 'Recursive');
  assert.equal(component(rec, 'next').def, rec.def);
  assert.equal(tagsOf(mustType(r, 'ImplicitChoice')), '[0]'); // treated as explicit after the error
});

test('distinct tags: untagged CHOICEs are expanded, ANY is ambiguous, optional runs end at a mandatory component', () => {
  const r = compileText(mod('IMPLICIT TAGS', `C ::= CHOICE { a INTEGER, b BOOLEAN }
D ::= CHOICE { c C, d INTEGER }
E ::= SEQUENCE { x INTEGER OPTIONAL, y INTEGER, z INTEGER OPTIONAL }
F ::= SEQUENCE { x ANY OPTIONAL, y INTEGER }
G ::= SEQUENCE { x INTEGER OPTIONAL, y BOOLEAN, z INTEGER }
H ::= SEQUENCE { x INTEGER, ..., y INTEGER, z INTEGER }`));
  // D: c (INTEGER inside C) and d; E: optional x then y; F: ANY then y; H: two additions; G is fine
  assert.deepEqual(where(r.diagnostics), ['3:21 ASN1_AMBIGUOUS_TAG', '4:38 ASN1_AMBIGUOUS_TAG', '5:34 ASN1_AMBIGUOUS_TAG', '7:45 ASN1_AMBIGUOUS_TAG']);
  assert.match(r.diagnostics[0]!.message, /alternatives c and d of D .*INTEGER/);
  assert.match(r.diagnostics[2]!.message, /ANY/);
  assert.deepEqual(firstTags(mustType(r, 'D')), [
    { cls: TagClass.Universal, number: 2 }, { cls: TagClass.Universal, number: 1 }, { cls: TagClass.Universal, number: 2 },
  ]);
});

test('parameterized types are instantiated; classes, objects and open types compile to ANY or field types', () => {
  const r = compileFixtures('Parameterized.asn');
  assert.deepEqual(r.diagnostics, []);
  const signed = mustType(r, 'SignedBody');
  assert.deepEqual(signed.def.components.map((c) => `${c.name}:${c.type.kind}`), ['toBeSigned:SEQUENCE', 'algorithm:SEQUENCE', 'signature:BIT STRING']);
  assert.equal(component(signed, 'toBeSigned'), mustType(r, 'Body'));
  const alg = component(signed, 'algorithm');
  assert.deepEqual(alg.def.components.map((c) => `${c.name}:${c.type.kind}:${tagsOf(c.type)}${c.optional ? '?' : ''}`), [
    'algorithm:OBJECT IDENTIFIER:OBJECT IDENTIFIER', // ALGORITHM.&id: the field's fixed type
    'parameters:ANY:?', // ALGORITHM.&Params: an open type
  ]);
  assert.equal(formatRanges(mustType(r, 'Short').size!), '1..16');
  assert.equal(mustType(r, 'Typed').kind, 'ANY');
  const inst = mustType(r, 'Instance');
  assert.equal(tagsOf(inst), 'EXTERNAL');
  assert.deepEqual(inst.def.components.map((c) => tagsOf(c.type)), ['OBJECT IDENTIFIER', '[0]']);
  assert.equal(r.modules.get('Parameterized')!.types.has('SIGNED'), false, 'parameterized assignments are compiled only when instantiated');
});

test('a tag on a dummy reference is explicit, whatever the actual parameter (X.683 8.3)', () => {
  const r = compileText(mod('IMPLICIT TAGS', 'W { T } ::= SEQUENCE { x [0] T, y [1] INTEGER }\nU ::= W { INTEGER }\nV { T } ::= [2] IMPLICIT T\nX ::= V { BOOLEAN }'));
  assert.deepEqual(mustType(r, 'U').def.components.map((c) => tagsOf(c.type)), ['[0] INTEGER', '[1]']);
  assert.deepEqual(where(r.diagnostics), ['4:13 ASN1_BAD_TAG']);
  assert.equal(tagsOf(mustType(r, 'X')), '[2] BOOLEAN');
});

test('choiceAlternatives maps each first tag to its alternative, through nested untagged CHOICEs', () => {
  const r = compileText(mod('IMPLICIT TAGS', 'C ::= CHOICE { a INTEGER, inner CHOICE { b BOOLEAN, c [APPLICATION 3] NULL }, d [5] OCTET STRING }'));
  assert.deepEqual(r.diagnostics, []);
  const c = mustType(r, 'C');
  const index = choiceAlternatives(c);
  assert.equal(index.size, 4);
  assert.equal(index.get(tagKey({ cls: TagClass.Universal, number: 2 }))?.name, 'a');
  assert.equal(index.get(tagKey({ cls: TagClass.Universal, number: 1 }))?.name, 'inner');
  assert.equal(index.get(tagKey({ cls: TagClass.Application, number: 3 }))?.name, 'inner');
  assert.equal(index.get(tagKey({ cls: TagClass.Context, number: 5 }))?.name, 'd');
  assert.equal(index.get(tagKey({ cls: TagClass.Context, number: 2 })), undefined);
  assert.equal(choiceAlternatives(c), index, 'built once per definition');
  assert.notEqual(tagKey({ cls: TagClass.Private, number: 0 }), tagKey({ cls: TagClass.Context, number: 0 }));
  assert.equal(tagKey({ cls: TagClass.Private, number: 2 ** 40 }) > tagKey({ cls: TagClass.Context, number: 2 ** 40 }), true);
});

test('value set assignments are types; object sets are not', () => {
  const r = compileText(mod('', `Versions INTEGER ::= { 1 | 2 | 5..7, ... }
Names PrintableString ::= { "a" | "b" }
S ::= SEQUENCE { v Versions, n Names }
CL ::= CLASS { &id INTEGER }
Objs CL ::= { { &id 1 } }
Bad ::= SEQUENCE { o Objs }`));
  assert.deepEqual(where(r.diagnostics), ['7:22 ASN1_UNKNOWN_REFERENCE']);
  assert.match(r.diagnostics[0]!.message, /Objs is an object set, not a type/);
  const versions = mustType(r, 'Versions');
  assert.equal(formatRanges(versions.value!), '1..2 | 5..7, ...');
  assert.equal(component(mustType(r, 'S'), 'v'), versions);
  assert.equal(mustType(r, 'Names').kind, 'PrintableString');
  assert.equal(r.type('Objs'), undefined);
});

test('parameter and reference errors', () => {
  const r = compileText(mod('', `P { T } ::= SEQUENCE { x T }
A ::= P
B ::= P { INTEGER, BOOLEAN }
C ::= INTEGER { INTEGER }
D ::= CL.&nope
CL ::= CLASS { &id INTEGER }
v1 INTEGER ::= v2
v2 INTEGER ::= v1
w BOOLEAN ::= 5
Sel ::= z < Ch
Ch ::= CHOICE { a INTEGER }
Ok ::= a < Ch`));
  assert.deepEqual(where(r.diagnostics).sort((a, b) => parseInt(a) - parseInt(b)), [
    '3:7 ASN1_BAD_VALUE', // P without its parameter
    '4:7 ASN1_BAD_VALUE', // P with two
    '5:17 ASN1_SYNTAX', // INTEGER { INTEGER }: the parser drops the assignment
    '6:7 ASN1_UNKNOWN_REFERENCE', // CL.&nope
    '9:16 ASN1_CIRCULAR', // v1 and v2
    '10:15 ASN1_BAD_VALUE', // BOOLEAN ::= 5
    '11:9 ASN1_UNKNOWN_REFERENCE', // z < Ch
  ]);
  assert.equal(mustType(r, 'Ok').kind, 'INTEGER');
});

test('deep parameterized recursion stops with a diagnostic', () => {
  const r = compileText(mod('', 'R { T } ::= SEQUENCE { x R { SEQUENCE OF T } OPTIONAL }\nS ::= R { INTEGER }'));
  assert.equal(r.diagnostics.filter((d) => d.code === 'ASN1_CIRCULAR').length, 1);
});

test('duplicate modules, enumeration items, named numbers; EXPORTS of an undefined name', () => {
  const r = compileAsn1([
    { text: 'A DEFINITIONS ::= BEGIN EXPORTS T, nope; T ::= ENUMERATED { a, b, a } U ::= INTEGER { x(1), x(2) } END', file: 'a.asn' },
    { text: 'A DEFINITIONS ::= BEGIN END', file: 'again.asn' },
  ]);
  assert.deepEqual(r.diagnostics.map((d) => `${d.file} ${d.line}:${d.column} ${d.code}`), [
    'again.asn 1:1 ASN1_DUPLICATE',
    'a.asn 1:36 ASN1_UNKNOWN_REFERENCE',
    'a.asn 1:67 ASN1_DUPLICATE',
    'a.asn 1:93 ASN1_DUPLICATE',
  ]);
});

test('values: DEFAULT of named bits, hstrings, OID arcs from INTEGER references, well-known arcs', () => {
  const r = compileText(mod('', `K ::= BIT STRING { a(0), b(3) }
S ::= SEQUENCE { k [0] K DEFAULT { a, b }, h [1] K DEFAULT 'A'H, o OCTET STRING DEFAULT 'CAFE'H, r REAL DEFAULT 2.5 }
arc INTEGER ::= 840
oid OBJECT IDENTIFIER ::= { iso member-body arc 113549 }
bad OBJECT IDENTIFIER ::= { iso nosuch 1 }`));
  assert.deepEqual(where(r.diagnostics), ['6:33 ASN1_UNKNOWN_REFERENCE']);
  const s = mustType(r, 'S');
  assert.deepEqual(s.def.components.map((c) => c.default), [
    { kind: 'bits', bits: '1001' }, { kind: 'bits', bits: '1010' }, { kind: 'octets', bytes: Uint8Array.of(0xca, 0xfe) }, { kind: 'real', value: 2.5 },
  ]);
  assert.deepEqual(r.value('oid'), { kind: 'oid', arcs: [1n, 2n, 840n, 113549n] });
});

test('throwOnErrors turns error diagnostics into one E_ASN1 VmsError with offset and location', () => {
  const ok = compileFixtures('LDAPv3.asn');
  assert.equal(hasErrors(ok.diagnostics), false);
  throwOnErrors(ok.diagnostics);
  const bad = compileFixtures('Malformed.asn');
  assert.equal(hasErrors(bad.diagnostics), true);
  assert.throws(() => throwOnErrors(bad.diagnostics), (e: unknown) => {
    assert.ok(isVmsError(e));
    assert.equal(e.code, 'E_ASN1');
    assert.equal(e.offset, bad.diagnostics[0]!.offset);
    assert.deepEqual(e.path, ['Malformed.asn']);
    assert.match(e.message, /Malformed\.asn:6:34: error ASN1_SYNTAX/);
    assert.match(e.message, /and 2 more/);
    return true;
  });
});

// Each type refers to the next: compiled by recursion this chain would exhaust the stack.
test('a long chain of references compiles without deep recursion, quickly', () => {
  const lines = ['Big DEFINITIONS AUTOMATIC TAGS ::= BEGIN'];
  for (let k = 0; k < 3000; k++) {
    lines.push(`T${k} ::= SEQUENCE { a INTEGER (0..${k}), b T${(k + 1) % 3000} OPTIONAL, c SEQUENCE SIZE (1..8) OF OCTET STRING }`);
  }
  lines.push('END');
  const t0 = performance.now();
  const r = compileText(lines.join('\n'));
  const ms = performance.now() - t0;
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.modules.get('Big')!.types.size, 3000);
  assert.ok(ms < 15000, `took ${ms} ms`); // loose: the CI machine is shared
});

test('RFC 5912 style modules: classes, object sets, parameterized types, one name from two modules', () => {
  const r = compileFixtures('Rfc5912Style.asn');
  assert.deepEqual(r.diagnostics, []);
  const tbs = mustType(r, 'TBS');
  assert.deepEqual(tbs.def.components.map((c) => `${c.name}:${c.type.kind}:${tagsOf(c.type)}${c.extension ? `+${c.group}` : ''}`), [
    'version:INTEGER:[0] INTEGER',
    'issuer:CHOICE:', // DirectoryString { ub-name }
    'alg-a:INTEGER:INTEGER', // Style-AlgsA.Algs, a value set type
    'alg-b:INTEGER:INTEGER',
    'extensions:SEQUENCE OF:[3] SEQUENCE+0', // Extensions {{ CertExtensions }} in [[ 2: ]]
    'other:ANY:[4]+1', // OTHER-NAME.&Type, OTHER-NAME ::= TYPE-IDENTIFIER
  ]);
  assert.equal(formatRanges(component(tbs, 'alg-a').value!), '1..2');
  assert.equal(formatRanges(component(tbs, 'alg-b').value!), '3..4');
  assert.deepEqual(component(tbs, 'issuer').def.components.map((c) => formatRanges(c.type.size!)), ['1..32768', '1..32768']);
  const extension = component(tbs, 'extensions').def.element!;
  assert.deepEqual(extension.def.components.map((c) => `${c.name}:${c.type.kind}`), ['extnID:OBJECT IDENTIFIER', 'critical:BOOLEAN', 'extnValue:OCTET STRING']);
  assert.equal(component(extension, 'extnValue').contains?.kind, 'ANY');
  assert.equal(mustType(r, 'ContentType').kind, 'OBJECT IDENTIFIER');
  assert.deepEqual(mustType(r, 'ContentInfo').def.components.map((c) => `${c.type.kind}:${tagsOf(c.type)}`), ['OBJECT IDENTIFIER:OBJECT IDENTIFIER', 'ANY:[0]']);
  assert.equal(r.type('CertExtensions'), undefined, 'object sets are not types');
});

test('a name imported from two modules must be qualified where it is used', () => {
  const r = compileAsn1([
    { text: 'A DEFINITIONS ::= BEGIN T ::= INTEGER END', file: 'a.asn' },
    { text: 'B DEFINITIONS ::= BEGIN T ::= BOOLEAN END', file: 'b.asn' },
    { text: 'C DEFINITIONS ::= BEGIN IMPORTS T FROM A T FROM B; U ::= SEQUENCE { x A.T, y B.T, z T } END', file: 'c.asn' },
  ]);
  assert.deepEqual(where(r.diagnostics), ['1:85 ASN1_UNKNOWN_REFERENCE']);
  assert.match(r.diagnostics[0]!.message, /more than one module; write Module\.T/);
  assert.deepEqual(mustType(r, 'U').def.components.slice(0, 2).map((c) => c.type.kind), ['INTEGER', 'BOOLEAN']);
  const twice = compileText('M DEFINITIONS ::= BEGIN IMPORTS T FROM A T FROM A; END');
  assert.ok(where(twice.diagnostics).includes('1:42 ASN1_DUPLICATE'), where(twice.diagnostics).join());
});
