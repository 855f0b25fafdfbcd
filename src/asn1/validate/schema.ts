/**
 * Loading a schema for the validator: module files compiled together, the type looked up by
 * name, and the default (vmstream's own `schema/migration.asn1`, `MigrationStream`) found
 * relative to the installed package, not the working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VmsError } from '../../errors.js';
import { compileAsn1, type CompileResult } from '../compile.js';
import { formatDiagnostic, hasErrors } from '../diagnostics.js';
import type { AsnType } from '../types.js';

export const DEFAULT_SCHEMA_FILE = 'schema/migration.asn1';
export const DEFAULT_TYPE = 'MigrationStream';

/** The package's `schema/migration.asn1`: the nearest ancestor of this module that holds it. */
export function defaultSchemaPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, DEFAULT_SCHEMA_FILE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new VmsError('E_IO', `${DEFAULT_SCHEMA_FILE} is not installed with vmstream`, { expected: 'the schema beside the package', actual: 'not found' });
    dir = up;
  }
}

export interface LoadedSchema {
  readonly compiled: CompileResult;
  readonly type: AsnType;
}

/**
 * Compiles the module files and returns the named type (the first of `type`'s name, else the
 * default type). Throws E_ASN1 with the diagnostics when the modules do not compile, E_USAGE
 * when the type does not exist, E_IO when a file cannot be read.
 */
export function loadSchema(files: readonly string[], typeName?: string): LoadedSchema {
  const paths = files.length === 0 ? [defaultSchemaPath()] : files;
  const sources = paths.map((file) => {
    try {
      return { text: readFileSync(file, 'utf8'), file };
    } catch (e) {
      throw new VmsError('E_IO', `cannot read schema ${file}`, { actual: (e as Error).message, cause: e });
    }
  });
  const compiled = compileAsn1(sources);
  if (hasErrors(compiled.diagnostics)) {
    const errs = compiled.diagnostics.filter((d) => d.severity === 'error');
    throw new VmsError('E_ASN1', `schema does not compile (${errs.length} error${errs.length === 1 ? '' : 's'}):\n${errs.slice(0, 20).map(formatDiagnostic).join('\n')}`, {
      expected: 'ASN.1 modules that parse and resolve',
      actual: formatDiagnostic(errs[0]!),
    });
  }
  const name = typeName ?? (files.length === 0 ? DEFAULT_TYPE : firstTypeName(compiled));
  const type = name === undefined ? undefined : compiled.type(name);
  if (type === undefined) {
    const known = [...compiled.modules.values()].flatMap((m) => [...m.types.keys()]);
    throw new VmsError('E_USAGE', `schema has no type ${name ?? '(none)'}`, { expected: `one of ${known.slice(0, 30).join(', ')}${known.length > 30 ? ', ...' : ''}`, actual: name ?? 'no type' });
  }
  return { compiled, type };
}

function firstTypeName(c: CompileResult): string | undefined {
  for (const m of c.modules.values()) for (const k of m.types.keys()) return k;
  return undefined;
}
