/** Mutated module texts: the parser and compiler must report, never throw, and locate every diagnostic. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileAsn1 } from '../../src/asn1/index.js';
import { fixture } from './helpers.js';

const sources = ['LDAPv3.asn', 'Constructs.asn', 'Rfc5912Style.asn'].map(fixture);
const pieces = ['{', '}', '(', ')', '[', ']', '[[', ']]', '::=', '...', '..', ',', '--', '/*', '"', "'", '|', '!', ' OF ', ' SEQUENCE ', ' CHOICE ', ' IMPLICIT ', ' END ', 'INTEGER', 'x', 'X', '0', '-'];

test('mutated modules give diagnostics with valid positions and never throw', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: sources.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.constantFrom(...pieces)), { minLength: 1, maxLength: 6 }),
      (which, edits) => {
        let text = sources[which]!;
        for (const [at, cut, insert] of edits) {
          const p = at % (text.length + 1);
          text = text.slice(0, p) + insert + text.slice(p + cut);
        }
        const r = compileAsn1([{ text, file: 'mutated.asn' }]);
        const lines = text.split(/\r\n|\r|\n/).length;
        for (const d of r.diagnostics) {
          assert.ok(d.offset >= 0 && d.offset <= text.length, `offset ${d.offset}`);
          assert.ok(d.line >= 1 && d.line <= lines && d.column >= 1, `${d.line}:${d.column}`);
          assert.equal(typeof d.message, 'string');
        }
      },
    ),
    { numRuns: 150, seed: 20261126 },
  );
});
