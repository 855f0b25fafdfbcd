/**
 * `vmstream validate [--schema FILE ...] [--type NAME] [--xer OUT] [--no-schema] [--json] [--max-errors N] STREAM`:
 * checks a BER stream.
 *
 * By default against an ASN.1 schema: vmstream's own `schema/migration.asn1` and its
 * `MigrationStream` type, or the modules given with `--schema` (and `--type`). `--xer OUT`
 * also writes the stream's XER form (`-` for stdout; the report then goes to stderr).
 * `--no-schema` runs the schema-free check instead: the X.690 encoding rules of every value.
 * Both are entries of `VALIDATORS`, chosen by `chooseValidator`; printing and exit statuses
 * are shared.
 *
 * The compiled schema is kept in a per-user cache (src/asn1/validate/schema-cache.ts, keyed by the
 * schema texts and the compiler; `VMSTREAM_SCHEMA_CACHE=off` or `=DIR`), so a run on a big stream
 * does not load the ASN.1 compiler. Only the schema validator is loaded eagerly; the XER writer
 * comes with `--xer`.
 *
 * Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error.
 */
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { ChannelReader } from '../../channel/reader.js';
import type { ChannelWriter as ChannelWriterType } from '../../channel/writer.js';
import type { XerWriter as XerWriterType } from '../../asn1/xer/writer.js';
import { VmsError, formatPath, isVmsError } from '../../errors.js';
import { DEFAULT_MAX_ERRORS, checkX690 } from '../../asn1/x690/check.js';
import { formatValidationDiagnostic, type ValidationDiagnostic } from '../../asn1/validate/diagnostics.js';
import { loadSchemaCached } from '../../asn1/validate/schema-cache.js';
import { validateBer } from '../../asn1/validate/walker.js';
import { sparseReads } from '../../asn1/validate/sparse-reads.js';
import { CLI_READER, EXIT_BAD_STREAM, EXIT_OK, action, hex, openInput, openOutput, toJson, usageExits } from '../util.js';

/** Options as commander hands them over (`--no-schema` makes `schema` false; `--schema F` repeated gives a list). */
export interface ValidateOptions {
  readonly schema?: boolean | readonly string[];
  readonly type?: string;
  readonly xer?: string;
  readonly json?: boolean;
  readonly maxErrors?: number;
}

/** What any validator returns, so output and exit status do not depend on which one ran. */
export interface ValidationOutcome {
  readonly validator: string;
  readonly valid: boolean;
  readonly errors: number;
  readonly warnings: number;
  /** Values examined and bytes reached, for the summary line. */
  readonly values: number;
  readonly bytes: number;
  readonly complete: boolean;
  readonly diagnostics: readonly ValidationDiagnostic[];
}

type Validator = (input: ChannelReader, opts: ValidateOptions, onDiagnostic?: (d: ValidationDiagnostic) => void) => Promise<ValidationOutcome>;

/** The validators this command can run, by name. */
export const VALIDATORS: Readonly<Record<string, Validator>> = {
  x690: async (input, opts, onDiagnostic) => {
    const report = await checkX690(input, {
      maxErrors: opts.maxErrors ?? DEFAULT_MAX_ERRORS,
      ...(onDiagnostic !== undefined ? { onDiagnostic } : {}),
    });
    return { validator: 'x690', ...report };
  },
  schema: async (input, opts, onDiagnostic) => {
    const files = Array.isArray(opts.schema) ? (opts.schema as readonly string[]) : [];
    let loaded;
    try {
      // From the schema cache when it holds this compile (the compiler is then not even loaded).
      loaded = await loadSchemaCached(files, opts.type);
    } catch (e) {
      // A schema that does not compile is a usage problem (exit 2), not a bad stream.
      if (isVmsError(e) && e.code === 'E_ASN1') throw new VmsError('E_USAGE', e.reason, { expected: e.expected, actual: e.actual });
      throw e;
    }
    // The XER writer (and its WebAssembly hex loop) is loaded only when asked for: plain validation starts faster.
    const xerOut = opts.xer === undefined ? undefined : await openXer(opts.xer);
    const xer = xerOut?.xer;
    try {
      const report = await validateBer(input, loaded.type, {
        maxErrors: opts.maxErrors ?? DEFAULT_MAX_ERRORS,
        ...(onDiagnostic !== undefined ? { onDiagnostic } : {}),
        ...(xer !== undefined ? { observer: xer } : {}),
      });
      if (xer !== undefined) await xer.finish();
      return { validator: `schema ${loaded.type.name}`, ...report };
    } finally {
      if (xerOut !== undefined) await xerOut.out.close();
    }
  },
};

async function openXer(path: string): Promise<{ readonly out: ChannelWriterType; readonly xer: XerWriterType }> {
  const [{ ChannelWriter }, { XerWriter }] = await Promise.all([import('../../channel/writer.js'), import('../../asn1/xer/writer.js')]);
  const out = new ChannelWriter(openOutput(path));
  return { out, xer: new XerWriter(out) };
}

/** Picks the validator for the options: `--no-schema` gives the X.690 check, anything else the schema validator. */
export function chooseValidator(opts: ValidateOptions): Validator {
  return opts.schema === false ? VALIDATORS.x690! : VALIDATORS.schema!;
}

export function validateCommand(): Command {
  const cmd = new Command('validate')
    .description('check a BER stream against an ASN.1 type (default: vmstream\'s schema/migration.asn1, MigrationStream); --no-schema checks the X.690 encoding rules of every value without a schema')
    .argument('<stream>', 'BER stream file, or - for stdin')
    .option('--schema <file>', 'ASN.1 module file (repeat for modules that import each other)', collect)
    .option('--no-schema', 'check X.690 encoding rules only (no ASN.1 schema)')
    .option('--type <name>', 'the type the stream holds (default MigrationStream, or the first type of the first --schema module)')
    .option('--xer <file>', 'also write the XER (XML) form of the stream to FILE (- for stdout)')
    .option('--json', 'print the report as JSON')
    .option('--max-errors <n>', `stop after N errors (default ${DEFAULT_MAX_ERRORS})`, parseCount)
    .action(
      action(
        (stream: string, opts: ValidateOptions) => runValidate(stream, opts),
        (_s: string, opts: ValidateOptions) => opts.json === true,
      ),
    );
  return usageExits(cmd);
}

async function runValidate(stream: string, opts: ValidateOptions): Promise<void> {
  if (opts.schema === false && (opts.type !== undefined || opts.xer !== undefined)) {
    throw new VmsError('E_USAGE', '--type and --xer need a schema', { expected: 'no --no-schema with --type or --xer', actual: '--no-schema' });
  }
  const source = openInput(stream);
  try {
    const validate = chooseValidator(opts);
    const json = opts.json === true;
    // With the XER on stdout, the report goes to stderr.
    const report = opts.xer === '-' ? process.stderr : process.stdout;
    // Text output streams diagnostics as they are found; JSON needs the whole report.
    // Without XER the schema validator seeks past contents it does not look into; small reads after each seek make that pay.
    const input = opts.schema !== false && opts.xer === undefined ? sparseReads(source) : source;
    const outcome = await validate(new ChannelReader(input, CLI_READER), opts, json ? undefined : (d) => report.write(formatText(d)));
    report.write(json ? toJson(toJsonReport(stream, outcome), 2) + '\n' : summary(stream, outcome) + '\n');
    process.exitCode = outcome.valid ? EXIT_OK : EXIT_BAD_STREAM;
  } finally {
    await source.close();
  }
}

function collect(v: string, previous: unknown): string[] {
  return Array.isArray(previous) ? [...(previous as string[]), v] : [v];
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** One diagnostic line, then a hex excerpt with the offending byte in brackets. */
export function formatText(d: ValidationDiagnostic): string {
  const line = formatValidationDiagnostic(d);
  const colored = d.severity === 'error' ? pc.red(line) : pc.yellow(line);
  return `${colored}\n${d.excerpt === undefined ? '' : `    ${hexExcerpt(d.excerpt.offset, d.excerpt.bytes, d.offset)}\n`}`;
}

/** `0000001a: 30 80 [02] 02 00 7f` */
export function hexExcerpt(start: number, bytes: Uint8Array, mark: number): string {
  const cells: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!.toString(16).padStart(2, '0');
    cells.push(start + i === mark ? `[${b}]` : b);
  }
  if (start + bytes.length === mark) cells.push('[]');
  return `${start.toString(16).padStart(8, '0')}: ${cells.join(' ')}`;
}

function summary(stream: string, o: ValidationOutcome): string {
  const counts = `${o.values} values, ${o.bytes} bytes, ${o.errors} error${o.errors === 1 ? '' : 's'}, ${o.warnings} warning${o.warnings === 1 ? '' : 's'}`;
  const stopped = o.complete ? '' : ` (stopped at byte ${o.bytes})`;
  return o.valid ? pc.green(`${stream}: valid (${counts})`) : pc.red(`${stream}: invalid (${counts})${stopped}`);
}

function toJsonReport(stream: string, o: ValidationOutcome): Record<string, unknown> {
  return {
    stream,
    validator: o.validator,
    valid: o.valid,
    errors: o.errors,
    warnings: o.warnings,
    values: o.values,
    bytes: o.bytes,
    complete: o.complete,
    diagnostics: o.diagnostics.map((d) => ({
      severity: d.severity,
      code: d.code,
      offset: d.offset,
      path: formatPath(d.path),
      message: d.message,
      expected: d.expected,
      actual: d.actual,
      excerpt: d.excerpt === undefined ? undefined : { offset: d.excerpt.offset, hex: hex(d.excerpt.bytes) },
    })),
  };
}
