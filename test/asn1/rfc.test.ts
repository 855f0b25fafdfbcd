/** The real modules: RFC 5280 Appendix A (PKIX1Explicit88, PKIX1Implicit88) and RFC 4511 Appendix B (LDAPv3). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TagClass, firstTags, formatRanges, formatTag, type AsnType } from '../../src/asn1/index.js';
import { compileFixtures, component, mustType, tagsOf } from './helpers.js';

const pkix = compileFixtures('PKIX1Explicit88.asn', 'PKIX1Implicit88.asn');
const ldap = compileFixtures('LDAPv3.asn');

test('RFC 5280 modules parse and resolve with no diagnostics', () => {
  assert.deepEqual(pkix.diagnostics, []);
  assert.deepEqual([...pkix.modules.keys()], ['PKIX1Explicit88', 'PKIX1Implicit88']);
  assert.deepEqual(pkix.modules.get('PKIX1Explicit88')!.oid, [1n, 3n, 6n, 1n, 5n, 5n, 7n, 0n, 18n]);
  assert.equal(pkix.modules.get('PKIX1Implicit88')!.tagDefault, 'IMPLICIT');
});

test('Certificate and TBSCertificate: version [0] EXPLICIT, issuerUniqueID [1] IMPLICIT, extensions [3] EXPLICIT', () => {
  const cert = mustType(pkix, 'Certificate');
  assert.equal(tagsOf(cert), 'SEQUENCE');
  assert.deepEqual(cert.def.components.map((c) => `${c.name}:${tagsOf(c.type)}`), [
    'tbsCertificate:SEQUENCE', 'signatureAlgorithm:SEQUENCE', 'signature:BIT STRING',
  ]);
  const tbs = mustType(pkix, 'TBSCertificate');
  assert.deepEqual(tbs.def.components.map((c) => `${c.name}:${tagsOf(c.type)}${c.optional ? '?' : ''}`), [
    'version:[0] INTEGER?', // EXPLICIT TAGS module: [0] wraps the INTEGER
    'serialNumber:INTEGER',
    'signature:SEQUENCE',
    'issuer:', // Name is an untagged CHOICE
    'validity:SEQUENCE',
    'subject:',
    'subjectPublicKeyInfo:SEQUENCE',
    'issuerUniqueID:[1]?', // written IMPLICIT: replaces BIT STRING's tag
    'subjectUniqueID:[2]?',
    'extensions:[3] SEQUENCE?',
  ]);
  const version = tbs.def.components[0]!;
  assert.deepEqual(version.default, { kind: 'integer', value: 0n, name: 'v1' });
  assert.deepEqual(version.type.def.named.map((n) => [n.name, n.value]), [['v1', 0n], ['v2', 1n], ['v3', 2n]]);
  assert.equal(component(tbs, 'issuerUniqueID').kind, 'BIT STRING');
  assert.deepEqual(component(tbs, 'issuerUniqueID').tags, [{ cls: TagClass.Context, number: 1 }]);
  const exts = component(tbs, 'extensions');
  assert.equal(exts.kind, 'SEQUENCE OF');
  assert.equal(formatRanges(exts.size!), '1..MAX');
  assert.deepEqual(exts.def.element!.def.components.map((c) => [c.name, c.optional, c.default]), [
    ['extnID', false, undefined], ['critical', true, { kind: 'boolean', value: false }], ['extnValue', false, undefined],
  ]);
});

test('1988 redefinitions of UTF8String, BMPString, UniversalString become the built-in string types', () => {
  for (const [name, tag] of [['UTF8String', 12], ['BMPString', 30], ['UniversalString', 28]] as const) {
    const t = mustType(pkix, name, 'PKIX1Explicit88');
    assert.equal(t.kind, name);
    assert.deepEqual(t.tags, [{ cls: TagClass.Universal, number: tag }]);
  }
  // imported into the implicit module and used there with a size constraint
  const display = mustType(pkix, 'DisplayText');
  assert.deepEqual(display.def.components.map((c) => `${c.type.kind}:${tagsOf(c.type)}:${formatRanges(c.type.size!)}`), [
    'IA5String:IA5String:1..200', 'VisibleString:VisibleString:1..200', 'BMPString:BMPString:1..200', 'UTF8String:UTF8String:1..200',
  ]);
});

test('bounds given by value references (ub-name) become numeric ranges', () => {
  const name = mustType(pkix, 'X520name');
  assert.equal(name.kind, 'CHOICE');
  assert.deepEqual(name.def.components.map((c) => `${c.name} ${formatRanges(c.type.size!)}`), [
    'teletexString 1..32768', 'printableString 1..32768', 'universalString 1..32768', 'utf8String 1..32768', 'bmpString 1..32768',
  ]);
  assert.equal(formatRanges(mustType(pkix, 'X520countryName').size!), '2');
  const ext = mustType(pkix, 'ExtensionAttribute');
  assert.equal(formatRanges(component(ext, 'extension-attribute-type').value!), '0..256');
  assert.deepEqual(pkix.value('ub-name'), { kind: 'integer', value: 32768n });
});

test('OID values resolve through references and well-known names', () => {
  assert.deepEqual(pkix.value('id-pkix'), { kind: 'oid', arcs: [1n, 3n, 6n, 1n, 5n, 5n, 7n] });
  assert.deepEqual(pkix.value('id-ad-ocsp'), { kind: 'oid', arcs: [1n, 3n, 6n, 1n, 5n, 5n, 7n, 48n, 1n] });
  assert.deepEqual(pkix.value('id-at-name'), { kind: 'oid', arcs: [2n, 5n, 4n, 41n] }); // typed AttributeType
  assert.deepEqual(pkix.value('id-ce-keyUsage'), { kind: 'oid', arcs: [2n, 5n, 29n, 15n] });
  assert.deepEqual(pkix.value('anyPolicy'), { kind: 'oid', arcs: [2n, 5n, 29n, 32n, 0n] });
  assert.deepEqual(pkix.value('id-pe-authorityInfoAccess', 'PKIX1Implicit88'), { kind: 'oid', arcs: [1n, 3n, 6n, 1n, 5n, 5n, 7n, 1n, 1n] });
});

test('GeneralName: a CHOICE under IMPLICIT TAGS; Name (a CHOICE) under [4] gets an explicit tag', () => {
  const gn = mustType(pkix, 'GeneralName');
  assert.deepEqual(gn.def.components.map((c) => `${c.name}:${c.type.kind}:${tagsOf(c.type)}`), [
    'otherName:SEQUENCE:[0]',
    'rfc822Name:IA5String:[1]',
    'dNSName:IA5String:[2]',
    'x400Address:SEQUENCE:[3]',
    'directoryName:CHOICE:[4]', // explicit: the CHOICE keeps its own alternatives' tags inside
    'ediPartyName:SEQUENCE:[5]',
    'uniformResourceIdentifier:IA5String:[6]',
    'iPAddress:OCTET STRING:[7]',
    'registeredID:OBJECT IDENTIFIER:[8]',
  ]);
  const another = mustType(pkix, 'AnotherName');
  const value = component(another, 'value');
  assert.equal(value.kind, 'ANY');
  assert.equal(value.def.definedBy, 'type-id');
  assert.equal(tagsOf(value), '[0]');
  const edi = mustType(pkix, 'EDIPartyName');
  assert.equal(tagsOf(component(edi, 'nameAssigner')), '[0]'); // DirectoryString CHOICE: explicit
  assert.deepEqual(firstTags(component(edi, 'nameAssigner')).length, 1);
});

test('named bits, ENUMERATED and DEFAULTs of the implicit module', () => {
  const ku = mustType(pkix, 'KeyUsage');
  assert.deepEqual(ku.def.named.map((n) => `${n.name}(${n.value})`), [
    'digitalSignature(0)', 'nonRepudiation(1)', 'keyEncipherment(2)', 'dataEncipherment(3)', 'keyAgreement(4)',
    'keyCertSign(5)', 'cRLSign(6)', 'encipherOnly(7)', 'decipherOnly(8)',
  ]);
  const reason = mustType(pkix, 'CRLReason');
  assert.equal(reason.kind, 'ENUMERATED');
  assert.equal(reason.def.named.find((n) => n.name === 'aACompromise')?.value, 10n);
  const subtree = mustType(pkix, 'GeneralSubtree');
  assert.deepEqual(subtree.def.components.map((c) => `${c.name}:${tagsOf(c.type)}:${c.default?.kind ?? '-'}`), [
    'base::-', 'minimum:[0]:integer', 'maximum:[1]:-',
  ]);
  assert.equal(formatRanges(component(subtree, 'minimum').value!), '0..MAX');
  const idp = mustType(pkix, 'IssuingDistributionPoint');
  assert.deepEqual(component(idp, 'distributionPoint').tags, [{ cls: TagClass.Context, number: 0 }]);
});

test('LDAPv3 (RFC 4511) resolves with no diagnostics; protocolOp alternatives carry [APPLICATION n]', () => {
  assert.deepEqual(ldap.diagnostics, []);
  const msg = mustType(ldap, 'LDAPMessage');
  assert.equal(msg.def.extensible, true); // EXTENSIBILITY IMPLIED
  assert.deepEqual(msg.def.components.map((c) => `${c.name}:${tagsOf(c.type)}${c.optional ? '?' : ''}`), [
    'messageID:INTEGER', 'protocolOp:', 'controls:[0]?',
  ]);
  assert.equal(formatRanges(component(msg, 'messageID').value!), '0..2147483647');
  const op = component(msg, 'protocolOp');
  assert.equal(op.kind, 'CHOICE');
  assert.deepEqual(op.def.components.map((c) => `${c.name}:${c.type.kind}:${tagsOf(c.type)}${c.extension ? '+' : ''}`), [
    'bindRequest:SEQUENCE:[APPLICATION 0]',
    'bindResponse:SEQUENCE:[APPLICATION 1]',
    'unbindRequest:NULL:[APPLICATION 2]',
    'searchRequest:SEQUENCE:[APPLICATION 3]',
    'searchResEntry:SEQUENCE:[APPLICATION 4]',
    'searchResDone:SEQUENCE:[APPLICATION 5]',
    'searchResRef:SEQUENCE OF:[APPLICATION 19]',
    'modifyRequest:SEQUENCE:[APPLICATION 6]',
    'modifyResponse:SEQUENCE:[APPLICATION 7]',
    'addRequest:SEQUENCE:[APPLICATION 8]',
    'addResponse:SEQUENCE:[APPLICATION 9]',
    'delRequest:OCTET STRING:[APPLICATION 10]',
    'delResponse:SEQUENCE:[APPLICATION 11]',
    'modDNRequest:SEQUENCE:[APPLICATION 12]',
    'modDNResponse:SEQUENCE:[APPLICATION 13]',
    'compareRequest:SEQUENCE:[APPLICATION 14]',
    'compareResponse:SEQUENCE:[APPLICATION 15]',
    'abandonRequest:INTEGER:[APPLICATION 16]',
    'extendedReq:SEQUENCE:[APPLICATION 23]',
    'extendedResp:SEQUENCE:[APPLICATION 24]',
    'intermediateResponse:SEQUENCE:[APPLICATION 25]+',
  ]);
  assert.equal(op.def.extensible, true);
  assert.deepEqual(firstTags(op), op.def.components.map((c) => c.type.tags[0]));
});

test('LDAP: COMPONENTS OF LDAPResult, recursive Filter, ENUMERATED with extension, DEFAULT FALSE', () => {
  const bind = mustType(ldap, 'BindResponse');
  assert.deepEqual(bind.def.components.map((c) => `${c.name}:${tagsOf(c.type)}`), [
    'resultCode:ENUMERATED', 'matchedDN:OCTET STRING', 'diagnosticMessage:OCTET STRING', 'referral:[3]', 'serverSaslCreds:[7]',
  ]);
  const filter = mustType(ldap, 'Filter');
  const and = component(filter, 'and');
  assert.equal(tagsOf(and), '[0]');
  assert.equal(formatRanges(and.size!), '1..MAX');
  assert.equal(and.def.element!.def, filter.def, 'SET OF Filter shares the Filter definition');
  const not = component(filter, 'not');
  assert.equal(tagsOf(not), '[2]'); // an untagged CHOICE under IMPLICIT TAGS: explicit tag
  assert.equal(not.def, filter.def);
  const result = mustType(ldap, 'LDAPResult');
  const code = component(result, 'resultCode');
  assert.equal(code.def.extensible, true);
  assert.equal(code.def.named.find((n) => n.name === 'other')?.value, 80n);
  const control = mustType(ldap, 'Control');
  assert.deepEqual(control.def.components[1]!.default, { kind: 'boolean', value: false });
  const substrings = component(mustType(ldap, 'SubstringFilter'), 'substrings');
  assert.deepEqual(substrings.def.element!.def.components.map((c) => tagsOf(c.type)), ['[0]', '[1]', '[2]']);
  const auth = mustType(ldap, 'AuthenticationChoice');
  assert.deepEqual(auth.def.components.map((c) => tagsOf(c.type)), ['[0]', '[3]']);
  // Attribute ::= PartialAttribute (WITH COMPONENTS { ..., vals (SIZE(1..MAX)) }): at least one value
  const attrs = mustType(ldap, 'Attribute');
  assert.equal(attrs.kind, 'SEQUENCE');
  assert.deepEqual(attrs.def.components.map((c) => c.name), ['type', 'vals']);
  assert.equal(formatRanges(component(attrs, 'vals').size!), '1..MAX');
  assert.equal(component(mustType(ldap, 'PartialAttribute'), 'vals').size, undefined);
});

test('every compiled type has tags a decoder can use', () => {
  const walk = (t: AsnType, seen: Set<unknown>): void => {
    if (seen.has(t.def)) return;
    seen.add(t.def);
    if (t.kind !== 'CHOICE' && t.kind !== 'ANY') assert.ok(t.tags.length > 0, `${t.name} has a tag`);
    for (const tag of t.tags) assert.ok(Number.isSafeInteger(tag.number) && formatTag(tag).length > 0);
    for (const c of t.def.components) walk(c.type, seen);
    if (t.def.element !== undefined) walk(t.def.element, seen);
  };
  const seen = new Set<unknown>();
  for (const r of [pkix, ldap]) for (const m of r.modules.values()) for (const t of m.types.values()) walk(t, seen);
  assert.ok(seen.size > 150);
});
