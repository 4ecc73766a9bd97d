export { postgresStore, PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { SCHEMA_VERSION } from './postgres-schema.js';
