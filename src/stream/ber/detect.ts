/** Tells QEMU's binary stream from the BER stream by their first bytes. */
import { BER_MAGIC } from './schema.js';

export type StreamFormat = 'qemu' | 'ber';

/** "QEVM", QEMU_VM_FILE_MAGIC. */
const QEMU_MAGIC = Uint8Array.of(0x51, 0x45, 0x56, 0x4d);

/**
 * 'qemu' for 51 45 56 4D, 'ber' for 7F D6 CD 53 ([APPLICATION 1418963], constructed), else
 * undefined. Needs the first 4 bytes; fewer give undefined.
 */
export function detectFormat(first: Uint8Array): StreamFormat | undefined {
  if (first.length < 4) return undefined;
  if (startsWith(first, QEMU_MAGIC)) return 'qemu';
  if (startsWith(first, BER_MAGIC)) return 'ber';
  return undefined;
}

function startsWith(b: Uint8Array, m: Uint8Array): boolean {
  for (let i = 0; i < m.length; i++) if (b[i] !== m[i]) return false;
  return true;
}
