#!/usr/bin/env node
/** The `vmstream` command: one subcommand per file under src/cli/commands/. */
import { Command } from 'commander';
import { infoCommand } from './commands/info.js';
import { dumpCommand } from './commands/dump.js';

const program = new Command();
program
  .name('vmstream')
  .description('Inspect, validate, convert and migrate QEMU-compatible VM migration streams')
  .version('0.1.0');

program.addCommand(infoCommand());
program.addCommand(dumpCommand());

await program.parseAsync(process.argv);
