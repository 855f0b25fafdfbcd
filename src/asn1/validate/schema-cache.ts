/**
 * The validator's schema, compiled once and kept: on a hit, neither the ASN.1 parser and compiler
 * are loaded nor the modules compiled (about 50 ms of a CLI run's start-up; asn1c's users keep
 * its generated decoder the same way).
 *
 * The cache file is named by a SHA-256 of everything the result depends on: the module texts in
 * order, the type asked for, whether they are the default schema, and the compiler itself (the
 * text of every module of `src/asn1/` as installed, of the graph codec and of the tag constants), so editing a schema
 * or upgrading vmstream never serves an old compile. It lives in a per-user directory under the
 * temp dir, used only when it belongs to this user and nobody else may write to it. Any problem
 * reading or writing the cache falls back to compiling; errors in the schema are reported by the
 * compiler, as without a cache (failed compiles are not cached).
 *
 * `VMSTREAM_SCHEMA_CACHE=off` turns it off; `VMSTREAM_SCHEMA_CACHE=DIR` puts it in DIR.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AsnType } from '../types.js';
import { readSchemaFiles } from './schema-path.js';
import { decodeTypeGraph, encodeTypeGraph } from './type-graph.js';

export interface CachedSchemaOptions {
  /** Cache directory; `null` for no cache. Defaults to $VMSTREAM_SCHEMA_CACHE, else a per-user directory in the temp dir. */
  readonly cacheDir?: string | null;
}

/** What a lookup did, for tests and `--json` curiosity: a hit, a compile that was stored, or a compile without a cache. */
export type SchemaCacheOutcome = 'hit' | 'stored' | 'compiled';

export interface CachedSchema {
  readonly type: AsnType;
  readonly cache: SchemaCacheOutcome;
}

/**
 * `loadSchema(files, typeName).type`, from the cache when it holds this exact compile. Throws what
 * `loadSchema` throws (E_IO, E_ASN1, E_USAGE).
 */
export async function loadSchemaCached(files: readonly string[], typeName?: string, options: CachedSchemaOptions = {}): Promise<CachedSchema> {
  const sources = readSchemaFiles(files);
  const isDefault = files.length === 0;
  const dir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const file = dir === null ? undefined : join(dir, `${cacheKey(sources.map((s) => s.text), isDefault, typeName)}.json`);
  if (file !== undefined && usableDir(dir!)) {
    try {
      return { type: decodeTypeGraph(readFileSync(file, 'utf8')), cache: 'hit' };
    } catch {
      // Missing or damaged: compile, and overwrite it below.
    }
  }
  const { compileSchema } = await import('./schema.js');
  const type = compileSchema(sources, isDefault, typeName).type;
  if (file === undefined) return { type, cache: 'compiled' };
  return { type, cache: store(dir!, file, type) ? 'stored' : 'compiled' };
}

/** $VMSTREAM_SCHEMA_CACHE (`off` for none), else `vmstream-schema-cache-<uid>` in the temp dir. */
export function defaultCacheDir(): string | null {
  const env = process.env.VMSTREAM_SCHEMA_CACHE;
  if (env === 'off') return null;
  if (env !== undefined && env !== '') return env;
  return join(tmpdir(), `vmstream-schema-cache-${process.getuid?.() ?? 'user'}`);
}

const KEY_FORMAT = 'vmstream schema cache 1';

function cacheKey(texts: readonly string[], isDefault: boolean, typeName: string | undefined): string {
  const h = createHash('sha256');
  // Each part with its length, so no two different inputs hash the same concatenation.
  const part = (s: string): void => {
    h.update(`${Buffer.byteLength(s)}:`);
    h.update(s);
  };
  part(KEY_FORMAT);
  part(compilerFingerprint());
  part(isDefault ? 'default' : 'given');
  part(typeName ?? '');
  for (const t of texts) part(t);
  return h.digest('hex');
}

/** The text of the compiler's modules as installed (`src/asn1/*`, the graph codec, the tag constants), hashed. */
function compilerFingerprint(): string {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const asn1 = dirname(dirname(here));
  const h = createHash('sha256');
  const files = readdirSync(asn1).filter((f) => f.endsWith(ext)).sort().map((f) => join(asn1, f));
  // The codec and the loader beside this module, and the tag constants compiled types are made of.
  files.push(join(dirname(here), `type-graph${ext}`), join(dirname(here), `schema${ext}`), join(asn1, '..', 'format', 'ber', `tag${ext}`));
  for (const f of files) {
    h.update(f.slice(asn1.length));
    h.update(readFileSync(f));
  }
  return h.digest('hex');
}

/** A directory this user owns and only this user may write to (creating it if need be). */
function usableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (!st.isDirectory()) return false;
    const uid = process.getuid?.();
    return (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Writes the compiled type next to its final name, then renames it: readers never see half a file. */
function store(dir: string, file: string, type: AsnType): boolean {
  if (!usableDir(dir)) return false;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, encodeTypeGraph(type), { mode: 0o600 });
    renameSync(tmp, file);
    return true;
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
}
