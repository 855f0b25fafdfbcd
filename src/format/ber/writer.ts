/**
 * Writes BER over a ChannelWriter in one pass.
 *
 * Containers come in two kinds. `startDefinite(tag, contentLength)` is for contents whose
 * size the caller computes up front with `tlvSize` and the content-size helpers (so nothing
 * is encoded twice and nothing is buffered); `end()` checks that exactly that many bytes were
 * written. `startIndefinite(tag)` is for contents produced online (a RAM section of unknown
 * page count): `end()` writes the end-of-contents octets 00 00. Either way memory stays
 * bounded by the channel's chunk, whatever the stream size.
 *
 * OCTET STRING contents go to `ChannelWriter.bytes` by reference: runs at or above the
 * channel's `zeroCopyThreshold` (set it to 4096 for pages) are sent without copying and must
 * stay unchanged until the channel's `drain()`/`close()` resolves.
 */
import { VmsError } from '../../errors.js';
import type { ChannelWriter } from '../../channel/writer.js';
import { CONSTRUCTED_BIT, Universal, universalTag, type BerTag, tagName } from './tag.js';
import { INDEFINITE, lengthSize, putLength } from './length.js';
import { integerSize, putInteger } from './integer.js';
import { encodeOid } from './oid.js';
import { encodeReal } from './real.js';
import { ia5Bytes, utf8Bytes } from './text.js';

/** Universal tags, precomputed for writers and size computations. */
export const UniversalTag = {
  Boolean: universalTag(Universal.Boolean),
  Integer: universalTag(Universal.Integer),
  BitString: universalTag(Universal.BitString),
  OctetString: universalTag(Universal.OctetString),
  Null: universalTag(Universal.Null),
  ObjectIdentifier: universalTag(Universal.ObjectIdentifier),
  Real: universalTag(Universal.Real),
  Enumerated: universalTag(Universal.Enumerated),
  UTF8String: universalTag(Universal.UTF8String),
  RelativeOid: universalTag(Universal.RelativeOid),
  Sequence: universalTag(Universal.Sequence),
  Set: universalTag(Universal.Set),
  IA5String: universalTag(Universal.IA5String),
} as const;

/** Size of a whole TLV with definite length: identifier + length octets + contents. */
export function tlvSize(tag: BerTag, contentLength: number): number {
  return tag.bytes.length + lengthSize(contentLength) + contentLength;
}

/** Size of a whole TLV with indefinite length: identifier + 0x80 + contents + 00 00. */
export function indefiniteTlvSize(tag: BerTag, contentLength: number): number {
  return tag.bytes.length + 1 + contentLength + 2;
}

/**
 * Bytes of headers and small contents are assembled here, then copied to the channel in one
 * put (always `bytesCopy`: the scratch is reused at once, so it must never go out by reference).
 */
const SCRATCH_SIZE = 64;

export class BerWriter {
  private readonly scratch = new Uint8Array(SCRATCH_SIZE);
  /** For each open container: the `bytesPut` its contents must end at, or INDEFINITE. */
  private readonly ends: number[] = [];
  private readonly openTags: BerTag[] = [];

  /** A writer that puts its bytes on `out`. */
  constructor(readonly out: ChannelWriter) {}

  /** Number of open containers. */
  get depth(): number {
    return this.ends.length;
  }

  // ---- headers and containers ----------------------------------------------------------------

  /** Identifier and length octets; `length` may be INDEFINITE for a constructed value. */
  header(tag: BerTag, constructed: boolean, length: number): this {
    if (length === INDEFINITE && !constructed) {
      throw new VmsError('E_USAGE', 'indefinite length on a primitive value', { actual: tagName(tag.cls, tag.number) });
    }
    const s = this.scratch;
    const at = this.putHeader(s, tag, constructed, length);
    this.out.bytesCopy(s.subarray(0, at));
    return this;
  }

  /** Opens a constructed value whose contents will be exactly `contentLength` bytes (see `tlvSize`). */
  startDefinite(tag: BerTag, contentLength: number): this {
    if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
      throw new VmsError('E_USAGE', 'definite length must be a non-negative safe integer', { actual: String(contentLength) });
    }
    this.header(tag, true, contentLength);
    this.ends.push(this.out.bytesPut + contentLength);
    this.openTags.push(tag);
    return this;
  }

  /** Opens a constructed value with the indefinite length form; `end()` writes 00 00. */
  startIndefinite(tag: BerTag): this {
    this.header(tag, true, INDEFINITE);
    this.ends.push(INDEFINITE);
    this.openTags.push(tag);
    return this;
  }

  /** Opens a SEQUENCE: definite when `contentLength` is given, indefinite otherwise. */
  startSequence(contentLength?: number, tag: BerTag = UniversalTag.Sequence): this {
    return contentLength === undefined ? this.startIndefinite(tag) : this.startDefinite(tag, contentLength);
  }

  /** Closes the innermost open container. */
  end(): this {
    const expected = this.ends.pop();
    const tag = this.openTags.pop();
    if (expected === undefined || tag === undefined) {
      throw new VmsError('E_USAGE', 'end() without an open constructed value');
    }
    if (expected === INDEFINITE) {
      // X.690 8.1.5 end-of-contents octets
      this.out.u8(0).u8(0);
      return this;
    }
    const put = this.out.bytesPut;
    if (put !== expected) {
      const diff = put - expected;
      throw new VmsError('E_USAGE', `${tagName(tag.cls, tag.number)} contents differ from their declared length`, {
        offset: expected,
        expected: 'exactly the declared contents length',
        actual: diff > 0 ? `${diff} bytes more` : `${-diff} bytes fewer`,
      });
    }
    return this;
  }

  // ---- primitives (X.690 section 8) ----------------------------------------------------------

  /** BOOLEAN: one octet, 0xFF for true (the DER form, X.690 11.1). */
  boolean(v: boolean, tag: BerTag = UniversalTag.Boolean): this {
    const s = this.scratch;
    let at = this.putHeader(s, tag, false, 1);
    s[at++] = v ? 0xff : 0x00;
    this.out.bytesCopy(s.subarray(0, at));
    return this;
  }

  /** NULL: no contents (X.690 8.8). */
  null(tag: BerTag = UniversalTag.Null): this {
    return this.header(tag, false, 0);
  }

  /** INTEGER in minimal two's complement (X.690 8.3); numbers must be safe integers. */
  integer(v: number | bigint, tag: BerTag = UniversalTag.Integer): this {
    const n = integerSize(v);
    if (n > SCRATCH_SIZE - 20) {
      const content = new Uint8Array(n);
      putInteger(content, 0, v, n);
      return this.primitive(tag, content);
    }
    const s = this.scratch;
    const at = this.putHeader(s, tag, false, n);
    this.out.bytesCopy(s.subarray(0, putInteger(s, at, v, n)));
    return this;
  }

  /** ENUMERATED: encoded as an INTEGER (X.690 8.4). */
  enumerated(v: number, tag: BerTag = UniversalTag.Enumerated): this {
    return this.integer(v, tag);
  }

  /** OCTET STRING, primitive; the contents go to the channel by reference (see class comment). */
  octetString(bytes: Uint8Array, tag: BerTag = UniversalTag.OctetString): this {
    return this.primitive(tag, bytes);
  }

  /** BIT STRING: an unused-bits octet (0..7, 0 when empty) then the bits (X.690 8.6). */
  bitString(bytes: Uint8Array, unusedBits = 0, tag: BerTag = UniversalTag.BitString): this {
    if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
      throw new VmsError('E_USAGE', 'BIT STRING unused bits must be 0..7, and 0 when empty', { actual: String(unusedBits) });
    }
    const s = this.scratch;
    let at = this.putHeader(s, tag, false, bytes.length + 1);
    s[at++] = unusedBits;
    this.out.bytesCopy(s.subarray(0, at));
    this.out.bytes(bytes);
    return this;
  }

  /** UTF8String (X.690 8.23). */
  utf8String(v: string, tag: BerTag = UniversalTag.UTF8String): this {
    return this.primitive(tag, utf8Bytes(v));
  }

  /** IA5String: ASCII only; other characters throw E_USAGE. */
  ia5String(v: string, tag: BerTag = UniversalTag.IA5String): this {
    return this.primitive(tag, ia5Bytes(v));
  }

  /** OBJECT IDENTIFIER from dotted text or arcs (X.690 8.19). */
  oid(v: string | readonly number[], tag: BerTag = UniversalTag.ObjectIdentifier): this {
    return this.primitive(tag, encodeOid(v));
  }

  /** RELATIVE-OID from dotted text or arcs (X.690 8.20). */
  relativeOid(v: string | readonly number[], tag: BerTag = UniversalTag.RelativeOid): this {
    return this.primitive(tag, encodeOid(v, true));
  }

  /** REAL: base-2 binary form with an odd mantissa, or a special value (X.690 8.5). */
  real(v: number, tag: BerTag = UniversalTag.Real): this {
    return this.primitive(tag, encodeReal(v));
  }

  /** Any primitive value with contents already encoded (passed by reference, as `octetString`). */
  primitive(tag: BerTag, contents: Uint8Array): this {
    const s = this.scratch;
    const n = contents.length;
    const at = this.putHeader(s, tag, false, n);
    if (n <= SCRATCH_SIZE - at) {
      // Small contents: one put for header and contents.
      s.set(contents, at);
      this.out.bytesCopy(s.subarray(0, at + n));
    } else {
      this.out.bytesCopy(s.subarray(0, at));
      this.out.bytes(contents);
    }
    return this;
  }

  /**
   * Bytes already BER-encoded (whole TLVs, or the pieces of a primitive whose header was
   * written with `header(tag, false, length)`). Passed by reference, as `octetString`.
   */
  raw(bytes: Uint8Array): this {
    this.out.bytes(bytes);
    return this;
  }

  private putHeader(s: Uint8Array, tag: BerTag, constructed: boolean, length: number): number {
    const t = tag.bytes;
    s.set(t, 0);
    if (constructed) s[0] = s[0]! | CONSTRUCTED_BIT;
    return putLength(s, t.length, length);
  }
}
