/**
 * The XER (XML) form of a BER stream, in asn1c's layout, written while the validator walks
 * the stream: 4-space indentation, elements named after components, alternatives and SEQUENCE
 * OF element types, INTEGER in decimal, BOOLEAN as <true/>/<false/>, OCTET STRING as uppercase
 * hex 16 bytes a line, character strings as text with X.693's control-character elements.
 * Where asn1c 0.9.28 departs from that, we follow it (checked against its converter in
 * test/asn1/xer-types-asn1c.test.ts): ANY as the hex of its whole TLV; BIT STRING as binary
 * digits on lines of 64; REAL as `%.15f` trimmed; TeletexString, VideotexString, GraphicString
 * and GeneralString as hex; BMPString and UniversalString as UTF-8. We keep well-formed XML where
 * asn1c does not: `& < >` and control characters in BMPString and UniversalString are escaped
 * as in the other strings (asn1c writes them raw), surrogate pairs become one UTF-8 character.
 *
 * Speed: output goes into one large Uint8Array (hex through 256-entry tables, names encoded
 * once), never through per-byte strings, and is copied to the ChannelWriter a megabyte at a
 * time; memory stays flat because both buffers are reused. Runs of whole hex lines of long
 * values (RAM pages: most of a migration stream's XER) go through HexLines instead: pooled
 * blocks sent by reference, digits stored by WebAssembly.
 */
import type { ChannelWriter } from '../../channel/writer.js';
import { Universal } from '../../format/ber/tag.js';
import type { Component } from '../types.js';
import { Shape, type TypePlan } from '../validate/plan.js';
import type { ValueObserver } from '../validate/walker.js';
import { HexLines } from './hex-lines.js';
import { scalarText } from './scalar-text.js';

/** Output chunk size; a chunk is shipped when fewer than SLACK bytes remain. */
const CHUNK = 1 << 20;
const SLACK = 4096;
/** Whole-line runs at least this long go through HexLines; shorter ones are not worth a block. */
const HEX_LINES_MIN = 1024;
/** Primitive contents kept whole for formatting (INTEGER, OID, REAL, BIT STRING...). */
const SCALAR_CAP = 1 << 16;

const enc = new TextEncoder();

/** Each byte's two uppercase hex digits, as character codes. */
const HEX_HI = new Uint8Array(256);
const HEX_LO = new Uint8Array(256);
/** Both digits as one big-endian 16-bit value. */
const HEX_PAIR = new Uint16Array(256);
for (let b = 0; b < 256; b++) {
  const s = b.toString(16).toUpperCase().padStart(2, '0');
  HEX_HI[b] = s.charCodeAt(0);
  HEX_LO[b] = s.charCodeAt(1);
  HEX_PAIR[b] = (HEX_HI[b]! << 8) | HEX_LO[b]!;
}

/** X.693 control characters as empty elements (asn1c writes TAB, LF and CR as they are). */
const CONTROL_NAMES = [
  'nul', 'soh', 'stx', 'etx', 'eot', 'enq', 'ack', 'bel', 'bs', 'ht', 'lf', 'vt', 'ff', 'cr', 'so', 'si',
  'dle', 'dc1', 'dc2', 'dc3', 'dc4', 'nak', 'syn', 'etb', 'can', 'em', 'sub', 'esc', 'is4', 'is3', 'is2', 'is1',
];
/** For each byte, its escape in text, or undefined when it is written as it is. */
const TEXT_ESCAPE: (Uint8Array | undefined)[] = [];
for (let b = 0; b < 256; b++) {
  let e: string | undefined;
  if (b < 32 && b !== 9 && b !== 10 && b !== 13) e = `<${CONTROL_NAMES[b]}/>`;
  else if (b === 0x26) e = '&amp;';
  else if (b === 0x3c) e = '&lt;';
  else if (b === 0x3e) e = '&gt;';
  TEXT_ESCAPE.push(e === undefined ? undefined : enc.encode(e));
}

const Mode = { Hex: 1, Text: 2, Scalar: 3, None: 4, Bits: 5, Wide: 6 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

export class XerWriter implements ValueObserver {
  private buf = new Uint8Array(CHUNK);
  private dv = new DataView(this.buf.buffer);
  private pos = 0;
  private depth = 0;
  /** The last thing written was an open tag whose element may close on the same line. */
  private inline = false;
  private readonly names = new Map<string, { open: Uint8Array; close: Uint8Array }>();
  private readonly indents: Uint8Array[] = [];

  // The value being written.
  private mode: Mode = Mode.None;
  private plan: TypePlan | undefined;
  private hexCount = 0;
  private hexLong = false;
  private readonly scalar = new Uint8Array(SCALAR_CAP);
  private scalarLen = 0;
  private lines: HexLines | undefined;
  // BIT STRING: octets written, the last octet seen (written at the end, less its unused bits).
  private bitCount = 0;
  private bitLast = -1;
  private bitUnused = 0;
  private readonly bitOne = new Uint8Array(1);
  // BMPString / UniversalString: octets per character, a character split between pieces, a high surrogate.
  private wideWidth = 2;
  private readonly wideCarry = new Uint8Array(4);
  private wideCarryLen = 0;
  private wideHigh = -1;

  constructor(private readonly out: ChannelWriter) {}

  get needsDrain(): boolean {
    return this.out.needsDrain;
  }

  async drain(): Promise<void> {
    await this.out.drain();
  }

  /** Ships what is buffered and waits until the writer has written it. */
  async finish(): Promise<void> {
    this.room(8);
    this.nl(0);
    this.ship();
    await this.out.flushAll();
  }

  open(name: string): void {
    const n = this.name(name);
    this.room(n.open.length + 4 * this.depth + 8);
    if (this.pos > 0 || this.depth > 0) this.nl(this.depth);
    this.buf.set(n.open, this.pos);
    this.pos += n.open.length;
    this.depth++;
    this.inline = true;
  }

  close(name: string): void {
    const n = this.name(name);
    this.depth--;
    this.room(n.close.length + 4 * this.depth + 8);
    if (!this.inline) this.nl(this.depth);
    this.buf.set(n.close, this.pos);
    this.pos += n.close.length;
    this.inline = false;
  }

  valueBegin(plan: TypePlan, length: number): void {
    this.plan = plan;
    const u = plan.universal;
    if (u === Universal.OctetString || plan.shape === Shape.Any || isHexString(u)) {
      // ANY's bytes are its whole TLV (the walker sends the header too), as asn1c keeps it.
      this.mode = Mode.Hex;
      this.hexCount = 0;
      // asn1c writes up to 16 bytes on the tag's line, longer values on lines of their own.
      this.hexLong = length < 0 || length > 16;
    } else if (u === Universal.Null) this.mode = Mode.None;
    else if (isText(u)) this.mode = Mode.Text;
    else if (u === Universal.BitString) {
      this.mode = Mode.Bits;
      this.bitCount = 0;
      this.bitLast = -1;
      this.bitUnused = 0;
    } else if (u === Universal.BMPString || u === Universal.UniversalString) {
      this.mode = Mode.Wide;
      this.wideWidth = u === Universal.BMPString ? 2 : 4;
      this.wideCarryLen = 0;
      this.wideHigh = -1;
    } else {
      this.mode = Mode.Scalar;
      this.scalarLen = 0;
    }
  }

  valueBytes(bytes: Uint8Array, start: number, end: number): void {
    switch (this.mode) {
      case Mode.Hex:
        this.hex(bytes, start, end);
        break;
      case Mode.Text:
        this.text(bytes, start, end);
        break;
      case Mode.Bits:
        this.bits(bytes, start, end);
        break;
      case Mode.Wide:
        this.wide(bytes, start, end);
        break;
      case Mode.Scalar: {
        const n = Math.min(end - start, SCALAR_CAP - this.scalarLen);
        // Scalars are a few bytes: a loop beats making a subarray view for each.
        const into = this.scalar;
        let at = this.scalarLen;
        if (n <= 32) for (let i = 0; i < n; i++) into[at++] = bytes[start + i]!;
        else if (n > 0) into.set(bytes.subarray(start, start + n), at);
        this.scalarLen += n;
        break;
      }
      default:
        break;
    }
  }

  valueEnd(): void {
    if (this.mode === Mode.Hex && this.hexLong) {
      this.room(4 * this.depth + 2);
      this.nl(this.depth - 1);
      // The close tag goes on this new line, at the element's own indentation.
      this.inline = true;
    } else if (this.mode === Mode.Scalar) this.ascii(scalarText(this.plan!, this.scalar, this.scalarLen));
    else if (this.mode === Mode.Bits) this.bitsEnd();
    else if (this.mode === Mode.Wide && this.wideHigh >= 0) this.wideChar(0xfffd);
    this.mode = Mode.None;
  }

  /** BIT STRING: the unused bits of the last octet (its contents come without unused-bits octets). */
  bitsUnused(n: number): void {
    this.bitUnused = n;
  }

  /**
   * asn1c's decoder fills in an absent INTEGER DEFAULT given as a number (it stores those
   * inline), so its XER shows them; other absent DEFAULTs (BOOLEAN, named values) it leaves out.
   */
  absentDefault(component: Component): void {
    const d = component.default;
    if (component.type.kind !== 'INTEGER' || d === undefined || d.kind !== 'integer' || d.name !== undefined) return;
    this.open(component.name);
    this.ascii(d.value.toString());
    this.close(component.name);
  }

  // ---- BIT STRING, BMPString, UniversalString --------------------------------------------------

  /** All octets but the last are whole: asn1c writes them 8 to a line, each line indented. */
  private bits(bytes: Uint8Array, start: number, end: number): void {
    if (end <= start) return;
    if (this.bitLast >= 0) {
      this.bitOne[0] = this.bitLast;
      this.bitOctets(this.bitOne, 0, 1);
    }
    this.bitOctets(bytes, start, end - 1);
    this.bitLast = bytes[end - 1]!;
  }

  private bitOctets(bytes: Uint8Array, start: number, end: number): void {
    const indentLen = 4 * this.depth;
    const perOctet = 9 + indentLen; // eight digits, and at most one line break with its indentation
    for (let i = start; i < end; ) {
      this.room(Math.max(SLACK, 4 * perOctet));
      const buf = this.buf;
      let p = this.pos;
      let count = this.bitCount;
      const stop = Math.min(end, i + Math.floor((buf.length - p) / perOctet));
      for (; i < stop; i++) {
        if ((count & 7) === 0) {
          buf[p++] = 10;
          for (let k = 0; k < indentLen; k++) buf[p++] = 32;
        }
        const b = bytes[i]!;
        for (let k = 7; k >= 0; k--) buf[p++] = 48 + ((b >> k) & 1);
        count++;
      }
      this.pos = p;
      this.bitCount = count;
    }
  }

  /**
   * The last octet less its unused bits, at the end of the last line (asn1c also puts an empty line
   * before that line when it is full: whitespace we leave out); the close tag on a line of its own.
   */
  private bitsEnd(): void {
    this.room(8 * this.depth + 24);
    if (this.bitCount === 0) this.nl(this.depth);
    if (this.bitLast >= 0) {
      const b = this.bitLast;
      for (let k = 7; k >= this.bitUnused; k--) this.buf[this.pos++] = 48 + ((b >> k) & 1);
    }
    this.nl(this.depth - 1);
    this.inline = true;
  }

  private wide(bytes: Uint8Array, start: number, end: number): void {
    const w = this.wideWidth;
    const carry = this.wideCarry;
    let i = start;
    // A character split between two pieces of a long value (or two segments).
    while (this.wideCarryLen > 0 && i < end) {
      carry[this.wideCarryLen++] = bytes[i++]!;
      if (this.wideCarryLen === w) {
        this.wideCarryLen = 0;
        this.wideChar(w === 2 ? (carry[0]! << 8) | carry[1]! : ((carry[0]! << 24) | (carry[1]! << 16) | (carry[2]! << 8) | carry[3]!) >>> 0);
      }
    }
    if (w === 2) for (; i + 2 <= end; i += 2) this.wideChar((bytes[i]! << 8) | bytes[i + 1]!);
    else for (; i + 4 <= end; i += 4) this.wideChar(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
    while (i < end) carry[this.wideCarryLen++] = bytes[i++]!;
  }

  /**
   * One BMPString (UTF-16 unit) or UniversalString character as UTF-8. Surrogate pairs make one
   * character; a lone surrogate, or a UniversalString value beyond U+10FFFF, becomes U+FFFD.
   */
  private wideChar(unit: number): void {
    let cp = unit;
    if (this.wideWidth === 2) {
      if (this.wideHigh >= 0) {
        const high = this.wideHigh;
        this.wideHigh = -1;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          this.utf8(0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
          return;
        }
        this.utf8(0xfffd);
      }
      if (unit >= 0xd800 && unit <= 0xdbff) {
        this.wideHigh = unit;
        return;
      }
    }
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) cp = 0xfffd;
    this.utf8(cp);
  }

  private utf8(cp: number): void {
    this.room(16);
    const buf = this.buf;
    let p = this.pos;
    if (cp < 0x80) {
      const e = TEXT_ESCAPE[cp];
      if (e === undefined) buf[p++] = cp;
      else {
        buf.set(e, p);
        p += e.length;
      }
    } else if (cp < 0x800) {
      buf[p++] = 0xc0 | (cp >> 6);
      buf[p++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      buf[p++] = 0xe0 | (cp >> 12);
      buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[p++] = 0x80 | (cp & 0x3f);
    } else {
      buf[p++] = 0xf0 | (cp >> 18);
      buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
      buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[p++] = 0x80 | (cp & 0x3f);
    }
    this.pos = p;
  }

  // ---- output -------------------------------------------------------------------------------

  private hex(bytes: Uint8Array, start: number, end: number): void {
    if (!this.hexLong) {
      this.hexShort(bytes, start, end);
      return;
    }
    // Runs of whole lines go to HexLines (pooled blocks, no copy); a piece's partial lines come here.
    const lead = Math.min(end - start, (16 - (this.hexCount & 15)) & 15);
    const whole = end - start - lead - ((end - start - lead) % 16);
    if (whole >= HEX_LINES_MIN) {
      this.hexLines(bytes, start, start + lead);
      this.ship();
      this.lines ??= new HexLines(this.out);
      this.lines.write(bytes, start + lead, start + lead + whole, 4 * this.depth);
      this.hexCount += whole;
      this.hexLines(bytes, start + lead + whole, end);
      return;
    }
    this.hexLines(bytes, start, end);
  }

  /** Long values, as asn1c lays them out: each line is LF, the indentation, then 16 x "XX ". */
  private hexLines(bytes: Uint8Array, start: number, end: number): void {
    const indentLen = 4 * this.depth;
    const lineLen = 1 + indentLen + 48;
    let i = start;
    while (i < end) {
      this.room(Math.max(SLACK, 4 * lineLen));
      const buf = this.buf;
      let p = this.pos;
      let count = this.hexCount;
      const lines = Math.floor((buf.length - p - lineLen) / lineLen);
      const stop = Math.min(end, i + lines * 16);
      const dv = this.view();
      while (i < stop) {
        if ((count & 15) === 0) {
          buf[p++] = 10;
          for (let k = 0; k < indentLen; k++) buf[p++] = 32;
          if (stop - i >= 16) {
            // A whole line: 4 input bytes make 12 output bytes, written as three big-endian words
            // ("XX XX XX XX "), about twice as fast as byte stores (bench: validate --xer).
            for (let k = i; k < i + 16; k += 4) {
              const b1 = bytes[k + 1]!;
              dv.setUint32(p, ((HEX_PAIR[bytes[k]!]! << 16) | 0x2000 | HEX_HI[b1]!) >>> 0, false);
              dv.setUint32(p + 4, ((HEX_LO[b1]! << 24) | 0x200000 | HEX_PAIR[bytes[k + 2]!]!) >>> 0, false);
              dv.setUint32(p + 8, (0x20000020 | (HEX_PAIR[bytes[k + 3]!]! << 8)) >>> 0, false);
              p += 12;
            }
            i += 16;
            count += 16;
            continue;
          }
        }
        // The rest of this line, without a per-byte line check.
        const n = Math.min(stop - i, 16 - (count & 15));
        for (let k = 0; k < n; k++) {
          const b = bytes[i + k]!;
          buf[p] = HEX_HI[b]!;
          buf[p + 1] = HEX_LO[b]!;
          buf[p + 2] = 32;
          p += 3;
        }
        i += n;
        count += n;
      }
      this.pos = p;
      this.hexCount = count;
    }
  }

  /** Up to 16 bytes on the tag's line, separated by single spaces. */
  private hexShort(bytes: Uint8Array, start: number, end: number): void {
    this.room(3 * (end - start) + 8);
    const buf = this.buf;
    let p = this.pos;
    let count = this.hexCount;
    for (let i = start; i < end; i++) {
      if (count++ > 0) buf[p++] = 32;
      const b = bytes[i]!;
      buf[p] = HEX_HI[b]!;
      buf[p + 1] = HEX_LO[b]!;
      p += 2;
    }
    this.pos = p;
    this.hexCount = count;
  }

  private text(bytes: Uint8Array, start: number, end: number): void {
    for (let i = start; i < end; ) {
      this.room(SLACK);
      const buf = this.buf;
      let p = this.pos;
      const stop = Math.min(end, i + ((buf.length - p - 16) >> 3));
      for (; i < stop; i++) {
        const b = bytes[i]!;
        const e = TEXT_ESCAPE[b];
        if (e === undefined) buf[p++] = b;
        else {
          buf.set(e, p);
          p += e.length;
        }
      }
      this.pos = p;
    }
  }

  private ascii(s: string): void {
    this.room(s.length + 8);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  private nl(depth: number): void {
    const ind = this.indent(depth);
    this.buf[this.pos++] = 10;
    this.buf.set(ind, this.pos);
    this.pos += ind.length;
  }

  private indent(depth: number): Uint8Array {
    let ind = this.indents[depth];
    if (ind === undefined) {
      ind = new Uint8Array(4 * depth).fill(32);
      this.indents[depth] = ind;
    }
    return ind;
  }

  private name(name: string): { open: Uint8Array; close: Uint8Array } {
    let n = this.names.get(name);
    if (n === undefined) {
      n = { open: enc.encode(`<${name}>`), close: enc.encode(`</${name}>`) };
      this.names.set(name, n);
    }
    return n;
  }

  private view(): DataView {
    if (this.dv.buffer !== this.buf.buffer) this.dv = new DataView(this.buf.buffer);
    return this.dv;
  }

  /** Makes room for `n` more bytes, shipping the chunk when it is nearly full. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.ship();
    if (n > this.buf.length) this.buf = new Uint8Array(n);
  }

  private ship(): void {
    if (this.pos === 0) return;
    // Copied into the writer's recycled chunks, so this buffer is reused at once: handing it over
    // by reference and allocating a fresh one measured no faster and left megabytes of garbage.
    this.out.bytesCopy(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}

/** Strings asn1c writes as text (UTF8String, the ISO 646 based ones, times). */
function isText(u: number): boolean {
  return u === Universal.UTF8String || u === Universal.ObjectDescriptor || (u >= Universal.NumericString && u <= Universal.GeneralString && !isHexString(u)) || u === Universal.Time || u >= Universal.Date;
}

/** Strings whose character sets asn1c does not convert (T.61, T.100, ISO 2022 graphic and general): written as hex. */
function isHexString(u: number): boolean {
  return u === Universal.TeletexString || u === Universal.VideotexString || u === Universal.GraphicString || u === Universal.GeneralString;
}
