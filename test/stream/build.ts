/** Byte builders for hand-made golden streams (test helper, not a test). */
export class Bytes {
  private readonly parts: number[] = [];
  u8(...v: number[]): this {
    for (const b of v) this.parts.push(b & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8, v);
  }
  u32(v: number): this {
    return this.u8(v >>> 24, v >>> 16, v >>> 8, v);
  }
  u64(v: bigint): this {
    return this.u32(Number(v >> 32n)).u32(Number(v & 0xffffffffn));
  }
  /** u8 length + latin1 bytes. */
  counted(s: string): this {
    this.u8(s.length);
    return this.ascii(s);
  }
  ascii(s: string): this {
    for (let i = 0; i < s.length; i++) this.parts.push(s.charCodeAt(i));
    return this;
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
