/** Shared helpers for the ASN.1 tests: fixture loading and compact descriptions of compiled types. */
import { readFileSync } from 'node:fs';
import { compileAsn1, formatTag, type AsnType, type CompileResult, type Diagnostic } from '../../src/asn1/index.js';

/** Fixture texts live in the source tree; tests run from dist/test/asn1. */
const FIXTURES = new URL('../../../test/fixtures/asn1/', import.meta.url);

export const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;
export const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

export function compileFixtures(...names: string[]): CompileResult {
  return compileAsn1(names.map((n) => ({ text: fixture(n), file: n })));
}

export function compileText(text: string, file = 'inline.asn'): CompileResult {
  return compileAsn1([{ text, file }]);
}

/** `[0] INTEGER` style: the tags outermost first. */
export const tagsOf = (t: AsnType): string => t.tags.map(formatTag).join(' ');

export function mustType(r: CompileResult, name: string, module?: string): AsnType {
  const t = r.type(name, module);
  if (t === undefined) throw new Error(`type ${name} was not compiled`);
  return t;
}

export function component(t: AsnType, name: string): AsnType {
  const c = t.def.components.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${t.name} has no component ${name}`);
  return c.type;
}

/** `line:column CODE` for each diagnostic, to assert positions compactly. */
export const where = (ds: readonly Diagnostic[]): string[] => ds.map((d) => `${d.line}:${d.column} ${d.code}`);
