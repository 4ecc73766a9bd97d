export { sqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { SCHEMA_VERSION } from './sqlite-schema.js';
