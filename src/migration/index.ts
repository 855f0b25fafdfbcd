/** Live migration: handlers, the source and destination drivers, guest memory with dirty tracking. */
export { GuestMemory, GUEST_PAGE_SIZE, type RamBlock } from './guest-memory.js';
export { PageBitmap } from './page-bitmap.js';
export { pageIsZero, bufferView, wordsAreZero, wordView } from './zero-page.js';
export type { DeviceHandler, DeviceLoadHandler, DeviceSaveHandler, IterateResult, LiveLoadHandler, LiveSaveHandler, MigratableMachine } from './handlers.js';
export { vmstateDevice, type VmstateDeviceOptions } from './device-vmstate.js';
export { RamSaveHandler, type RamSaveCounters } from './ram-save.js';
export { RamLoadHandler } from './ram-load.js';
export { MigrationSource, DEFAULT_DOWNTIME_LIMIT_MS, DEFAULT_STALL_TIMEOUT_MS, type MigrationConnection, type MigrationResult, type SourceOptions } from './source.js';
export { MigrationDestination, type DestinationOptions, type IncomingConnection, type IncomingResult } from './destination.js';
export type { MigrationStats, MigrationStatus, RamStats } from './stats.js';
export { createPipe, type Pipe } from './pipe.js';
export { LiveSampleMachine, SAMPLE_MACHINE_TYPE, fillXorshift, type LiveSampleOptions } from './live-machine.js';
