/** vmdesc: QEMU's JSON writer rules, and checked parsing of damaged trailers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isVmsError } from '../../src/errors.js';
import { locateTrailer, parseVmdesc, serializeQemuJson } from '../../src/stream/index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('vmdesc JSON', () => {
  it("uses QEMU's separators: ', ' between members and ': ' after keys", () => {
    assert.equal(
      serializeQemuJson({ page_size: 4096, devices: [{ name: 'timer', instance_id: 0, fields: [], e: {} }] }),
      '{"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0, "fields": [], "e": {}}]}',
    );
  });

  it('escapes control characters and everything from 0x7F as uppercase \\uXXXX, with short escapes where JSON has them', () => {
    assert.equal(serializeQemuJson('a"b\\c\n\t\u0001\u007f\u00e9\u{1F600}/'), '"a\\"b\\\\c\\n\\t\\u0001\\u007F\\u00E9\\uD83D\\uDE00/"');
  });

  it('parses a real-looking trailer', () => {
    const d = parseVmdesc(
      enc('{"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2, "fields": [{"name": "cpu_ticks_offset", "type": "int64", "size": 8}]}]}'),
    );
    assert.equal(d.devices[0]!.fields![0]!.type, 'int64');
  });

  for (const [what, json, path] of [
    ['not JSON', '{"page_size": 40', ['vmdesc']],
    ['devices not an array', '{"page_size": 4096, "devices": 3}', ['vmdesc', 'devices']],
    ['a field without a size', '{"page_size": 4096, "devices": [{"name": "a", "instance_id": 0, "fields": [{"name": "x", "type": "uint8"}]}]}', ['vmdesc', 'devices', 0, 'fields', 0, 'size']],
    ['a negative array_len', '{"page_size": 4096, "devices": [{"name": "a", "instance_id": 0, "fields": [{"name": "x", "type": "uint8", "size": 1, "array_len": -1}]}]}', ['vmdesc', 'devices', 0, 'fields', 0, 'array_len']],
    ['a struct without its description', '{"page_size": 4096, "devices": [{"name": "a", "instance_id": 0, "fields": [{"name": "x", "type": "struct", "size": 1}]}]}', ['vmdesc', 'devices', 0, 'fields', 0, 'struct']],
  ] as const) {
    it(`rejects ${what} with a path`, () => {
      try {
        parseVmdesc(enc(json), 100);
        assert.fail('accepted');
      } catch (e) {
        assert.ok(isVmsError(e));
        assert.equal(e.code, 'E_FORMAT');
        assert.equal(e.offset, 100);
        assert.deepEqual(e.path, path);
      }
    });
  }

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    let s = '{"vmsd_name": "x", "version": 1, "fields": []}';
    for (let i = 0; i < 200; i++) s = `{"vmsd_name": "x", "version": 1, "fields": [{"name": "f", "type": "struct", "size": 1, "struct": ${s}}]}`;
    const json = `{"page_size": 4096, "devices": [{"name": "a", "instance_id": 0, "fields": [{"name": "f", "type": "struct", "size": 1, "struct": ${s}}]}]}`;
    assert.throws(() => parseVmdesc(enc(json)), (e: unknown) => isVmsError(e) && e.code === 'E_FORMAT');
  });

  it('locates a trailer by its shape and length, ignoring look-alikes inside it', () => {
    const json = '{"page_size": 4096, "devices": [{"name": "{\\"page_size\\"", "instance_id": 0}]}';
    const tail = new Uint8Array([0x7e, 0, 0, 0, 1, 0x00, 0x06, 0, 0, 0, json.length, ...enc(json)]);
    assert.deepEqual(locateTrailer(tail, 1000), { offset: 1006, jsonOffset: 1011, length: json.length });
    assert.equal(locateTrailer(tail.subarray(0, tail.length - 1), 1000), undefined);
  });
});
