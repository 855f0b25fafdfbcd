#!/usr/bin/env node
/** The `vmstream` command: one subcommand per file under src/cli/commands/. */
import { Command } from 'commander';
import { usageExits } from './util.js';

/**
 * Each command's module, loaded only when needed: `vmstream info` on a big stream should not
 * pay for loading the ASN.1 compiler and the migration driver (about 0.3 s of CPU).
 */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  info: async () => (await import('./commands/info.js')).infoCommand(),
  dump: async () => (await import('./commands/dump.js')).dumpCommand(),
  convert: async () => (await import('./commands/convert.js')).convertCommand(),
  edit: async () => (await import('./commands/edit.js')).editCommand(),
  validate: async () => (await import('./commands/validate.js')).validateCommand(),
  migrate: async () => (await import('./commands/migrate.js')).migrateCommand(),
  receive: async () => (await import('./commands/receive.js')).receiveCommand(),
  send: async () => (await import('./commands/send.js')).sendCommand(),
  demo: async () => (await import('./commands/demo.js')).demoCommand(),
};

const program = usageExits(new Command());
program
  .name('vmstream')
  .description('Inspect, validate, convert and migrate QEMU-compatible VM migration streams')
  .version('0.1.0');

// The first word that is not an option names the command; without one (or for `help`),
// load them all so the help lists every command.
const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
const only = first !== undefined && first in COMMANDS ? [first] : Object.keys(COMMANDS);
for (const name of only) program.addCommand(await COMMANDS[name]!());

await program.parseAsync(process.argv);
