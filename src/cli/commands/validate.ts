/**
 * `vmstream validate [--no-schema] [--json] [--max-errors N] STREAM`: checks a BER stream.
 *
 * Today the check is schema-free: the X.690 encoding rules of every value (tag and length
 * forms, BOOLEAN/NULL/INTEGER/OID/REAL/BIT STRING/time/character-string rules, constructed
 * string segments). Schema validation (`--schema FILE`, `--type`, `--xer`) plugs in as another
 * entry of `VALIDATORS`, chosen by `chooseValidator`; the printing and exit statuses are shared.
 *
 * Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error.
 */
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { ChannelReader } from '../../channel/reader.js';
import { formatPath } from '../../errors.js';
import { DEFAULT_MAX_ERRORS, checkX690 } from '../../asn1/x690/check.js';
import { formatX690Diagnostic, type X690Diagnostic } from '../../asn1/x690/diagnostics.js';
import { EXIT_BAD_STREAM, EXIT_OK, action, hex, openInput, toJson, usageExits } from '../util.js';

/** Options as commander hands them over (`--no-schema` makes `schema` false). */
export interface ValidateOptions {
  readonly schema?: boolean | string;
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
  readonly diagnostics: readonly X690Diagnostic[];
}

type Validator = (input: ChannelReader, opts: ValidateOptions, onDiagnostic?: (d: X690Diagnostic) => void) => Promise<ValidationOutcome>;

/** The validators this command can run, by name. */
export const VALIDATORS: Readonly<Record<string, Validator>> = {
  x690: async (input, opts, onDiagnostic) => {
    const report = await checkX690(input, {
      maxErrors: opts.maxErrors ?? DEFAULT_MAX_ERRORS,
      ...(onDiagnostic !== undefined ? { onDiagnostic } : {}),
    });
    return { validator: 'x690', ...report };
  },
};

/** Picks the validator for the options; without a schema, the X.690 check. */
export function chooseValidator(_opts: ValidateOptions): Validator {
  // `--schema FILE` will select the schema validator here once it exists.
  return VALIDATORS.x690!;
}

export function validateCommand(): Command {
  const cmd = new Command('validate')
    .description('check a BER stream; --no-schema checks the X.690 encoding rules of every value without an ASN.1 schema')
    .argument('<stream>', 'BER stream file, or - for stdin')
    .option('--no-schema', 'check X.690 encoding rules only (no ASN.1 schema)')
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
  const source = openInput(stream);
  try {
    const validate = chooseValidator(opts);
    const json = opts.json === true;
    // Text output streams diagnostics as they are found; JSON needs the whole report.
    const outcome = await validate(new ChannelReader(source), opts, json ? undefined : (d) => process.stdout.write(formatText(d)));
    process.stdout.write(json ? toJson(toJsonReport(stream, outcome), 2) + '\n' : summary(stream, outcome) + '\n');
    process.exitCode = outcome.valid ? EXIT_OK : EXIT_BAD_STREAM;
  } finally {
    await source.close();
  }
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** One diagnostic line, then a hex excerpt with the offending byte in brackets. */
export function formatText(d: X690Diagnostic): string {
  const line = formatX690Diagnostic(d);
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
