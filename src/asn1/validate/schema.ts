/**
 * Loading a schema for the validator: module files compiled together, the type looked up by
 * name, and the default (vmstream's own `schema/migration.asn1`, `MigrationStream`) found
 * relative to the installed package, not the working directory.
 */
import { VmsError } from '../../errors.js';
import { compileAsn1, type CompileResult } from '../compile.js';
import { formatDiagnostic, hasErrors } from '../diagnostics.js';
import type { AsnType } from '../types.js';
import { DEFAULT_TYPE, readSchemaFiles, type SchemaSource } from './schema-path.js';

export { DEFAULT_SCHEMA_FILE, DEFAULT_TYPE, defaultSchemaPath, readSchemaFiles, type SchemaSource } from './schema-path.js';

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
  return compileSchema(readSchemaFiles(files), files.length === 0, typeName);
}

/** `loadSchema` on texts already read; `isDefault` says they are the default schema (whose type is MigrationStream). */
export function compileSchema(sources: readonly SchemaSource[], isDefault: boolean, typeName?: string): LoadedSchema {
  const compiled = compileAsn1(sources);
  if (hasErrors(compiled.diagnostics)) {
    const errs = compiled.diagnostics.filter((d) => d.severity === 'error');
    throw new VmsError('E_ASN1', `schema does not compile (${errs.length} error${errs.length === 1 ? '' : 's'}):\n${errs.slice(0, 20).map(formatDiagnostic).join('\n')}`, {
      expected: 'ASN.1 modules that parse and resolve',
      actual: formatDiagnostic(errs[0]!),
    });
  }
  const name = typeName ?? (isDefault ? DEFAULT_TYPE : firstTypeName(compiled));
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
