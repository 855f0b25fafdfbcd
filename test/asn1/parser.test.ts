import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModules, type AssignmentAst, type ModuleAst, type TypeAst } from '../../src/asn1/index.js';
import { fixture, where } from './helpers.js';

function parseOne(text: string): ModuleAst {
  const r = parseModules(text);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.modules.length, 1);
  return r.modules[0]!;
}
const typeOf = (m: ModuleAst, name: string): TypeAst => {
  const a = m.assignments.find((x) => x.name === name);
  assert.ok(a !== undefined && a.kind === 'type', `${name} is a type assignment`);
  return (a as AssignmentAst & { kind: 'type' }).type;
};

test('module header: OID, tag default, EXTENSIBILITY IMPLIED, EXPORTS ALL, IMPORTS with OIDs', () => {
  const m = parseOne(`
    M { iso(1) 2 3 } DEFINITIONS AUTOMATIC TAGS EXTENSIBILITY IMPLIED ::= BEGIN
    EXPORTS ALL;
    IMPORTS A, b FROM X { 1 2 } C FROM Y d-oid D, e FROM Z WITH SUCCESSORS;
    T ::= INTEGER
    END`);
  assert.equal(m.name, 'M');
  assert.equal(m.tagDefault, 'AUTOMATIC');
  assert.equal(m.extensibilityImplied, true);
  assert.equal(m.exports, 'ALL');
  assert.equal(m.oid?.kind, 'braced');
  assert.deepEqual(
    m.imports.map((i) => [i.module.name, i.symbols.map((s) => s.name), i.oid?.kind]),
    [['X', ['A', 'b'], 'braced'], ['Y', ['C'], 'ref'], ['Z', ['D', 'e'], undefined]],
  );
});

test('default tagging is EXPLICIT; an EXPORTS list; no EXPORTS means undefined', () => {
  const m = parseOne('M DEFINITIONS ::= BEGIN EXPORTS T, v; T ::= NULL v INTEGER ::= 1 END');
  assert.equal(m.tagDefault, 'EXPLICIT');
  assert.deepEqual(Array.isArray(m.exports) ? m.exports.map((e) => e.name) : m.exports, ['T', 'v']);
  assert.equal(parseOne('M DEFINITIONS ::= BEGIN T ::= NULL END').exports, undefined);
});

test('several modules in one text', () => {
  const r = parseModules('A DEFINITIONS ::= BEGIN END B DEFINITIONS IMPLICIT TAGS ::= BEGIN T ::= BOOLEAN END');
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.modules.map((m) => [m.name, m.tagDefault, m.assignments.length]), [['A', 'EXPLICIT', 0], ['B', 'IMPLICIT', 1]]);
});

test('SEQUENCE items: OPTIONAL, DEFAULT, COMPONENTS OF, extension markers with exception, [[ ]] groups', () => {
  const m = parseOne(`M DEFINITIONS ::= BEGIN
    S ::= SEQUENCE { a INTEGER OPTIONAL, b BOOLEAN DEFAULT TRUE, COMPONENTS OF Base,
                     ... ! 7, [[ 2: c NULL, d REAL ]], ..., e OCTET STRING }
    END`);
  const s = typeOf(m, 'S');
  assert.equal(s.kind, 'SEQUENCE');
  if (s.kind !== 'SEQUENCE') return;
  assert.deepEqual(
    s.items.map((i) => (i.kind === 'component' ? `${i.name}${i.optional ? '?' : ''}${i.default ? '=' : ''}` : i.kind)),
    ['a?', 'b=', 'componentsOf', 'extension', 'group', 'extension', 'e'],
  );
  const ext = s.items[3]!;
  assert.ok(ext.kind === 'extension' && ext.exception?.kind === 'number');
  const group = s.items[4]!;
  assert.ok(group.kind === 'group' && group.version === 2 && group.items.length === 2);
});

test('SEQUENCE OF / SET OF with SIZE, element names and SEQUENCE SIZE (1..MAX) OF', () => {
  const m = parseOne(`M DEFINITIONS ::= BEGIN
    A ::= SEQUENCE SIZE (1..MAX) OF uri URI
    B ::= SET (SIZE (0..4)) OF INTEGER (0..9)
    C ::= SEQUENCE OF SEQUENCE { x INTEGER }
    END`);
  const a = typeOf(m, 'A');
  assert.ok(a.kind === 'SEQUENCE OF' && a.elementName === 'uri' && a.ofConstraint?.kind === 'size');
  const b = typeOf(m, 'B');
  assert.ok(b.kind === 'SET OF' && b.ofConstraint?.kind === 'size' && b.element.constraints.length === 1);
  const c = typeOf(m, 'C');
  assert.ok(c.kind === 'SEQUENCE OF' && c.element.kind === 'SEQUENCE');
});

test('tags: classes, IMPLICIT / EXPLICIT, value references as numbers, nested tags', () => {
  const m = parseOne(`M DEFINITIONS ::= BEGIN
    T ::= [APPLICATION 3] IMPLICIT [5] EXPLICIT [PRIVATE n] [UNIVERSAL 12] OCTET STRING
    END`);
  const tags: string[] = [];
  let t = typeOf(m, 'T');
  while (t.kind === 'tagged') {
    tags.push(`${t.tag.cls} ${t.tag.number.kind === 'number' ? t.tag.number.value : t.tag.number.kind} ${t.mode ?? '-'}`);
    t = t.type;
  }
  assert.deepEqual(tags, ['APPLICATION 3 IMPLICIT', 'CONTEXT 5 EXPLICIT', 'PRIVATE ref -', 'UNIVERSAL 12 -']);
});

test('constraints: ranges with MIN/MAX and open bounds, unions, intersections, EXCEPT, FROM, CONTAINING, WITH COMPONENTS, extensible', () => {
  const m = parseOne(`M DEFINITIONS ::= BEGIN
    A ::= INTEGER (MIN..-1 | 0 | 1<..<ub | 10..MAX)
    B ::= INTEGER ((0..9) ^ (5..20) EXCEPT 7)
    C ::= IA5String (FROM ("a".."z") ^ SIZE (1..8, ..., 9))
    D ::= OCTET STRING (CONTAINING T ENCODED BY { 2 1 1 })
    E ::= P (WITH COMPONENTS { ..., a PRESENT, b (SIZE (1..MAX)) })
    F ::= INTEGER (ALL EXCEPT 0)
    G ::= INTEGER (0..7, ...)
    H ::= OCTET STRING (SIZE (4)) (SIZE (1..MAX))
    END`);
  const a = typeOf(m, 'A').constraints[0]!;
  assert.ok(a.kind === 'union' && a.items.length === 4);
  const open = a.items[2]!;
  assert.ok(open.kind === 'range' && open.lowerOpen && open.upperOpen);
  assert.equal(a.items[0]!.kind === 'range' && a.items[0]!.lower, 'MIN');
  assert.equal(typeOf(m, 'B').constraints[0]!.kind, 'intersection');
  assert.equal(typeOf(m, 'C').constraints[0]!.kind, 'intersection');
  const d = typeOf(m, 'D').constraints[0]!;
  assert.ok(d.kind === 'contents' && d.containing?.kind === 'ref' && d.encodedBy?.kind === 'braced');
  const e = typeOf(m, 'E').constraints[0]!;
  assert.ok(e.kind === 'withComponents' && e.partial);
  assert.deepEqual(e.kind === 'withComponents' && e.items.map((i) => [i.name, i.presence, i.constraint?.kind]), [
    ['a', 'PRESENT', undefined], ['b', undefined, 'size'],
  ]);
  const f = typeOf(m, 'F').constraints[0]!;
  assert.ok(f.kind === 'except' && f.base === 'ALL');
  assert.equal(typeOf(m, 'G').constraints[0]!.kind, 'extensible');
  assert.equal(typeOf(m, 'H').constraints.length, 2);
});

test('values: OID forms, negative and huge integers, strings, choice values, external references', () => {
  const m = parseOne(`M DEFINITIONS ::= BEGIN
    a OBJECT IDENTIFIER ::= { iso(1) member-body(2) 840 x }
    b INTEGER ::= -123456789012345678901234567890
    c BIT STRING ::= '1010'B
    d OCTET STRING ::= 'CAFE'H
    e UTF8String ::= "text"
    f C ::= alt : TRUE
    g INTEGER ::= Other.h
    END`);
  const value = (name: string) => {
    const x = m.assignments.find((y) => y.name === name);
    assert.ok(x !== undefined && x.kind === 'value');
    return (x as AssignmentAst & { kind: 'value' }).value;
  };
  const a = value('a');
  assert.ok(a.kind === 'braced' && a.groups.length === 1);
  assert.deepEqual(a.kind === 'braced' && a.groups[0]!.map((i) => i.name ?? (i.value?.kind === 'ref' ? i.value.name : 'n')), ['iso', 'member-body', 'n', 'x']);
  const b = value('b');
  assert.ok(b.kind === 'number' && b.value === -123456789012345678901234567890n);
  assert.ok(value('c').kind === 'bstring' && value('d').kind === 'hstring' && value('e').kind === 'cstring');
  const f = value('f');
  assert.ok(f.kind === 'choice' && f.alternative === 'alt');
  const g = value('g');
  assert.ok(g.kind === 'ref' && g.module === 'Other' && g.name === 'h');
});

test('ANY, ANY DEFINED BY, ENUMERATED with extension, named numbers and bits, REAL, RELATIVE-OID, selection types', () => {
  const m = parseOne(`M DEFINITIONS ::= BEGIN
    A ::= SEQUENCE { id OBJECT IDENTIFIER, v ANY DEFINED BY id, w ANY }
    E ::= ENUMERATED { a, b(5), ..., c }
    I ::= INTEGER { v1(0), v2(1), neg(-1), ref(ub) }
    K ::= BIT STRING { digitalSignature(0), nonRepudiation(1) }
    R ::= REAL
    O ::= RELATIVE-OID
    S ::= a < Ch
    END`);
  const a = typeOf(m, 'A');
  assert.ok(a.kind === 'SEQUENCE');
  const items = a.kind === 'SEQUENCE' ? a.items : [];
  assert.ok(items[1]!.kind === 'component' && items[1]!.type.kind === 'ANY' && items[1]!.type.definedBy === 'id');
  assert.ok(items[2]!.kind === 'component' && items[2]!.type.kind === 'ANY' && items[2]!.type.definedBy === undefined);
  const e = typeOf(m, 'E');
  assert.deepEqual(e.kind === 'ENUMERATED' && e.items.map((i) => (i.kind === 'item' ? i.name : '...')), ['a', 'b', '...', 'c']);
  const i = typeOf(m, 'I');
  assert.deepEqual(i.kind === 'INTEGER' && i.named.map((n) => n.name), ['v1', 'v2', 'neg', 'ref']);
  assert.equal(typeOf(m, 'K').kind, 'BIT STRING');
  assert.ok(typeOf(m, 'R').kind === 'builtin' && typeOf(m, 'O').kind === 'builtin');
  assert.equal(typeOf(m, 'S').kind, 'selection');
});

test('classes, objects, object sets, parameterized assignments and macros are parsed past', () => {
  const r = parseModules(fixture('Parameterized.asn'));
  assert.deepEqual(r.diagnostics, []);
  const m = r.modules[0]!;
  const byName = new Map(m.assignments.map((a) => [a.name, a]));
  const cls = byName.get('ALGORITHM');
  assert.ok(cls?.kind === 'other' && cls.what === 'class');
  assert.deepEqual(cls.kind === 'other' && cls.fields.map((f) => [f.name, f.type?.kind]), [['&id', 'builtin'], ['&Params', undefined]]);
  assert.equal(byName.get('sa-rsa')?.kind, 'value');
  assert.ok(byName.get('Algorithms')?.kind === 'other');
  assert.deepEqual(byName.get('AlgorithmIdentifier')?.params.map((p) => p.name), ['AlgSet']);
  assert.deepEqual(byName.get('Bounded')?.params.map((p) => [p.name, p.governor?.kind]), [['ub', 'INTEGER']]);
  const macro = parseModules('M DEFINITIONS ::= BEGIN OPERATION MACRO ::= BEGIN TYPE NOTATION ::= "x" END T ::= NULL END');
  assert.deepEqual(macro.diagnostics, []);
  assert.deepEqual(macro.modules[0]!.assignments.map((a) => [a.name, a.kind]), [['OPERATION', 'other'], ['T', 'type']]);
});

test('comment forms in a fixture module', () => {
  const m = parseOne(fixture('Comments.asn'));
  assert.deepEqual(m.assignments.map((a) => a.name), ['A', 'B', 'C', 'd', 'e-with-hyphens', 'F']);
  const c = typeOf(m, 'C');
  assert.deepEqual(c.kind === 'SEQUENCE' && c.items.map((i) => (i.kind === 'component' ? i.name : '')), ['x', 'y']);
});

test('malformed module: each error has line and column, and parsing resumes at the next assignment', () => {
  const r = parseModules(fixture('Malformed.asn'), { file: 'Malformed.asn' });
  assert.deepEqual(where(r.diagnostics), ['6:34 ASN1_SYNTAX', '10:27 ASN1_SYNTAX', '14:21 ASN1_SYNTAX']);
  assert.ok(r.diagnostics.every((d) => d.file === 'Malformed.asn' && d.severity === 'error'));
  assert.match(r.diagnostics[1]!.message, /expected "\]"/);
  assert.deepEqual(r.modules[0]!.assignments.map((a) => a.name), ['Good1', 'Good2', 'Good3', 'Good4']);
});

test('malformed headers and stray text', () => {
  const noEnd = parseModules('M DEFINITIONS ::= BEGIN T ::= INTEGER');
  assert.deepEqual(where(noEnd.diagnostics), ['1:38 ASN1_SYNTAX']);
  assert.equal(noEnd.modules[0]!.assignments.length, 1);
  const badHeader = parseModules('M DEFINITONS ::= BEGIN T ::= INTEGER END\nN DEFINITIONS ::= BEGIN U ::= NULL END');
  assert.deepEqual(where(badHeader.diagnostics), ['1:3 ASN1_SYNTAX']);
  assert.deepEqual(badHeader.modules.map((m) => m.name), ['N']);
  const unterminated = parseModules('M DEFINITIONS ::= BEGIN T ::= SEQUENCE { a INTEGER');
  assert.ok(unterminated.diagnostics.length >= 1 && unterminated.diagnostics[0]!.line === 1);
  const badImports = parseModules('M DEFINITIONS ::= BEGIN IMPORTS a, FROM X; T ::= NULL END');
  assert.deepEqual(where(badImports.diagnostics), ['1:36 ASN1_SYNTAX']);
  assert.deepEqual(badImports.modules[0]!.assignments.map((a) => a.name), ['T']);
});

test('hostile input: deep nesting and garbage produce diagnostics, not exceptions', () => {
  const nestedOf = (n: number) => `M DEFINITIONS ::= BEGIN T ::= ${'SEQUENCE OF '.repeat(n)}INTEGER\nU ::= NULL END`;
  assert.deepEqual(parseModules(nestedOf(150)).diagnostics, []);
  // Far too deep: one diagnostic, the assignment is dropped, the next one is kept.
  for (const text of [nestedOf(100_000), `M DEFINITIONS ::= BEGIN v INTEGER ::= ${'{'.repeat(100_000)}\nU ::= NULL END`,
    `M DEFINITIONS ::= BEGIN T ::= INTEGER ${'('.repeat(100_000)}1\nU ::= NULL END`]) {
    const r = parseModules(text);
    assert.deepEqual(where(r.diagnostics), [`1:${r.diagnostics[0]?.column ?? 0} ASN1_SYNTAX`]);
    assert.match(r.diagnostics[0]!.message, /nesting is deeper than 200 levels|is not closed/);
    assert.deepEqual(r.modules[0]!.assignments.map((a) => a.name), ['U']);
  }
  assert.equal(parseModules(nestedOf(300), { maxNesting: 1000 }).diagnostics.length, 0);
  for (const text of ['', '::=', '{{{{', 'M DEFINITIONS', '\u0000\u0001', 'M DEFINITIONS ::= BEGIN T ::= [', '"']) {
    const g = parseModules(text);
    assert.ok(Array.isArray(g.diagnostics));
  }
  assert.ok(parseModules('{{{{').diagnostics.length > 0);
});
