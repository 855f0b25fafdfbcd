/** The migration stream layer: grammar, events, reader, writer, vmdesc. */
export * from './constants.js';
export * from './events.js';
export * from './vmdesc.js';
export { locateTrailer, type TrailerLocation } from './trailer.js';
export { readStream, sectionLabel, type StreamReaderOptions, type StreamSummary } from './reader.js';
export { StreamWriter, type StreamWriterOptions } from './writer.js';
export { decodeConfiguration, encodeConfiguration, decodeCommand, encodeCommand } from './config.js';
export { xbzrleDecode, xbzrleEncode } from './xbzrle.js';
export { readDescriptionsFile, parseDescriptions, decodeWithDescriptions, type Descriptions, type DescriptionOutcome, type DescriptionsKind } from './descriptions.js';
