/**
 * `vmstream edit IN --set 'SECTION.FIELD=VALUE' ... -o OUT`: changes device field values
 * and writes a stream QEMU accepts (sizes never change, so nothing else is updated).
 * SECTION is an idstr, or idstr:instance; FIELD a path like `regs[3]`, `dev.config[0]@60`.
 */
import { unlinkSync } from 'node:fs';
import { Command } from 'commander';
import { ChannelWriter } from '../../channel/writer.js';
import { VmsError } from '../../errors.js';
import type { OutputVisitor } from '../../format/visitor.js';
import { FieldEditor, matchSection, parseEdit, type FieldEdit } from '../../stream/edit.js';
import type { SectionHeader } from '../../stream/events.js';
import { sectionLabel } from '../../stream/reader.js';
import { readAnyStream } from '../../stream/ber/any.js';
import { readDescriptionsFile } from '../../stream/descriptions.js';
import { StreamWriter } from '../../stream/writer.js';
import { CLI_READER, action, openInput, openOutput, usageExits } from '../util.js';

/** A StreamWriter that routes the fields of edited sections through a FieldEditor. */
class EditingWriter extends StreamWriter {
  constructor(
    w: ChannelWriter,
    private readonly specs: readonly { target: string; value: string; spec: string }[],
    readonly edits: FieldEdit[],
  ) {
    super(w);
  }

  override deviceFields(h: SectionHeader): OutputVisitor {
    const base = super.deviceFields(h);
    const mine = new Map<string, FieldEdit>();
    for (const s of this.specs) {
      const path = matchSection(s.target, h);
      if (path === undefined) continue;
      const e: FieldEdit = { spec: s.spec, section: `${h.idstr}:${h.instance}`, path, value: s.value, applied: 0 };
      this.edits.push(e);
      mine.set(path, e);
    }
    return mine.size === 0 ? base : new FieldEditor(base, mine, sectionLabel(h));
  }
}

export async function runEdit(input: string, sets: readonly string[], output: string, o: { descriptions?: string } = {}): Promise<FieldEdit[]> {
  if (sets.length === 0) throw new VmsError('E_USAGE', 'nothing to do: give at least one --set SECTION.FIELD=VALUE');
  const specs = sets.map((spec) => ({ spec, ...parseEdit(spec) }));
  const descriptions = o.descriptions !== undefined ? await readDescriptionsFile(o.descriptions) : undefined;
  const source = openInput(input);
  const sink = openOutput(output);
  const w = new ChannelWriter(sink);
  const edits: FieldEdit[] = [];
  try {
    await readAnyStream(source, new EditingWriter(w, specs, edits), { reader: CLI_READER, ...(descriptions !== undefined ? { descriptions } : {}) });
    await w.close();
    for (const s of specs) {
      const hits = edits.filter((e) => e.spec === s.spec);
      const applied = hits.reduce((n, e) => n + e.applied, 0);
      if (applied !== 1) {
        throw new VmsError('E_USAGE', applied === 0 ? `edit ${JSON.stringify(s.spec)} matched no field` : `edit ${JSON.stringify(s.spec)} matched ${applied} fields`, {
          expected: 'exactly one field (SECTION or SECTION:INSTANCE, then the field path as `vmstream dump` shows it)',
          actual: hits.length === 0 ? 'no section with that name' : `sections ${hits.map((e) => e.section).join(', ')}`,
        });
      }
    }
  } catch (e) {
    w.destroy(e);
    if (output !== '-') {
      try {
        unlinkSync(output);
      } catch {
        // Nothing was created.
      }
    }
    throw e;
  }
  return edits;
}

export function editCommand(): Command {
  const cmd = new Command('edit')
    .description("change device field values in a stream (sizes stay the same, so QEMU still accepts it)")
    .argument('<in>', 'stream file, or - for stdin')
    .requiredOption('-o, --output <out>', 'output file, or - for stdout')
    .option(
      '--set <SECTION.FIELD=VALUE>',
      'set a field (repeatable); SECTION is idstr or idstr:instance, FIELD e.g. env.regs[0], dev.config[0]@60',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--descriptions <file>', 'decode sections the stream does not describe (vmdesc JSON, stream with a trailer, -dump-vmstate JSON), so their fields can be edited')
    .action(
      action(async (input: string, opts: { set: string[]; output: string; descriptions?: string }) => {
        await runEdit(input, opts.set, opts.output, opts.descriptions !== undefined ? { descriptions: opts.descriptions } : {});
      }),
    );
  return usageExits(cmd);
}
