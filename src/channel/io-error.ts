/** Turns transport failures (Node system errors, stream errors) into VmsError E_IO. */
import { VmsError, isVmsError, type VmsCode } from '../errors.js';

/** A VmsError for a failed transport operation; `what` says which ("connect to tcp:h:1"). */
export function ioError(e: unknown, what: string, code: VmsCode = 'E_IO'): VmsError {
  if (isVmsError(e)) return e;
  const sysCode = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return new VmsError(code, `${what} failed: ${msg}`, {
    actual: typeof sysCode === 'string' ? sysCode : undefined,
    cause: e,
  });
}
