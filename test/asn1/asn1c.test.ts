/**
 * Cross-check with asn1c (if installed): on modules within asn1c's reach, it and we must agree on
 * accept or reject. Known differences, where asn1c is stricter than X.680 allows, are listed apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasErrors } from '../../src/asn1/index.js';
import { compileFixtures, compileText, fixturePath } from './helpers.js';

const hasAsn1c = spawnSync('asn1c', ['-h'], { stdio: 'ignore' }).error === undefined;
const skip = hasAsn1c ? false : 'asn1c is not installed';

/** asn1c -E parses, -F runs its semantic fixer and checker; exit status 0 means accepted. -E never writes files. */
function asn1cAccepts(paths: string[], cwd: string): boolean {
  return spawnSync('asn1c', ['-EF', ...paths], { cwd, stdio: 'ignore', timeout: 30_000 }).status === 0;
}

test('asn1c and the compiler agree on the fixture modules', { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'vms-asn1c-'));
  try {
    for (const [name, accepted] of [['LDAPv3.asn', true], ['Comments.asn', true], ['Malformed.asn', false], ['ResolveErrors.asn', false]] as const) {
      const ours = !hasErrors(compileFixtures(name).diagnostics);
      const theirs = asn1cAccepts([fixturePath(name)], work);
      assert.equal(ours, accepted, `we ${accepted ? 'accept' : 'reject'} ${name}`);
      assert.equal(theirs, ours, `asn1c and we agree on ${name}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('asn1c and the compiler agree on small modules, good and bad', { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'vms-asn1c-'));
  const cases: [string, boolean][] = [
    ['C ::= CHOICE { a INTEGER, b INTEGER }', false],
    ['C ::= CHOICE { a [0] INTEGER, b [1] INTEGER }', true],
    ['S ::= SET { a INTEGER, b INTEGER }', false],
    ['S ::= SEQUENCE { a [0] INTEGER OPTIONAL, b [0] BOOLEAN }', false],
    ['S ::= SEQUENCE { a [0] INTEGER OPTIONAL, b [1] BOOLEAN }', true],
    ['A ::= B\nB ::= A', false],
    ['D ::= INTEGER\nD ::= BOOLEAN', false],
    ['S ::= SEQUENCE { a INTEGER, a BOOLEAN }', false],
    ['T ::= SEQUENCE { a INTEGER (0..ub) }\nub INTEGER ::= 5', true],
    ['T ::= SEQUENCE { a INTEGER (0..nope) }', false],
    ['T ::= [0] IMPLICIT CHOICE { a INTEGER }', false],
    ['S ::= SEQUENCE { a S }', true], // no finite value: a warning for us, accepted by asn1c
    ['R ::= SEQUENCE { v INTEGER, next R OPTIONAL }', true],
    ['E ::= ENUMERATED { a, b, ..., c }', true],
    ['T ::= SEQUENCE { a Missing }', false],
  ];
  try {
    cases.forEach(([body, accepted], k) => {
      const text = `M DEFINITIONS IMPLICIT TAGS ::= BEGIN\n${body}\nEND\n`;
      const file = join(work, `case${k}.asn`);
      writeFileSync(file, text);
      const ours = !hasErrors(compileText(text).diagnostics);
      assert.equal(ours, accepted, `we ${accepted ? 'accept' : 'reject'}: ${body}`);
      assert.equal(asn1cAccepts([file], work), ours, `asn1c and we agree on: ${body}`);
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('known differences: asn1c rejects what X.680 and RFC 5280 use, we accept', { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'vms-asn1c-'));
  try {
    // asn1c refuses the 1988 modules' own UTF8String / BMPString definitions, and integers above 64 bits.
    const pkix = [fixturePath('PKIX1Explicit88.asn'), fixturePath('PKIX1Implicit88.asn')];
    assert.equal(asn1cAccepts(pkix, work), false);
    assert.equal(hasErrors(compileFixtures('PKIX1Explicit88.asn', 'PKIX1Implicit88.asn').diagnostics), false);
    assert.equal(asn1cAccepts([fixturePath('Constructs.asn')], work), false);
    assert.equal(hasErrors(compileFixtures('Constructs.asn').diagnostics), false);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
