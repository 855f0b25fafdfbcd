/** `vmstream convert IN -o OUT --to qemu`: rewrites a stream (byte-identical for `qemu`). */
import { Command, Option } from 'commander';
import { ChannelWriter } from '../../channel/writer.js';
import { VmsError } from '../../errors.js';
import { readStream } from '../../stream/reader.js';
import { StreamWriter } from '../../stream/writer.js';
import { action, openInput, openOutput, usageExits } from '../util.js';

export interface ConvertOptions {
  output: string;
  to: string;
  regenerateVmdesc?: boolean;
}

export async function runConvert(input: string, o: ConvertOptions): Promise<void> {
  if (o.to !== 'qemu') {
    throw new VmsError('E_USAGE', `conversion to ${o.to} is not available yet`, { expected: 'qemu', actual: o.to });
  }
  const source = openInput(input);
  const sink = openOutput(o.output);
  // Large runs are copied by the StreamWriter, so the channel writer may send by reference.
  const w = new ChannelWriter(sink);
  try {
    await readStream(source, new StreamWriter(w, { regenerateVmdesc: o.regenerateVmdesc === true }));
    await w.close();
  } catch (e) {
    w.destroy(e);
    throw e;
  }
}

export function convertCommand(): Command {
  const cmd = new Command('convert')
    .description('rewrite a migration stream in another format (qemu: byte-identical rewrite)')
    .argument('<in>', 'stream file, or - for stdin')
    .requiredOption('-o, --output <out>', 'output file, or - for stdout')
    .addOption(new Option('--to <format>', 'output format').choices(['qemu', 'ber']).default('qemu'))
    .option('--regenerate-vmdesc', "re-serialise the vmdesc trailer with QEMU's JSON writer rules instead of copying it")
    .action(action((input: string, opts: ConvertOptions) => runConvert(input, opts)));
  return usageExits(cmd);
}
