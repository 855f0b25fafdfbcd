/** The sample machine: devices with VMState descriptions, RAM, a generator, and an image format. */
export * from './devices.js';
export * from './machine.js';
export * from './image.js';
