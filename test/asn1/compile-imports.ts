/** Re-exports for compile.test.ts, through the public entry point, plus a structural VmsError guard. */
export { TagClass, compileAsn1, firstTags, formatRanges, hasErrors, inRanges, throwOnErrors } from '../../src/asn1/index.js';
import { isVmsError, type VmsError } from '../../src/errors.js';
export const isVmsErrorLike = (e: unknown): e is VmsError => isVmsError(e);
