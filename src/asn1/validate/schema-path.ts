/**
 * Reading schema files, and where vmstream's own schema is: `schema/migration.asn1` (type `MigrationStream`), found relative
 * to the installed package, not the working directory. Apart from the compiler, so that finding it
 * does not load the compiler.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VmsError } from '../../errors.js';

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

export interface SchemaSource {
  readonly text: string;
  readonly file: string;
}

/** The module texts of `files`, or of the default schema when there are none. E_IO when one cannot be read. */
export function readSchemaFiles(files: readonly string[]): SchemaSource[] {
  const paths = files.length === 0 ? [defaultSchemaPath()] : files;
  return paths.map((file) => {
    try {
      return { text: readFileSync(file, 'utf8'), file };
    } catch (e) {
      throw new VmsError('E_IO', `cannot read schema ${file}`, { actual: (e as Error).message, cause: e });
    }
  });
}
