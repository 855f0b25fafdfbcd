/**
 * ASN.1 (X.680 clause 12) lexical items, scanned by a closure over char codes with no regular
 * expressions in the loop (STYLE §6, after jsonc-parser's createScanner).
 */
import type { Span } from './diagnostics.js';

export const Tok = {
  EOF: 'end of text',
  /** A word starting with an upper-case letter that is not a reserved word: a type or module reference. */
  TypeRef: 'type reference',
  /** A word starting with a lower-case letter: a value reference or an identifier. */
  Identifier: 'identifier',
  /** A reserved word of X.680 clause 12.38 (plus ANY, DEFINED, MACRO of the 1988 notation). */
  Keyword: 'keyword',
  /** `&name`: a field of an information object class. */
  FieldRef: 'field reference',
  Number: 'number',
  Real: 'real number',
  /** `'0101'B` */
  BString: 'bstring',
  /** `'0F'H` */
  HString: 'hstring',
  /** `"text"`, with `""` standing for one quote. */
  CString: 'cstring',
  Assign: '"::="',
  Range: '".."',
  Ellipsis: '"..."',
  LBrace: '"{"',
  RBrace: '"}"',
  LParen: '"("',
  RParen: '")"',
  LBracket: '"["',
  RBracket: '"]"',
  /** `[[` opening an extension addition group. */
  LVersion: '"[["',
  /** `]]` closing it. */
  RVersion: '"]]"',
  Comma: '","',
  Semicolon: '";"',
  Colon: '":"',
  Dot: '"."',
  Bar: '"|"',
  Caret: '"^"',
  Bang: '"!"',
  Less: '"<"',
  Greater: '">"',
  At: '"@"',
  Minus: '"-"',
  Unknown: 'unknown character',
} as const;

export type TokKind = (typeof Tok)[keyof typeof Tok];

export interface Token extends Span {
  readonly kind: TokKind;
  /** The source text of the token (for cstrings: the value with `""` undone; for b/hstrings: the digits). */
  readonly text: string;
}

/** X.680 12.38 reserved words. Character string and time type names are left out on purpose: 1988 modules
 *  redefine them (`UTF8String ::= [UNIVERSAL 12] IMPLICIT OCTET STRING`), so they scan as type references
 *  and the resolver falls back to the built-in type when no module defines the name. */
const RESERVED: ReadonlySet<string> = new Set([
  'ABSENT', 'ABSTRACT-SYNTAX', 'ALL', 'ANY', 'APPLICATION', 'AUTOMATIC', 'BEGIN', 'BIT', 'BOOLEAN', 'BY',
  'CHARACTER', 'CHOICE', 'CLASS', 'COMPONENT', 'COMPONENTS', 'CONSTRAINED', 'CONTAINING', 'DEFAULT', 'DEFINED',
  'DEFINITIONS', 'EMBEDDED', 'ENCODED', 'ENCODING-CONTROL', 'END', 'ENUMERATED', 'EXCEPT', 'EXPLICIT', 'EXPORTS',
  'EXTENSIBILITY', 'EXTERNAL', 'FALSE', 'FROM', 'IDENTIFIER', 'IMPLICIT', 'IMPLIED', 'IMPORTS', 'INCLUDES',
  'INSTANCE', 'INSTRUCTIONS', 'INTEGER', 'INTERSECTION', 'MACRO', 'MAX', 'MIN', 'MINUS-INFINITY', 'NOT-A-NUMBER',
  'NULL', 'OBJECT', 'OCTET', 'OF', 'OID-IRI', 'OPTIONAL', 'PATTERN', 'PDV', 'PLUS-INFINITY', 'PRESENT', 'PRIVATE',
  'REAL', 'RELATIVE-OID', 'RELATIVE-OID-IRI', 'SEQUENCE', 'SET', 'SETTINGS', 'SIZE', 'STRING', 'SYNTAX', 'TAGS', 'TRUE',
  'TYPE-IDENTIFIER', 'UNION', 'UNIQUE', 'UNIVERSAL', 'WITH',
]);

export function isReservedWord(word: string): boolean {
  return RESERVED.has(word);
}

const enum Ch {
  Tab = 9, LF = 10, VT = 11, FF = 12, CR = 13, Space = 32, Bang = 33, Quote = 34, Amp = 38, Apos = 39,
  LParen = 40, RParen = 41, Star = 42, Comma = 44, Minus = 45, Dot = 46, Slash = 47, D0 = 48, D9 = 57,
  Colon = 58, Semicolon = 59, Less = 60, Equals = 61, Greater = 62, At = 64, A = 65, B = 66, E = 69, H = 72,
  Z = 90, LBracket = 91, RBracket = 93, Caret = 94, a = 97, e = 101, z = 122, LBrace = 123, Bar = 124, RBrace = 125,
}

const isDigit = (c: number): boolean => c >= Ch.D0 && c <= Ch.D9;
const isUpper = (c: number): boolean => c >= Ch.A && c <= Ch.Z;
const isLower = (c: number): boolean => c >= Ch.a && c <= Ch.z;
const isWordChar = (c: number): boolean => isUpper(c) || isLower(c) || isDigit(c);
const isSpace = (c: number): boolean =>
  c === Ch.Space || c === Ch.LF || c === Ch.CR || c === Ch.Tab || c === Ch.VT || c === Ch.FF || c === 0xa0;

/** Called for scanner problems: bad characters and unterminated comments or strings. */
export type ScanErrorSink = (code: 'ASN1_BAD_CHARACTER' | 'ASN1_UNTERMINATED', message: string, at: Span) => void;

export interface Scanner {
  /** The next token; after the end it keeps returning EOF. */
  next(): Token;
}

/** A scanner over `text`. Comments (`--` to the end of the line or the next `--`, nested `/* *\/`) are skipped. */
export function createScanner(text: string, onError: ScanErrorSink): Scanner {
  const len = text.length;
  let pos = 0;
  let line = 1;
  let lineStart = 0;

  const spanAt = (start: number, startLine: number, startLineStart: number, end: number): Span => ({
    offset: start,
    length: end - start,
    line: startLine,
    column: start - startLineStart + 1,
  });

  /** Advances over one character, counting lines (CR LF counts once, at the LF). */
  function advance(): void {
    const c = text.charCodeAt(pos++);
    if (c === Ch.LF || (c === Ch.CR && text.charCodeAt(pos) !== Ch.LF)) {
      line++;
      lineStart = pos;
    }
  }

  /** X.680 12.6.3: `--` runs to the next `--` or the end of the line, whichever comes first. */
  function skipLineComment(): void {
    pos += 2;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c === Ch.LF || c === Ch.CR) return;
      if (c === Ch.Minus && text.charCodeAt(pos + 1) === Ch.Minus) {
        pos += 2;
        return;
      }
      pos++;
    }
  }

  /** X.680 12.6.4: block comments nest. */
  function skipBlockComment(): void {
    const start = pos;
    const startLine = line;
    const startLineStart = lineStart;
    let depth = 0;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c === Ch.Slash && text.charCodeAt(pos + 1) === Ch.Star) {
        depth++;
        pos += 2;
      } else if (c === Ch.Star && text.charCodeAt(pos + 1) === Ch.Slash) {
        pos += 2;
        if (--depth === 0) return;
      } else {
        advance();
      }
    }
    onError('ASN1_UNTERMINATED', 'block comment is not closed by */', spanAt(start, startLine, startLineStart, start + 2));
  }

  function skipTrivia(): void {
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (isSpace(c)) advance();
      else if (c === Ch.Minus && text.charCodeAt(pos + 1) === Ch.Minus) skipLineComment();
      else if (c === Ch.Slash && text.charCodeAt(pos + 1) === Ch.Star) skipBlockComment();
      else return;
    }
  }

  /** X.680 12.2: letters, digits and single hyphens; a hyphen may not end the word or be doubled. */
  function scanWord(): void {
    pos++;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (isWordChar(c)) pos++;
      else if (c === Ch.Minus && isWordChar(text.charCodeAt(pos + 1))) pos++;
      else return;
    }
  }

  // Where the token being scanned starts; kept outside next() so make() is not a fresh closure per token.
  let start = 0;
  let startLine = 1;
  let startLineStart = 0;
  function make(kind: TokKind, value?: string): Token {
    return {
      kind,
      text: value ?? text.slice(start, pos),
      offset: start,
      length: pos - start,
      line: startLine,
      column: start - startLineStart + 1,
    };
  }

  function next(): Token {
    skipTrivia();
    start = pos;
    startLine = line;
    startLineStart = lineStart;
    if (pos >= len) return make(Tok.EOF);
    const c = text.charCodeAt(pos);

    if (isUpper(c)) {
      scanWord();
      return make(RESERVED.has(text.slice(start, pos)) ? Tok.Keyword : Tok.TypeRef);
    }
    if (isLower(c)) {
      scanWord();
      return make(Tok.Identifier);
    }
    if (isDigit(c)) {
      while (isDigit(text.charCodeAt(pos))) pos++;
      // realnumber (12.9) only when a digit follows the dot: "1..5" is a number and a range.
      if (text.charCodeAt(pos) === Ch.Dot && isDigit(text.charCodeAt(pos + 1))) {
        pos++;
        while (isDigit(text.charCodeAt(pos))) pos++;
        const e = text.charCodeAt(pos);
        if (e === Ch.e || e === Ch.E) {
          pos++;
          if (text.charCodeAt(pos) === Ch.Minus) pos++;
          while (isDigit(text.charCodeAt(pos))) pos++;
        }
        return make(Tok.Real);
      }
      return make(Tok.Number);
    }
    switch (c) {
      case Ch.Amp: {
        pos++;
        if (isUpper(text.charCodeAt(pos)) || isLower(text.charCodeAt(pos))) {
          scanWord();
          return make(Tok.FieldRef);
        }
        onError('ASN1_BAD_CHARACTER', 'a field reference needs a name after "&"', spanAt(start, startLine, startLineStart, pos));
        return make(Tok.Unknown);
      }
      case Ch.Apos: {
        // bstring 'digits'B or hstring 'digits'H (12.10, 12.12); white space inside is ignored.
        pos++;
        let digits = '';
        while (pos < len && text.charCodeAt(pos) !== Ch.Apos) {
          const d = text.charCodeAt(pos);
          if (!isSpace(d)) digits += text[pos];
          advance();
        }
        if (pos >= len) {
          onError('ASN1_UNTERMINATED', 'bstring or hstring is not closed by a quote', spanAt(start, startLine, startLineStart, pos));
          return make(Tok.Unknown);
        }
        pos++;
        const suffix = text.charCodeAt(pos);
        if (suffix === Ch.B || suffix === Ch.H) {
          pos++;
          return make(suffix === Ch.B ? Tok.BString : Tok.HString, digits);
        }
        onError('ASN1_BAD_CHARACTER', "a quoted string must end with 'B or 'H", spanAt(start, startLine, startLineStart, pos));
        return make(Tok.Unknown);
      }
      case Ch.Quote: {
        pos++;
        let value = '';
        for (;;) {
          if (pos >= len) {
            onError('ASN1_UNTERMINATED', 'character string is not closed by "', spanAt(start, startLine, startLineStart, start + 1));
            return make(Tok.CString, value);
          }
          if (text.charCodeAt(pos) === Ch.Quote) {
            if (text.charCodeAt(pos + 1) !== Ch.Quote) break;
            value += '"';
            pos += 2;
            continue;
          }
          value += text[pos];
          advance();
        }
        pos++;
        return make(Tok.CString, value);
      }
      case Ch.Colon:
        if (text.charCodeAt(pos + 1) === Ch.Colon && text.charCodeAt(pos + 2) === Ch.Equals) {
          pos += 3;
          return make(Tok.Assign);
        }
        pos++;
        return make(Tok.Colon);
      case Ch.Dot:
        if (text.charCodeAt(pos + 1) === Ch.Dot) {
          if (text.charCodeAt(pos + 2) === Ch.Dot) {
            pos += 3;
            return make(Tok.Ellipsis);
          }
          pos += 2;
          return make(Tok.Range);
        }
        pos++;
        return make(Tok.Dot);
      case Ch.LBracket:
        pos += text.charCodeAt(pos + 1) === Ch.LBracket ? 2 : 1;
        return make(pos - start === 2 ? Tok.LVersion : Tok.LBracket);
      case Ch.RBracket:
        pos += text.charCodeAt(pos + 1) === Ch.RBracket ? 2 : 1;
        return make(pos - start === 2 ? Tok.RVersion : Tok.RBracket);
    }
    pos++;
    switch (c) {
      case Ch.LBrace: return make(Tok.LBrace);
      case Ch.RBrace: return make(Tok.RBrace);
      case Ch.LParen: return make(Tok.LParen);
      case Ch.RParen: return make(Tok.RParen);
      case Ch.Comma: return make(Tok.Comma);
      case Ch.Semicolon: return make(Tok.Semicolon);
      case Ch.Bar: return make(Tok.Bar);
      case Ch.Caret: return make(Tok.Caret);
      case Ch.Bang: return make(Tok.Bang);
      case Ch.Less: return make(Tok.Less);
      case Ch.Greater: return make(Tok.Greater);
      case Ch.At: return make(Tok.At);
      case Ch.Minus: return make(Tok.Minus);
    }
    // Skip the whole run of unexpected characters so one stray byte gives one diagnostic.
    while (pos < len) {
      const d = text.charCodeAt(pos);
      if (isSpace(d) || isWordChar(d) || d === Ch.LBrace || d === Ch.RBrace || d === Ch.Comma) break;
      pos++;
    }
    const bad = make(Tok.Unknown);
    onError('ASN1_BAD_CHARACTER', `unexpected character ${JSON.stringify(bad.text)}`, bad);
    return bad;
  }

  return { next };
}

/** Scans the whole text into an array ending with one EOF token (module texts are small; the parser backtracks). */
export function tokenize(text: string, onError: ScanErrorSink): Token[] {
  const scanner = createScanner(text, onError);
  const out: Token[] = [];
  for (;;) {
    const t = scanner.next();
    out.push(t);
    if (t.kind === Tok.EOF) return out;
  }
}
