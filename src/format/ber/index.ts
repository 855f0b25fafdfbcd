/**
 * BER (X.690) encoding primitives: tags, lengths, a one-pass writer and a streaming reader.
 *
 * Writing (sizes computed up front for definite lengths, indefinite for online contents):
 *
 *   const w = new BerWriter(channelWriter);
 *   w.startIndefinite(UniversalTag.Sequence);
 *   const inner = tlvSize(UniversalTag.Integer, integerSize(addr)) + tlvSize(UniversalTag.OctetString, page.length);
 *   w.startDefinite(PAGE_TAG, inner).integer(addr).octetString(page).end();
 *   w.end();                                        // 00 00
 *
 * Reading (one reused event object, a promise only when bytes run out):
 *
 *   const r = new BerReader(channelReader);
 *   for (let k = r.next(); k !== BerEventKind.Done; k = r.next()) {
 *     if (k === BerEventKind.NeedMore) { await r.more(); continue; }
 *     const e = r.event;                            // Start / Primitive (e.content) / End
 *   }
 */
export * from './tag.js';
export * from './length.js';
export * from './header.js';
export * from './integer.js';
export * from './oid.js';
export * from './real.js';
export * from './text.js';
export * from './writer.js';
export * from './reader.js';
