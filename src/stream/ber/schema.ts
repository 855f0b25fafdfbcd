/**
 * Tag numbers of schema/migration.asn1 (IMPLICIT TAGS: every component and alternative is a
 * context tag; the outer value is [APPLICATION 1418963], the bytes 7F D6 CD 53).
 */
import { TagClass, berTag, type BerTag } from '../../format/ber/tag.js';

/** MigrationStream's own tag: [APPLICATION 1418963], "VMS" after the 0x7F. */
export const STREAM_TAG_NUMBER = 1418963;
export const STREAM_TAG: BerTag = berTag(TagClass.Application, STREAM_TAG_NUMBER);
/** The identifier octets with the constructed bit: what a BER stream starts with. */
export const BER_MAGIC = Uint8Array.of(0x7f, 0xd6, 0xcd, 0x53);

/** This schema's version, written as StreamHeader.formatVersion. */
export const FORMAT_VERSION = 1;

/** Every SEQUENCE ends with `extensions [29] Extensions OPTIONAL`; CHOICEs have `extension [29]`. */
export const EXTENSIONS = 29;

export const Stream = { header: 0, records: 1 } as const;
export const Header = { formatVersion: 0, qemuFileVersion: 1, pageSize: 2 } as const;

/** Record CHOICE alternatives. */
export const Rec = {
  configuration: 0,
  command: 1,
  sectionStart: 2,
  sectionPart: 3,
  sectionEnd: 4,
  sectionFull: 5,
  eof: 6,
  vmdesc: 7,
} as const;

export const Config = { machineType: 0, subsections: 1 } as const;
export const Cmd = { command: 0, payload: 1, packaged: 2 } as const;
export const SecHeader = { sectionId: 0, idstr: 1, instanceId: 2, versionId: 3 } as const;
/** SectionStart / SectionFull: [0] header; SectionChunk: [0] sectionId. Then body and footer. */
export const Sec = { header: 0, body: 1, footer: 2 } as const;
export const Body = { device: 0, ram: 1, raw: 2 } as const;

/** RamRecord CHOICE alternatives. */
export const Ram = { memSize: 0, zeroPages: 1, pages: 2, xbzrle: 3, compressed: 4, eos: 5 } as const;
export const MemSize = { totalBytes: 0, blocks: 1 } as const;
export const Block = { name: 0, usedLength: 1, pageSize: 2, address: 3 } as const;
/** ZeroRun, PageRun, XbzrlePage and CompressedPage share [0] block, [1] offset, [2] the rest. */
export const Run = { block: 0, offset: 1, body: 2, fill: 3 } as const;
export const TrailerAlt = { json: 0, raw: 1 } as const;
export const Ext = { id: 0, critical: 1, value: 2 } as const;

/** Context tags [0]..[30], primitive identifiers (writers set the constructed bit as needed). */
export const C: readonly BerTag[] = Array.from({ length: 31 }, (_, n) => berTag(TagClass.Context, n));
