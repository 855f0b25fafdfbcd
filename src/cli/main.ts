#!/usr/bin/env node
/** The `vmstream` command: one subcommand per file under src/cli/commands/. */
import { Command } from 'commander';
import { infoCommand } from './commands/info.js';
import { dumpCommand } from './commands/dump.js';
import { convertCommand } from './commands/convert.js';
import { editCommand } from './commands/edit.js';
import { validateCommand } from './commands/validate.js';
import { demoCommand } from './commands/demo.js';
import { migrateCommand } from './commands/migrate.js';
import { receiveCommand } from './commands/receive.js';
import { sendCommand } from './commands/send.js';

const program = new Command();
program
  .name('vmstream')
  .description('Inspect, validate, convert and migrate QEMU-compatible VM migration streams')
  .version('0.1.0');

program.addCommand(infoCommand());
program.addCommand(dumpCommand());
program.addCommand(convertCommand());
program.addCommand(editCommand());
program.addCommand(validateCommand());
program.addCommand(migrateCommand());
program.addCommand(receiveCommand());
program.addCommand(sendCommand());
program.addCommand(demoCommand());

await program.parseAsync(process.argv);
