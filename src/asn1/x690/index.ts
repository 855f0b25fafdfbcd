/** The schema-free X.690 check: encoding rules of every value, no ASN.1 module needed. */
export * from './diagnostics.js';
export * from './check.js';
export { ContentCheck, Form, segmentTag, universalForm } from './contents.js';
export { MAX_HEADER_BYTES, headerMayBeLong, putHeader, reportHeaderForms, type HeaderShape } from './header.js';
export { CHARSETS, isIso6093, timeProblem } from './strings.js';
