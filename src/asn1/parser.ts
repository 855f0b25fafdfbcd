/**
 * Recursive-descent parser for ASN.1 modules (X.680, with the 1988 ANY / ANY DEFINED BY notation and
 * enough of X.681-X.683 to step over classes, objects and parameterized assignments).
 *
 * Errors are collected, never thrown to the caller: a syntax error inside an assignment abandons that
 * assignment and parsing resumes at the next one (the next line holding `::=`), so one run reports every
 * broken assignment and still returns every good one (STYLE §6).
 */
import type { Asn1DiagnosticCode, Diagnostic, Severity, Span } from './diagnostics.js';
import type {
  ActualParameterAst,
  AssignmentAst,
  BracedItemAst,
  ClassFieldAst,
  ComponentConstraintAst,
  ComponentItemAst,
  ConstraintAst,
  EnumItemAst,
  ImportAst,
  ModuleAst,
  NameAst,
  NamedNumberAst,
  ParameterAst,
  TagAst,
  TagClassName,
  TagDefault,
  TypeAst,
  TypeBody,
  ValueAst,
  ValueBody,
} from './ast.js';
import { Tok, tokenize, type TokKind, type Token } from './scanner.js';

export interface ParseOptions {
  /** File name put in diagnostics and module ASTs. Defaults to undefined (shown as `<input>`). */
  readonly file?: string;
  /** Deepest nesting of types, values and constraints before the parser gives up on an assignment
   *  (a hostile text must not exhaust the stack). Defaults to DEFAULT_MAX_NESTING. */
  readonly maxNesting?: number;
}

export const DEFAULT_MAX_NESTING = 200;

export interface ParseResult {
  readonly modules: ModuleAst[];
  readonly diagnostics: Diagnostic[];
}

/** Thrown inside the parser to abandon the current assignment; never escapes `parseModules`. */
class Bail {
  static readonly instance = new Bail();
}

/** Parses every module in `text` (several modules may follow each other). */
export function parseModules(text: string, options: ParseOptions = {}): ParseResult {
  const file = options.file;
  const diagnostics: Diagnostic[] = [];
  const push = (code: Asn1DiagnosticCode, message: string, at: Span, severity: Severity = 'error'): void => {
    diagnostics.push({ code, severity, message, file, offset: at.offset, length: at.length, line: at.line, column: at.column });
  };
  const toks = tokenize(text, (code, message, at) => push(code, message, at));
  // Stray characters were reported by the scanner; the grammar never sees them.
  const tokens = toks.filter((t) => t.kind !== Tok.Unknown);
  let i = 0;
  /** > 0 while trying an alternative: errors then unwind silently and the caller backtracks. */
  let speculating = 0;
  const maxNesting = options.maxNesting ?? DEFAULT_MAX_NESTING;
  let nesting = 0;

  const tok = (): Token => tokens[i]!;
  const peek = (n: number): Token => tokens[Math.min(i + n, tokens.length - 1)]!;
  const is = (kind: TokKind, offset = 0): boolean => peek(offset).kind === kind;
  const isKw = (word: string, offset = 0): boolean => {
    const t = peek(offset);
    return t.kind === Tok.Keyword && t.text === word;
  };
  const advance = (): Token => {
    const t = tokens[i]!;
    if (i < tokens.length - 1) i++;
    return t;
  };
  const describe = (t: Token): string => (t.kind === Tok.EOF ? 'the end of the text' : `"${t.text}"`);

  function fail(message: string, at: Span = tok()): never {
    if (speculating === 0) push('ASN1_SYNTAX', message, at);
    throw Bail.instance;
  }

  /** Consumes a token of `kind` (and `text`, for keywords) or reports what was expected. */
  function expect(kind: TokKind, what: string, text?: string): boolean {
    const t = tok();
    if (t.kind === kind && (text === undefined || t.text === text)) {
      advance();
      return true;
    }
    if (speculating === 0) push('ASN1_SYNTAX', `expected ${what}, found ${describe(t)}`, t);
    return false;
  }
  /** Like expect, but abandons the assignment when the token is missing. */
  function need(kind: TokKind, what: string, text?: string): Token {
    const t = tok();
    if (!expect(kind, what, text)) throw Bail.instance;
    return t;
  }
  const needKw = (word: string): Token => need(Tok.Keyword, `"${word}"`, word);
  function eatKw(word: string): boolean {
    if (!isKw(word)) return false;
    advance();
    return true;
  }
  function eat(kind: TokKind): boolean {
    if (!is(kind)) return false;
    advance();
    return true;
  }

  /** Runs `fn`; on a syntax error, rewinds and returns undefined without reporting. */
  function attempt<T>(fn: () => T): T | undefined {
    const saved = i;
    speculating++;
    try {
      return fn();
    } catch (e) {
      if (e !== Bail.instance) throw e;
      i = saved;
      return undefined;
    } finally {
      speculating--;
    }
  }

  /** The span from token `start` to the last consumed token. */
  function spanFrom(start: Token): Span {
    const last = tokens[Math.max(i - 1, 0)]!;
    const end = Math.max(last.offset + last.length, start.offset + start.length);
    return { offset: start.offset, length: end - start.offset, line: start.line, column: start.column };
  }

  /** Skips a balanced `{ ... }` (or `( ... )`) group starting at the current token; returns its text. */
  function skipBalanced(): string {
    const open = tok();
    const openIndex = i;
    const closeKind = open.kind === Tok.LParen ? Tok.RParen : Tok.RBrace;
    let depth = 0;
    for (;;) {
      const t = tok();
      if (t.kind === Tok.EOF) {
        i = openIndex; // resume recovery just after the unclosed bracket, not at the end of the text
        fail(`${describe(open)} opened at line ${open.line} is not closed`, open);
      }
      advance();
      if (t.kind === open.kind) depth++;
      else if (t.kind === closeKind && --depth === 0) break;
    }
    const last = tokens[i - 1]!;
    return text.slice(open.offset, last.offset + last.length);
  }

  /** Runs one level of a recursive production, refusing to go deeper than maxNesting. */
  function nested<T>(fn: () => T): T {
    if (nesting >= maxNesting) fail(`nesting is deeper than ${maxNesting} levels`);
    nesting++;
    try {
      return fn();
    } finally {
      nesting--;
    }
  }

  // ----- values -----------------------------------------------------------------------------------

  function parseNumber(t: Token, negative: boolean): bigint {
    const v = BigInt(t.text);
    return negative ? -v : v;
  }

  function parseValue(): ValueAst {
    return nested(parseValueSpanned);
  }

  function parseValueSpanned(): ValueAst {
    const start = tok();
    const v = parseValueInner();
    return { ...v, span: spanFrom(start) };
  }

  function parseValueInner(): ValueBody {
    const t = tok();
    switch (t.kind) {
      case Tok.Minus: {
        advance();
        const n = tok();
        if (n.kind === Tok.Number) {
          advance();
          return { kind: 'number', value: parseNumber(n, true) };
        }
        if (n.kind === Tok.Real) {
          advance();
          return { kind: 'real', text: `-${n.text}` };
        }
        return fail(`expected a number after "-", found ${describe(n)}`);
      }
      case Tok.Number:
        advance();
        return { kind: 'number', value: parseNumber(t, false) };
      case Tok.Real:
        advance();
        return { kind: 'real', text: t.text };
      case Tok.BString:
        advance();
        return { kind: 'bstring', text: t.text };
      case Tok.HString:
        advance();
        return { kind: 'hstring', text: t.text };
      case Tok.CString:
        advance();
        return { kind: 'cstring', text: t.text };
      case Tok.LBrace:
        return parseBraced();
      case Tok.Identifier:
        advance();
        if (eat(Tok.Colon)) return { kind: 'choice', alternative: t.text, value: parseValue() };
        return { kind: 'ref', module: undefined, name: t.text };
      case Tok.TypeRef:
        // Module.valueref (X.680 14.6 ExternalValueReference)
        if (is(Tok.Dot, 1) && is(Tok.Identifier, 2)) {
          advance();
          advance();
          return { kind: 'ref', module: t.text, name: advance().text };
        }
        break;
      case Tok.Keyword:
        switch (t.text) {
          case 'TRUE':
          case 'FALSE':
            advance();
            return { kind: 'boolean', value: t.text === 'TRUE' };
          case 'NULL':
            advance();
            return { kind: 'null' };
          case 'PLUS-INFINITY':
          case 'MINUS-INFINITY':
          case 'NOT-A-NUMBER':
            advance();
            return { kind: 'special', name: t.text };
        }
        break;
    }
    return fail(`expected a value, found ${describe(t)}`);
  }

  /** `{ ... }`: OID components, named bits, SEQUENCE OF / SEQUENCE values; anything else is skipped whole. */
  function parseBraced(): ValueBody {
    const structured = attempt(() => {
      need(Tok.LBrace, '"{"');
      const groups: BracedItemAst[][] = [];
      let group: BracedItemAst[] = [];
      while (!is(Tok.RBrace)) {
        const start = tok();
        if (is(Tok.Identifier) && is(Tok.LParen, 1)) {
          // iso(1), member-body(2), or a named bit digitalSignature(0) in a BIT STRING value
          advance();
          advance();
          const value = parseValue();
          need(Tok.RParen, '")"');
          group.push({ name: start.text, value, span: spanFrom(start) });
        } else {
          group.push({ name: undefined, value: parseValue(), span: spanFrom(start) });
        }
        if (eat(Tok.Comma)) {
          groups.push(group);
          group = [];
        }
      }
      advance();
      if (group.length > 0 || groups.length > 0) groups.push(group);
      return { kind: 'braced' as const, groups };
    });
    if (structured !== undefined) return structured;
    skipBalanced();
    return { kind: 'opaque' };
  }

  // ----- constraints ------------------------------------------------------------------------------

  /** `( ElementSetSpecs [! exception] )` */
  function parseConstraint(): ConstraintAst {
    return nested(parseConstraintInner);
  }

  function parseConstraintInner(): ConstraintAst {
    const start = need(Tok.LParen, '"("');
    if (isKw('CONSTRAINED')) {
      // X.682 user-defined constraint: CONSTRAINED BY { ... }
      advance();
      needKw('BY');
      if (is(Tok.LBrace)) skipBalanced();
      need(Tok.RParen, '")"');
      return { kind: 'opaque', what: 'CONSTRAINED BY', span: spanFrom(start) };
    }
    const specs = parseElementSetSpecs(start);
    need(Tok.RParen, '")" closing the constraint');
    return specs;
  }

  /** ElementSetSpecs with an optional extension and exception, up to (not including) the closing bracket. */
  function parseElementSetSpecs(start: Token): ConstraintAst {
    let root: ConstraintAst | undefined;
    let additions: ConstraintAst | undefined;
    let extensible = false;
    if (is(Tok.Ellipsis)) {
      advance();
      extensible = true;
    } else {
      root = parseElementSetSpec();
      if (is(Tok.Comma) && is(Tok.Ellipsis, 1)) {
        advance();
        advance();
        extensible = true;
      }
    }
    if (extensible && eat(Tok.Comma)) additions = parseElementSetSpec();
    if (eat(Tok.Bang)) skipException();
    const span = spanFrom(start);
    if (extensible) return { kind: 'extensible', root, additions, span };
    return root ?? { kind: 'opaque', what: 'empty', span };
  }

  /** Exception spec after `!`: a signed number, a value reference, or `Type : Value`. */
  function skipException(): void {
    if (attempt(() => {
      parseType();
      need(Tok.Colon, '":"');
      parseValue();
    }) !== undefined) return;
    parseValue();
  }

  function parseElementSetSpec(): ConstraintAst {
    const start = tok();
    if (isKw('ALL')) {
      advance();
      needKw('EXCEPT');
      return { kind: 'except', base: 'ALL', excluded: parseElements(), span: spanFrom(start) };
    }
    const items = [parseIntersections()];
    while (is(Tok.Bar) || isKw('UNION')) {
      advance();
      items.push(parseIntersections());
    }
    return items.length === 1 ? items[0]! : { kind: 'union', items, span: spanFrom(start) };
  }

  function parseIntersections(): ConstraintAst {
    const start = tok();
    const items = [parseIntersectionElement()];
    while (is(Tok.Caret) || isKw('INTERSECTION')) {
      advance();
      items.push(parseIntersectionElement());
    }
    return items.length === 1 ? items[0]! : { kind: 'intersection', items, span: spanFrom(start) };
  }

  function parseIntersectionElement(): ConstraintAst {
    const start = tok();
    const base = parseElements();
    if (!eatKw('EXCEPT')) return base;
    return { kind: 'except', base, excluded: parseElements(), span: spanFrom(start) };
  }

  /** True when the current token starts a type rather than a value inside a constraint. */
  function startsType(): boolean {
    const t = tok();
    if (t.kind === Tok.TypeRef) return !(is(Tok.Dot, 1) && is(Tok.Identifier, 2));
    if (t.kind !== Tok.Keyword) return false;
    return TYPE_KEYWORDS.has(t.text);
  }

  function parseElements(): ConstraintAst {
    const start = tok();
    if (is(Tok.LParen)) {
      advance();
      const inner = nested(parseElementSetSpec);
      need(Tok.RParen, '")"');
      return inner;
    }
    if (is(Tok.Keyword)) {
      switch (start.text) {
        case 'SIZE':
          advance();
          return { kind: 'size', constraint: parseConstraint(), span: spanFrom(start) };
        case 'FROM':
          advance();
          return { kind: 'from', constraint: parseConstraint(), span: spanFrom(start) };
        case 'WITH': {
          advance();
          if (eatKw('COMPONENT')) return { kind: 'withComponent', constraint: parseConstraint(), span: spanFrom(start) };
          needKw('COMPONENTS');
          if (!is(Tok.LBrace)) fail(`expected "{" after WITH COMPONENTS, found ${describe(tok())}`);
          const structured = attempt(() => parseComponentConstraints(start));
          if (structured !== undefined) return structured;
          const body = skipBalanced();
          return { kind: 'inner', text: `WITH COMPONENTS ${body}`, span: spanFrom(start) };
        }
        case 'CONTAINING': {
          advance();
          const containing = parseType();
          let encodedBy: ValueAst | undefined;
          if (eatKw('ENCODED')) {
            needKw('BY');
            encodedBy = parseValue();
          }
          return { kind: 'contents', containing, encodedBy, span: spanFrom(start) };
        }
        case 'ENCODED':
          advance();
          needKw('BY');
          return { kind: 'contents', containing: undefined, encodedBy: parseValue(), span: spanFrom(start) };
        case 'INCLUDES':
          advance();
          return { kind: 'type', type: parseType(), span: spanFrom(start) };
        case 'PATTERN':
          advance();
          parseValue();
          return { kind: 'opaque', what: 'PATTERN', span: spanFrom(start) };
        case 'SETTINGS':
          advance();
          need(Tok.CString, 'a settings string');
          return { kind: 'opaque', what: 'SETTINGS', span: spanFrom(start) };
        case 'MIN':
          advance();
          return parseRangeRest(start, 'MIN');
      }
    }
    if (is(Tok.LBrace) && (is(Tok.TypeRef, 1) || is(Tok.At, 1)) && !is(Tok.Dot, 2)) {
      // X.682 table constraint {ObjectSet} and component relation {ObjectSet}{@field}
      const table = attempt(() => {
        skipBalanced();
        if (is(Tok.LBrace) && is(Tok.At, 1)) skipBalanced();
        return true;
      });
      if (table !== undefined) return { kind: 'opaque', what: 'table constraint', span: spanFrom(start) };
    }
    if (startsType()) return { kind: 'type', type: parseType(), span: spanFrom(start) };
    const value = parseValue();
    if (is(Tok.Range) || (is(Tok.Less) && is(Tok.Range, 1))) return parseRangeRest(start, value);
    return { kind: 'single', value, span: spanFrom(start) };
  }

  /** X.680 51.8.3: `{ [..., ] name [constraint] [PRESENT | ABSENT | OPTIONAL], ... }` */
  function parseComponentConstraints(start: Token): ConstraintAst {
    need(Tok.LBrace, '"{"');
    const partial = eat(Tok.Ellipsis);
    const items: ComponentConstraintAst[] = [];
    if (!partial || eat(Tok.Comma)) {
      do {
        const at = tok();
        const name = need(Tok.Identifier, 'a component name').text;
        const constraint = is(Tok.LParen) ? parseConstraint() : undefined;
        let presence: ComponentConstraintAst['presence'];
        if (isKw('PRESENT') || isKw('ABSENT') || isKw('OPTIONAL')) presence = advance().text as ComponentConstraintAst['presence']; // cast: one of the three keywords just tested
        items.push({ name, constraint, presence, span: spanFrom(at) });
      } while (eat(Tok.Comma));
    }
    need(Tok.RBrace, '"}"');
    return { kind: 'withComponents', partial, items, span: spanFrom(start) };
  }

  /** After the lower bound: `[<] .. [<] upper` (X.680 51.4). */
  function parseRangeRest(start: Token, lower: ValueAst | 'MIN'): ConstraintAst {
    const lowerOpen = eat(Tok.Less);
    need(Tok.Range, '".."');
    const upperOpen = eat(Tok.Less);
    const upper: ValueAst | 'MAX' = eatKw('MAX') ? 'MAX' : parseValue();
    return { kind: 'range', lower, lowerOpen, upper, upperOpen, span: spanFrom(start) };
  }

  // ----- types ------------------------------------------------------------------------------------

  function parseType(): TypeAst {
    return nested(parseTypeInner);
  }

  function parseTypeInner(): TypeAst {
    const start = tok();
    if (is(Tok.LBracket)) {
      const tag = parseTag();
      const mode = eatKw('IMPLICIT') ? 'IMPLICIT' : eatKw('EXPLICIT') ? 'EXPLICIT' : undefined;
      const type = parseType();
      return { kind: 'tagged', tag, mode, type, constraints: [], span: spanFrom(start) };
    }
    const base = parseUnconstrainedType();
    const constraints: ConstraintAst[] = [];
    while (is(Tok.LParen)) constraints.push(parseConstraint());
    // 1988-style `OCTET STRING SIZE (4)` without the outer parentheses
    while (isKw('SIZE') && is(Tok.LParen, 1)) {
      const s = tok();
      advance();
      constraints.push({ kind: 'size', constraint: parseConstraint(), span: spanFrom(s) });
    }
    return { ...base, constraints, span: spanFrom(start) };
  }

  function parseTag(): TagAst {
    const start = need(Tok.LBracket, '"["');
    // An encoding reference prefix such as [XER:...] is not a tag.
    if (is(Tok.TypeRef) && is(Tok.Colon, 1)) fail('encoding instructions in tags are not supported');
    let cls: TagClassName = 'CONTEXT';
    // cast: the token is one of the three keywords just tested
    if (isKw('UNIVERSAL') || isKw('APPLICATION') || isKw('PRIVATE')) cls = advance().text as TagClassName;
    const number = is(Tok.Number) || is(Tok.Identifier) || is(Tok.TypeRef) ? parseValue() : fail(`expected a tag number, found ${describe(tok())}`);
    need(Tok.RBracket, '"]" closing the tag');
    return { cls, number, span: spanFrom(start) };
  }

  type BareType = TypeBody;

  function parseUnconstrainedType(): BareType {
    const t = tok();
    if (t.kind === Tok.TypeRef) return parseTypeReference();
    if (t.kind === Tok.Identifier && is(Tok.Less, 1)) {
      // X.680 30: selection type `alternative < ChoiceType`
      advance();
      advance();
      return { kind: 'selection', alternative: t.text, type: parseType() };
    }
    if (t.kind !== Tok.Keyword) return fail(`expected a type, found ${describe(t)}`);
    advance();
    switch (t.text) {
      case 'BOOLEAN':
      case 'NULL':
      case 'REAL':
      case 'EXTERNAL':
        return { kind: 'builtin', name: t.text };
      case 'INTEGER':
        return { kind: 'INTEGER', named: is(Tok.LBrace) ? parseNamedNumbers() : [] };
      case 'BIT':
        needKw('STRING');
        return { kind: 'BIT STRING', named: is(Tok.LBrace) ? parseNamedNumbers() : [] };
      case 'OCTET':
        needKw('STRING');
        return { kind: 'builtin', name: 'OCTET STRING' };
      case 'OBJECT':
        needKw('IDENTIFIER');
        return { kind: 'builtin', name: 'OBJECT IDENTIFIER' };
      case 'RELATIVE-OID':
        return { kind: 'builtin', name: 'RELATIVE-OID' };
      case 'EMBEDDED':
        needKw('PDV');
        return { kind: 'builtin', name: 'EMBEDDED PDV' };
      case 'CHARACTER':
        needKw('STRING');
        return { kind: 'builtin', name: 'CHARACTER STRING' };
      case 'ENUMERATED':
        return { kind: 'ENUMERATED', items: parseEnumItems() };
      case 'CHOICE':
        return { kind: 'CHOICE', items: parseComponentList('alternative') };
      case 'SEQUENCE':
      case 'SET':
        return parseSequenceOrSet(t.text);
      case 'ANY': {
        if (!eatKw('DEFINED')) return { kind: 'ANY', definedBy: undefined };
        needKw('BY');
        return { kind: 'ANY', definedBy: need(Tok.Identifier, 'the identifier of the defining component').text };
      }
      case 'INSTANCE':
        needKw('OF');
        return { kind: 'instanceOf', className: parseClassName() };
      case 'TYPE-IDENTIFIER':
      case 'ABSTRACT-SYNTAX':
        return parseClassFieldRest(t.text);
    }
    return fail(`expected a type, found ${describe(t)}`);
  }

  function parseClassName(): string {
    const t = tok();
    if (t.kind === Tok.TypeRef || isKw('TYPE-IDENTIFIER') || isKw('ABSTRACT-SYNTAX')) {
      advance();
      return t.text;
    }
    return fail(`expected an information object class, found ${describe(t)}`);
  }

  /** After `CLASS`: `.&field[.&field...]` */
  function parseClassFieldRest(className: string): BareType {
    need(Tok.Dot, '"." and a class field');
    let field = need(Tok.FieldRef, 'a class field such as &Type').text;
    while (is(Tok.Dot) && is(Tok.FieldRef, 1)) {
      advance();
      field = advance().text;
    }
    return { kind: 'classField', className, field };
  }

  function parseTypeReference(): BareType {
    const first = advance();
    if (is(Tok.Dot) && is(Tok.FieldRef, 1)) return parseClassFieldRest(first.text);
    let module: string | undefined;
    let name = first.text;
    if (is(Tok.Dot) && is(Tok.TypeRef, 1)) {
      advance();
      module = first.text;
      name = advance().text;
      if (is(Tok.Dot) && is(Tok.FieldRef, 1)) return parseClassFieldRest(name);
    }
    const args = is(Tok.LBrace) ? parseActualParameters() : undefined;
    return { kind: 'ref', module, name, args };
  }

  function parseActualParameters(): ActualParameterAst[] {
    need(Tok.LBrace, '"{"');
    const args: ActualParameterAst[] = [];
    while (!is(Tok.RBrace)) {
      if (startsType()) args.push({ kind: 'type', type: parseType() });
      else args.push({ kind: 'value', value: parseValue() });
      if (!eat(Tok.Comma)) break;
    }
    need(Tok.RBrace, '"}" closing the actual parameters');
    return args;
  }

  function parseSequenceOrSet(word: 'SEQUENCE' | 'SET'): BareType {
    if (is(Tok.LBrace)) return { kind: word, items: parseComponentList('component') };
    let ofConstraint: ConstraintAst | undefined;
    if (isKw('SIZE')) {
      const s = advance();
      ofConstraint = { kind: 'size', constraint: parseConstraint(), span: spanFrom(s) };
    } else if (is(Tok.LParen)) {
      ofConstraint = parseConstraint();
    }
    needKw('OF');
    // X.680 25.1: SEQUENCE OF may name its element (`SEQUENCE OF uri URI`)
    let elementName: string | undefined;
    if (is(Tok.Identifier) && !is(Tok.Less, 1)) elementName = advance().text;
    const element = parseType();
    return { kind: word === 'SEQUENCE' ? 'SEQUENCE OF' : 'SET OF', ofConstraint, elementName, element };
  }

  function parseNamedNumbers(): NamedNumberAst[] {
    need(Tok.LBrace, '"{"');
    const out: NamedNumberAst[] = [];
    do {
      if (is(Tok.RBrace) && out.length === 0) break;
      const start = tok();
      const name = need(Tok.Identifier, 'a named number such as "v1(0)"').text;
      need(Tok.LParen, `"(" and the number of ${name}`);
      const value = parseValue();
      need(Tok.RParen, '")"');
      out.push({ name, value, span: spanFrom(start) });
    } while (eat(Tok.Comma));
    need(Tok.RBrace, '"}" or ","');
    return out;
  }

  function parseEnumItems(): EnumItemAst[] {
    need(Tok.LBrace, '"{" after ENUMERATED');
    const out: EnumItemAst[] = [];
    do {
      const start = tok();
      if (eat(Tok.Ellipsis)) {
        if (eat(Tok.Bang)) skipException();
        out.push({ kind: 'extension', span: spanFrom(start) });
        continue;
      }
      const name = need(Tok.Identifier, 'an enumeration item').text;
      let value: ValueAst | undefined;
      if (eat(Tok.LParen)) {
        value = parseValue();
        need(Tok.RParen, '")"');
      }
      out.push({ kind: 'item', name, value, span: spanFrom(start) });
    } while (eat(Tok.Comma));
    need(Tok.RBrace, '"}" or ","');
    return out;
  }

  function parseComponentList(what: 'component' | 'alternative'): ComponentItemAst[] {
    need(Tok.LBrace, '"{"');
    const items = is(Tok.RBrace) ? [] : parseComponentItems(what, false);
    need(Tok.RBrace, `"}" or "," after a ${what}`);
    return items;
  }

  function parseComponentItems(what: 'component' | 'alternative', inGroup: boolean): ComponentItemAst[] {
    const items: ComponentItemAst[] = [];
    do {
      const start = tok();
      if (eat(Tok.Ellipsis)) {
        let exception: ValueAst | undefined;
        if (eat(Tok.Bang)) {
          exception = attempt(() => {
            const v = parseValue();
            if (is(Tok.Colon)) fail('a typed exception value');
            return v;
          });
          if (exception === undefined) skipException();
        }
        items.push({ kind: 'extension', exception, span: spanFrom(start) });
        continue;
      }
      if (is(Tok.LVersion) && !inGroup) {
        advance();
        let version: number | undefined;
        if (is(Tok.Number) && is(Tok.Colon, 1)) {
          version = Number(advance().text);
          advance();
        }
        const inner = parseComponentItems(what, true);
        need(Tok.RVersion, '"]]" closing the extension addition group');
        items.push({ kind: 'group', version, items: inner, span: spanFrom(start) });
        continue;
      }
      if (what === 'component' && isKw('COMPONENTS')) {
        advance();
        needKw('OF');
        items.push({ kind: 'componentsOf', type: parseType(), span: spanFrom(start) });
        continue;
      }
      const name = need(Tok.Identifier, `a ${what} name`).text;
      const type = parseType();
      let optional = false;
      let dflt: ValueAst | undefined;
      if (what === 'component') {
        if (eatKw('OPTIONAL')) optional = true;
        else if (eatKw('DEFAULT')) dflt = parseValue();
      }
      items.push({ kind: 'component', name, type, optional, default: dflt, span: spanFrom(start) });
    } while (eat(Tok.Comma));
    return items;
  }

  // ----- assignments ------------------------------------------------------------------------------

  function parseParameters(): ParameterAst[] {
    need(Tok.LBrace, '"{"');
    const params: ParameterAst[] = [];
    do {
      const start = tok();
      if ((is(Tok.TypeRef) || is(Tok.Identifier)) && (is(Tok.Comma, 1) || is(Tok.RBrace, 1))) {
        params.push({ governor: undefined, name: advance().text, span: start });
        continue;
      }
      const governor = parseType();
      need(Tok.Colon, '":" after the parameter governor');
      const name = tok();
      if (!is(Tok.TypeRef) && !is(Tok.Identifier)) fail(`expected a parameter name, found ${describe(name)}`);
      advance();
      params.push({ governor, name: name.text, span: spanFrom(start) });
    } while (eat(Tok.Comma));
    need(Tok.RBrace, '"}" closing the parameter list');
    return params;
  }

  /** `CLASS { &field ..., ... } [WITH SYNTAX { ... }]`: keeps the fixed-type value fields. */
  function parseClassBody(): ClassFieldAst[] {
    need(Tok.LBrace, '"{" after CLASS');
    const fields: ClassFieldAst[] = [];
    while (!is(Tok.RBrace)) {
      const f = need(Tok.FieldRef, 'a class field such as &id');
      let type: TypeAst | undefined;
      const lower = f.text.charCodeAt(1) >= 97;
      if (lower && !is(Tok.Comma) && !is(Tok.RBrace)) type = attempt(() => parseType());
      fields.push({ name: f.text, type });
      // Skip UNIQUE, OPTIONAL, DEFAULT ... and object/set field governors up to the next field.
      while (!is(Tok.Comma) && !is(Tok.RBrace)) {
        if (is(Tok.EOF)) fail('class definition is not closed by "}"');
        if (is(Tok.LBrace) || is(Tok.LParen)) skipBalanced();
        else advance();
      }
      eat(Tok.Comma);
    }
    advance();
    if (isKw('WITH') && isKw('SYNTAX', 1)) {
      advance();
      advance();
      if (!is(Tok.LBrace)) fail(`expected "{" after WITH SYNTAX, found ${describe(tok())}`);
      skipBalanced();
    }
    return fields;
  }

  function parseAssignment(): AssignmentAst {
    const start = tok();
    if (!is(Tok.TypeRef) && !is(Tok.Identifier)) fail(`expected an assignment, found ${describe(start)}`);
    const name = advance().text;
    const params = is(Tok.LBrace) ? parseParameters() : [];
    const upperName = start.kind === Tok.TypeRef;

    if (upperName && isKw('MACRO')) {
      // 1988 macro definitions: skipped up to their END.
      advance();
      need(Tok.Assign, '"::="');
      needKw('BEGIN');
      while (!isKw('END')) {
        if (is(Tok.EOF)) fail('macro definition is not closed by END');
        advance();
      }
      advance();
      return { kind: 'other', what: 'macro', name, params, governor: undefined, fields: [], valueSet: undefined, span: spanFrom(start) };
    }
    if (upperName && eat(Tok.Assign)) {
      if (eatKw('CLASS')) {
        const fields = parseClassBody();
        return { kind: 'other', what: 'class', name, params, governor: undefined, fields, valueSet: undefined, span: spanFrom(start) };
      }
      if ((isKw('TYPE-IDENTIFIER') || isKw('ABSTRACT-SYNTAX')) && !is(Tok.Dot, 1)) {
        // `CONTENT-TYPE ::= TYPE-IDENTIFIER` (RFC 5652/5912): a class with &id OBJECT IDENTIFIER and &Type
        const at = advance();
        const oid: TypeAst = { kind: 'builtin', name: 'OBJECT IDENTIFIER', constraints: [], span: at };
        const fields = [{ name: '&id', type: oid }, { name: '&Type', type: undefined }];
        return { kind: 'other', what: 'class', name, params, governor: undefined, fields, valueSet: undefined, span: spanFrom(start) };
      }
      const type = parseType();
      return { kind: 'type', name, params, type, span: spanFrom(start) };
    }
    const governor = parseType();
    need(Tok.Assign, '"::="');
    if (upperName) {
      // Value set or object set: `Versions INTEGER ::= { 1 | 2 }`, `Algs ALGORITHM ::= { ... }`. Which one
      // depends on whether the governor is a class, known only to the resolver; keep the set if it parses.
      if (!is(Tok.LBrace)) fail(`expected "{" starting a value set, found ${describe(tok())}`);
      const valueSet = attempt(() => {
        const open = advance();
        const specs = parseElementSetSpecs(open);
        need(Tok.RBrace, '"}"');
        return specs;
      });
      if (valueSet === undefined) skipBalanced();
      return { kind: 'other', what: 'value set', name, params, governor, fields: [], valueSet, span: spanFrom(start) };
    }
    const value = parseValue();
    return { kind: 'value', name, params, type: governor, value, span: spanFrom(start) };
  }

  /** After an error at token index `from`: the start of the next assignment, or END. */
  function recoverToNextAssignment(from: number): void {
    let j = Math.max(from, i) + 1;
    for (; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (t.kind === Tok.EOF || (t.kind === Tok.Keyword && t.text === 'END')) break;
      if (t.kind !== Tok.Assign) continue;
      // The assignment starts with the first token on the line of its "::=" that lies after the error.
      let s = j;
      while (s - 1 > from && tokens[s - 1]!.line === t.line) s--;
      if (s < j) {
        i = s;
        return;
      }
    }
    i = Math.min(j, tokens.length - 1);
  }

  function parseModule(): ModuleAst {
    const start = tok();
    const name = need(Tok.TypeRef, 'a module name').text;
    let oid: ValueAst | undefined;
    if (is(Tok.LBrace)) oid = parseValue();
    if (is(Tok.CString)) advance(); // DefinitiveIdentification's IRI value
    needKw('DEFINITIONS');
    if (is(Tok.TypeRef) && isKw('INSTRUCTIONS', 1)) {
      advance();
      advance();
    }
    let tagDefault: TagDefault = 'EXPLICIT';
    if (isKw('EXPLICIT') || isKw('IMPLICIT') || isKw('AUTOMATIC')) {
      tagDefault = advance().text as TagDefault; // cast: one of the three keywords just tested
      needKw('TAGS');
    }
    let extensibilityImplied = false;
    if (eatKw('EXTENSIBILITY')) {
      needKw('IMPLIED');
      extensibilityImplied = true;
    }
    need(Tok.Assign, '"::="');
    needKw('BEGIN');

    let exports: ModuleAst['exports'];
    const imports: ImportAst[] = [];
    const assignments: AssignmentAst[] = [];
    const headerGuarded = (fn: () => void): void => {
      const from = i;
      try {
        fn();
      } catch (e) {
        if (e !== Bail.instance) throw e;
        while (!is(Tok.Semicolon) && !is(Tok.EOF) && !isKw('END')) advance();
        eat(Tok.Semicolon);
        if (i === from) advance();
      }
    };
    if (isKw('EXPORTS')) {
      headerGuarded(() => {
        advance();
        if (eatKw('ALL')) exports = 'ALL';
        else exports = parseSymbolList(() => is(Tok.Semicolon));
        need(Tok.Semicolon, '";" ending EXPORTS');
      });
    }
    if (isKw('IMPORTS')) headerGuarded(() => {
      advance();
      parseImports(imports);
    });

    while (!is(Tok.EOF) && !isKw('END')) {
      const from = i;
      try {
        assignments.push(parseAssignment());
      } catch (e) {
        if (e !== Bail.instance) throw e;
        recoverToNextAssignment(from);
      }
    }
    expect(Tok.Keyword, '"END" closing the module', 'END');
    return {
      name,
      oid,
      tagDefault,
      extensibilityImplied,
      exports,
      imports,
      assignments,
      file,
      span: spanFrom(start),
    };
  }

  function parseSymbolList(atEnd: () => boolean): NameAst[] {
    const out: NameAst[] = [];
    if (atEnd()) return out;
    do {
      const t = tok();
      if (!is(Tok.TypeRef) && !is(Tok.Identifier) && !isKw('TYPE-IDENTIFIER')) fail(`expected a symbol name, found ${describe(t)}`);
      advance();
      // A parameterized reference is listed as `Name{}`.
      if (is(Tok.LBrace) && is(Tok.RBrace, 1)) {
        advance();
        advance();
      }
      out.push({ name: t.text, span: t });
    } while (eat(Tok.Comma));
    return out;
  }

  function parseImports(into: ImportAst[]): void {
    while (!is(Tok.Semicolon)) {
      const symbols = parseSymbolList(() => isKw('FROM'));
      needKw('FROM');
      const mod = need(Tok.TypeRef, 'a module name after FROM');
      let oid: ValueAst | undefined;
      if (is(Tok.LBrace)) oid = parseValue();
      else if (is(Tok.Identifier) && !is(Tok.Comma, 1) && !isKw('FROM', 1) && !is(Tok.LBrace, 1)) {
        // AssignedIdentifier given as a value reference; a following "," or FROM would make it a symbol.
        oid = parseValue();
      }
      if (isKw('WITH') && (peek(1).text === 'SUCCESSORS' || peek(1).text === 'DESCENDANTS')) {
        advance();
        advance();
      }
      into.push({ symbols, module: { name: mod.text, span: mod }, oid });
      if (is(Tok.EOF) || isKw('END')) break;
    }
    need(Tok.Semicolon, '";" ending IMPORTS');
  }

  const modules: ModuleAst[] = [];
  while (!is(Tok.EOF)) {
    const from = i;
    try {
      modules.push(parseModule());
    } catch (e) {
      if (e !== Bail.instance) throw e;
      // A broken module header: skip to after the next END and try again.
      while (!is(Tok.EOF) && !isKw('END')) advance();
      eat(Tok.Keyword);
    }
    if (i === from) advance();
  }
  return { modules, diagnostics };
}

/** Keywords that begin a type (used to tell a contained subtype from a value in a constraint). */
const TYPE_KEYWORDS: ReadonlySet<string> = new Set([
  'BOOLEAN', 'INTEGER', 'BIT', 'OCTET', 'OBJECT', 'RELATIVE-OID', 'REAL', 'ENUMERATED', 'SEQUENCE', 'SET',
  'CHOICE', 'ANY', 'EXTERNAL', 'EMBEDDED', 'CHARACTER', 'INSTANCE', 'TYPE-IDENTIFIER', 'ABSTRACT-SYNTAX',
]);
