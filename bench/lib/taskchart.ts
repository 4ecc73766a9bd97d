/**
 * The workspace packages, imported by path: `bench/` is a plain script directory, not a
 * workspace package, so bare `@taskchart/*` specifiers do not resolve from here. Each path is
 * the package's `source` entry (what `--conditions=source` picks), so these are the same module
 * instances the adapters import.
 */
export * from '../../packages/core/src/index.js';
export * from '../../packages/core/src/adapter.js';
export { memoryBroker } from '../../packages/broker-memory/src/index.js';
export { sqliteStore } from '../../packages/store-sqlite/src/index.js';
export { postgresStore } from '../../packages/store-postgres/src/index.js';
