/**
 * The handler lifecycle (QEMU SaveVMHandlers, STYLE §7). A source registers live handlers
 * (iterative sections: START, PART..., END) and device handlers (one FULL section at the
 * end); section ids are given in registration order, as QEMU's global_section_id.
 *
 * | call            | when                                   | result                              |
 * |-----------------|----------------------------------------|-------------------------------------|
 * | setup           | once, machine running                  | writes the START payload            |
 * | pendingEstimate | before each iteration, cheap           | bytes still to send (no sync)       |
 * | syncPending     | when the estimate is below threshold   | syncs the dirty log, exact bytes    |
 * | iterate         | machine running, budget in bytes       | one PART payload; 'more' or 'done'  |
 * | complete        | machine stopped, repeatedly            | END payload in steps; 'done' at EOS |
 * | cleanup         | always, success or failure             | stops dirty logging                 |
 *
 * All writes are synchronous into the channel writer; the driver drains between sections.
 * A handler throws a VmsError on failure and never changes the machine's state.
 */
import type { ChannelReader } from '../channel/reader.js';
import type { ChannelWriter } from '../channel/writer.js';
import type { VmdescDevice } from '../stream/vmdesc.js';

export type IterateResult = 'more' | 'done';

/** An iterative section on the sending side (QEMU: "ram", "block", "dirty-bitmap"). */
export interface LiveSaveHandler {
  readonly idstr: string;
  readonly instance: number;
  readonly version: number;
  setup(w: ChannelWriter): void;
  pendingEstimate(): number;
  syncPending(): number;
  iterate(w: ChannelWriter, budgetBytes: number): IterateResult;
  /** Writes part of the END payload; 'done' once everything left was sent (then it wrote its end marker). */
  complete(w: ChannelWriter, budgetBytes: number): IterateResult;
  cleanup(): void;
}

/** A device saved once, with the machine stopped (a FULL section). */
export interface DeviceSaveHandler {
  readonly idstr: string;
  readonly instance: number;
  readonly version: number;
  /** Writes the section payload (no header, no footer). Must not change the device. */
  save(w: ChannelWriter): void;
  /** Its vmdesc entry, given the payload size just written. */
  describe(size: number): VmdescDevice;
}

/** An iterative section on the receiving side: stages what arrives, applies it only on commit. */
export interface LiveLoadHandler {
  readonly idstr: string;
  readonly instance: number;
  /** Highest version accepted. */
  readonly version: number;
  /** Reads one START/PART/END payload (up to its end marker) into staging. */
  loadSection(r: ChannelReader, kind: 'start' | 'part' | 'end', sectionId: number, version: number): Promise<void>;
  /** True when everything it needs has arrived (e.g. every page at least once). */
  readonly complete: boolean;
  /** Makes the staged state the machine's state. */
  commit(): void;
  /** Drops staged state (a failed migration). */
  discard(): void;
}

/**
 * A device on the receiving side. `load` decodes one payload synchronously into a NEW state
 * (it may throw the reader's NEED_MORE; the destination retries it), `apply` installs it.
 */
export interface DeviceLoadHandler<S = unknown> {
  readonly idstr: string;
  readonly instance: number;
  readonly version: number;
  readonly minVersion: number;
  load(r: ChannelReader, version: number): S;
  apply(staged: S): void;
}

/** A device that is both saved and loaded (most are). */
export interface DeviceHandler<S = unknown> extends DeviceSaveHandler, DeviceLoadHandler<S> {}

/** What a migratable machine offers the migration code. */
export interface MigratableMachine {
  /** Machine type sent in the configuration record and checked by the destination ("pc-i440fx-7.2"). */
  readonly machineType: string;
  readonly memory: import('./guest-memory.js').GuestMemory;
  readonly devices: readonly DeviceHandler[];
  /** Stops the vCPUs and the workload (source, at switch-over). */
  stop(): void | Promise<void>;
  /** Resumes after a failed or cancelled migration (source), or after commit (destination). */
  resume(): void | Promise<void>;
}
