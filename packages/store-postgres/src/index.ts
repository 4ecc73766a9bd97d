export { postgresStore, PostgresStore } from './postgres-store.js';
export type { PostgresStoreOptions } from './postgres-options.js';
export { PostgresUnavailableError } from './postgres-errors.js';
export { SCHEMA_VERSION } from './postgres-schema.js';
export type { PurgeResult, RetentionOptions } from './postgres-retention.js';
