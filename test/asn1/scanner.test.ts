import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tok, tokenize, type Token } from '../../src/asn1/index.js';

function scan(text: string): { tokens: Token[]; errors: string[] } {
  const errors: string[] = [];
  const tokens = tokenize(text, (code, _message, at) => errors.push(`${at.line}:${at.column} ${code}`));
  return { tokens, errors };
}
const kinds = (text: string): string[] => scan(text).tokens.map((t) => `${t.kind}:${t.text}`);

test('words: reserved words, type references (string types too), hyphenated identifiers', () => {
  assert.deepEqual(kinds('SEQUENCE UTF8String id-pkix1-explicit RELATIVE-OID ub-name'), [
    `${Tok.Keyword}:SEQUENCE`,
    `${Tok.TypeRef}:UTF8String`, // not reserved, so 1988 modules may redefine it
    `${Tok.Identifier}:id-pkix1-explicit`,
    `${Tok.Keyword}:RELATIVE-OID`,
    `${Tok.Identifier}:ub-name`,
    `${Tok.EOF}:`,
  ]);
});

test('a hyphen that is not followed by a letter or digit ends the word', () => {
  assert.deepEqual(kinds('a- 1'), [`${Tok.Identifier}:a`, `${Tok.Minus}:-`, `${Tok.Number}:1`, `${Tok.EOF}:`]);
  // `a--b`: the word ends, `--` opens a comment that runs to the end of the line
  assert.deepEqual(kinds('a--b\nc'), [`${Tok.Identifier}:a`, `${Tok.Identifier}:c`, `${Tok.EOF}:`]);
});

test('punctuation: ::= .. ... [[ ]] and single characters', () => {
  assert.deepEqual(
    scan('::= : .. ... . [[ ]] [ ] { } ( ) , ; | ^ ! < > @ -').tokens.map((t) => t.kind),
    [Tok.Assign, Tok.Colon, Tok.Range, Tok.Ellipsis, Tok.Dot, Tok.LVersion, Tok.RVersion, Tok.LBracket, Tok.RBracket,
      Tok.LBrace, Tok.RBrace, Tok.LParen, Tok.RParen, Tok.Comma, Tok.Semicolon, Tok.Bar, Tok.Caret, Tok.Bang,
      Tok.Less, Tok.Greater, Tok.At, Tok.Minus, Tok.EOF],
  );
});

test('numbers, ranges and reals', () => {
  assert.deepEqual(kinds('1..5 12.5 3.0e-2 123456789012345678901234567890'), [
    `${Tok.Number}:1`, `${Tok.Range}:..`, `${Tok.Number}:5`, `${Tok.Real}:12.5`, `${Tok.Real}:3.0e-2`,
    `${Tok.Number}:123456789012345678901234567890`, `${Tok.EOF}:`,
  ]);
});

test('bstring, hstring and cstring (with "" for a quote, spanning lines)', () => {
  assert.deepEqual(kinds(`'0101 1'B '0F'H "say ""hi""\n!"`), [
    `${Tok.BString}:01011`, `${Tok.HString}:0F`, `${Tok.CString}:say "hi"\n!`, `${Tok.EOF}:`,
  ]);
});

test('class field references', () => {
  assert.deepEqual(kinds('ALGORITHM.&id &Type'), [
    `${Tok.TypeRef}:ALGORITHM`, `${Tok.Dot}:.`, `${Tok.FieldRef}:&id`, `${Tok.FieldRef}:&Type`, `${Tok.EOF}:`,
  ]);
});

test('comments: -- to end of line, -- closed by --, nested /* */', () => {
  const text = 'A -- one -- B -- two\nC /* x /* y */ -- z */ D ----\nE';
  assert.deepEqual(kinds(text), [
    `${Tok.TypeRef}:A`, `${Tok.TypeRef}:B`, `${Tok.TypeRef}:C`, `${Tok.TypeRef}:D`, `${Tok.TypeRef}:E`, `${Tok.EOF}:`,
  ]);
});

test('tokens carry offset, line and column (CR LF counts as one line break)', () => {
  const { tokens } = scan('A ::=\r\n  B -- c\n\tC');
  assert.deepEqual(
    tokens.map((t) => [t.text, t.offset, t.line, t.column]),
    [['A', 0, 1, 1], ['::=', 2, 1, 3], ['B', 9, 2, 3], ['C', 17, 3, 2], ['', 18, 3, 3]],
  );
});

test('errors: unterminated block comment and string, bad characters; scanning goes on', () => {
  assert.deepEqual(scan('A /* never closed').errors, ['1:3 ASN1_UNTERMINATED']);
  assert.deepEqual(scan('x\n  "open').errors, ['2:3 ASN1_UNTERMINATED']);
  const bad = scan('A # B $$ C');
  assert.deepEqual(bad.errors, ['1:3 ASN1_BAD_CHARACTER', '1:7 ASN1_BAD_CHARACTER']);
  assert.deepEqual(
    bad.tokens.filter((t) => t.kind === Tok.TypeRef).map((t) => t.text),
    ['A', 'B', 'C'],
  );
  assert.deepEqual(scan("'01'X").errors, ['1:1 ASN1_BAD_CHARACTER']);
});

// A smoke test against quadratic behaviour; the bound is loose because the CI machine is shared.
test('scanning a large module is quick', () => {
  const text = 'T ::= SEQUENCE { a INTEGER (0..10) OPTIONAL, -- c\n b OCTET STRING }\n'.repeat(5000);
  const t0 = performance.now();
  const { tokens, errors } = scan(text);
  const ms = performance.now() - t0;
  assert.equal(errors.length, 0);
  assert.equal(tokens.length, 5000 * 17 + 1);
  assert.ok(ms < 5000, `took ${ms} ms`);
});
