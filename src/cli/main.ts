#!/usr/bin/env node
/** The `vmstream` command: one subcommand per file under src/cli/commands/. */
import { Command } from 'commander';
import { infoCommand } from './commands/info.js';

const program = new Command();
program
  .name('vmstream')
  .description('Inspect, validate, convert and migrate QEMU-compatible VM migration streams')
  .version('0.1.0');

program.addCommand(infoCommand());

await program.parseAsync(process.argv);
