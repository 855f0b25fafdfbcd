// Interop: our `--xer` output and asn1c's sample converter (`-iber -oxer`) give the same
// document, once whitespace is normalised, for the BER of every fixture stream (our schema) and
// for the LDAP samples (RFC 4511, PDU LDAPMessage).
// The converters (test/asn1/asn1c-xer.ts) are cached in the temp dir by schema hash; the migration
// one is the same build test/interop/asn1c.test.ts uses. A missing asn1c fails unless
// VMSTREAM_SKIP_INTEROP=1. Certificates and the types asn1c writes its own way are compared in
// test/asn1/xer-*-asn1c.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemorySink } from '../../src/channel/transports/memory.js';
import { qemuToBer } from '../../src/stream/ber/convert.js';
import { loadSchema } from '../../src/asn1/validate/index.js';
import { asn1cConverter, firstDifference, normalizeXml, ourXer, requireTools, theirXer } from '../asn1/asn1c-xer.js';

const SCHEMA = 'schema/migration.asn1';
const LDAP_SCHEMA = 'test/fixtures/asn1/LDAPv3.asn';
const FIXTURES = 'test/fixtures/qemu';
const LDAP = 'test/fixtures/asn1/ldap';

test('normalisation: whitespace runs collapse, whitespace beside tags goes', () => {
  assert.equal(normalizeXml('<a>\n    <b>1 2</b>\n    <c>\n  AA BB \n  CC\n </c>\n</a>\n'), '<a><b>1 2</b><c>AA BB CC</c></a>');
});

const migrationType = loadSchema([SCHEMA]).type;

for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith('.mig')).sort()) {
  test(`XER of ${name}: ours equals asn1c's`, async (t) => {
    if (!requireTools(t)) return;
    const sink = new MemorySink();
    await qemuToBer(new Uint8Array(readFileSync(join(FIXTURES, name))), sink);
    const ber = sink.bytes();
    const ours = normalizeXml(await ourXer(ber, migrationType));
    const theirs = normalizeXml(theirXer(asn1cConverter(SCHEMA, 'MigrationStream'), ber, name));
    assert.ok(ours === theirs, `XER differs for ${name} ${firstDifference(ours, theirs)}`);
  });
}

test('XER of the LDAP samples: ours equals asn1c\'s', async (t) => {
  if (!requireTools(t)) return;
  const type = loadSchema([LDAP_SCHEMA], 'LDAPMessage').type;
  const progname = asn1cConverter(LDAP_SCHEMA, 'LDAPMessage');
  const samples = readdirSync(LDAP).filter((f) => f.endsWith('.ber') && !f.startsWith('bad-'));
  assert.ok(samples.length >= 4);
  for (const name of samples) {
    const ber = new Uint8Array(readFileSync(join(LDAP, name)));
    const ours = normalizeXml(await ourXer(ber, type));
    const theirs = normalizeXml(theirXer(progname, ber, name));
    assert.ok(ours === theirs, `XER differs for ${name} ${firstDifference(ours, theirs)}`);
  }
});

