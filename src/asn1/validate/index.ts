/** The schema-driven streaming BER validator. */
export * from './diagnostics.js';
export { validateBer, DEFAULT_MAX_ERRORS, DEFAULT_MAX_WARNINGS, type ValidateOptions, type ValidationReport, type ValueObserver } from './walker.js';
export { loadSchema, defaultSchemaPath, DEFAULT_SCHEMA_FILE, DEFAULT_TYPE, type LoadedSchema } from './schema.js';
export { planOf, Shape, type TypePlan } from './plan.js';
export { loadSchemaCached, defaultCacheDir, type CachedSchema, type CachedSchemaOptions, type SchemaCacheOutcome } from './schema-cache.js';
