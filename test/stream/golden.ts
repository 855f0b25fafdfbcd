/** The hand-made golden stream used by the grammar and hostile-input tests (test helper). */
import { deflateSync } from 'node:zlib';
import { MemorySource } from '../../src/channel/index.js';
import { serializeQemuJson, type JsonValue } from '../../src/stream/index.js';
import { Bytes } from './build.js';

export const PAGE = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
export const PAGE2 = new Uint8Array(4096).map((_, i) => (i >> 4) & 0xff);
export const Z = deflateSync(PAGE2);

export const DEVICE_DESC = {
  name: 'dev0',
  instance_id: 0,
  vmsd_name: 'dev0',
  version: 1,
  fields: [
    { name: 'x', type: 'uint32', size: 4 },
    { name: 'regs', array_len: 2, type: 'uint16', size: 2 },
    { name: 'flag', type: 'bool', size: 1 },
    { name: 'unused', type: 'unused_buffer', size: 2 },
    { name: 'when', type: 'timer', size: 8 },
    { name: 'p', type: 'uint64', size: 1 },
    { name: 'le', type: 'int32 le', size: 4 },
    { name: 'inner', type: 'struct', struct: { vmsd_name: 'inner', version: 3, fields: [{ name: 'b', type: 'int8', size: 1 }] }, size: 1 },
    { name: 'odd', type: 'fancy info', size: 3 },
    { name: 'q', index: 0, type: 'int16', size: 2 },
    { name: 'q', index: 1, type: 'int16', size: 2 },
  ],
  subsections: [{ vmsd_name: 'dev0/sub', version: 2, fields: [{ name: 'y', type: 'int64', size: 8 }] }],
};
export const VMDESC = serializeQemuJson({ page_size: 4096, devices: [DEVICE_DESC] } as unknown as JsonValue);

/** The golden stream, with the offsets tests poke at. */
export function goldenStream(): { bytes: Uint8Array; at: Record<string, number> } {
  const b = new Bytes();
  const at: Record<string, number> = {};
  b.u32(0x5145564d).u32(3); //                                magic "QEVM", version 3
  b.u8(0x07).u32(5).ascii('pc-t7'); //                          configuration: machine "pc-t7"
  b.u8(0x05).counted('configuration/capabilities').u32(1); //  subsection, version 1
  b.u32(1).counted('x-ignore-shared'); //                      1 capability
  b.u8(0x05).counted('configuration/uuid').u32(1).raw(new Uint8Array(16).fill(0xab));
  b.u8(0x08).u16(2).u16(4).u32(1); //                           command PING(1)
  b.u8(0x08).u16(7).u16(4).u32(6); //                           command PACKAGED, 6 bytes follow
  b.u8(0x08).u16(4).u16(0).u8(0x00); //                         nested: POSTCOPY_LISTEN, EOF
  at.ramStart = b.length;
  b.u8(0x01).u32(2).counted('ram').u32(0).u32(4); //            START section 2 "ram" v4
  b.u64(0x3000n | 4n); //                                       total 0x3000 | MEM_SIZE
  b.counted('a').u64(0x2000n).u64(0x100000n); //               block a, 8 KiB, GPA 1 MiB (x-ignore-shared)
  b.counted('b').u64(0x1000n).u64(0n); //                      block b, 4 KiB, GPA 0
  b.u64(0x10n); //                                              EOS
  b.u8(0x7e).u32(2); //                                         footer
  at.ramPart = b.length;
  b.u8(0x02).u32(2); //                                         PART section 2
  at.firstPage = b.length;
  b.u64(0x08n).counted('a').raw(PAGE); //                      a+0: PAGE
  b.u64(0x10n); //                                              EOS
  at.partFooter = b.length;
  b.u8(0x7e).u32(2);
  b.u8(0x03).u32(2); //                                         END section 2
  at.xbzrle = b.length;
  b.u64(0x60n).u8(1).u16(3).u8(0x10, 0x01, 0xaa); //           a+0: XBZRLE|CONTINUE (block from the PART), 16 same, 1 new: 0xaa
  b.u64(0x02n).counted('b').u8(0); //                          b+0: ZERO, fill 0
  b.u64(0x1100n).counted('a').u32(Z.length).raw(Z); //         a+0x1000: COMPRESS_PAGE
  b.u64(0x10n);
  b.u8(0x7e).u32(2);
  at.device = b.length;
  b.u8(0x04).u32(3).counted('dev0').u32(0).u32(1); //          FULL section 3 "dev0" v1
  at.deviceData = b.length;
  b.u32(0xdeadbeef).u16(1).u16(2).u8(1).u8(0, 0); //           x, regs[2], flag, unused[2]
  b.u64(0xffffffffffffffffn).u8(0x30).u32(7).u8(0xfe); //      when = -1, p = nullptr, le = 7, inner.b = -2
  b.u8(1, 2, 3).u16(0xfffe).u16(5); //                         odd (opaque), q[0] = -2, q[1] = 5
  b.u8(0x05).counted('dev0/sub').u32(2).u64(42n); //           subsection dev0/sub v2: y = 42
  b.u8(0x7e).u32(3);
  at.eof = b.length;
  b.u8(0x00); //                                                EOF
  at.trailer = b.length;
  b.u8(0x06).u32(VMDESC.length).ascii(VMDESC); //              vmdesc trailer
  return { bytes: b.build(), at };
}

/** A non-seekable source of unknown size (a pipe). */
export function pipe(bytes: Uint8Array, piece: number): MemorySource {
  const m = new MemorySource(bytes, piece);
  Object.defineProperty(m, 'size', { value: undefined });
  Object.defineProperty(m, 'seek', { value: undefined });
  return m;
}
