/**
 * Section framing on the sending side (spec §1.3, §1.4). Kept here, beside the source, until
 * the stream layer's writer exposes header writers that take plain values.
 */
import type { ChannelWriter } from '../channel/writer.js';
import { QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, SectionType } from '../stream/constants.js';

export function writeFileHeader(w: ChannelWriter): void {
  w.u32(QEMU_VM_FILE_MAGIC).u32(QEMU_VM_FILE_VERSION);
}

/** QEMU_VM_SECTION_START / FULL: type, be32 id, counted idstr, be32 instance, be32 version. */
export function writeFullHeader(w: ChannelWriter, type: 0x01 | 0x04, id: number, idstr: string, instance: number, version: number): void {
  w.u8(type).u32(id).countedString(idstr).u32(instance).u32(version);
}

/** QEMU_VM_SECTION_PART / END: type and be32 id only. */
export function writeShortHeader(w: ChannelWriter, type: 0x02 | 0x03, id: number): void {
  w.u8(type).u32(id);
}

/** 0x7e and the id of the section it closes. */
export function writeFooter(w: ChannelWriter, id: number): void {
  w.u8(SectionType.FOOTER).u32(id);
}
