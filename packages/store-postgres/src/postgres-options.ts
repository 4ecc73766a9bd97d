/**
 * `postgresStore` options: their types, defaults and ranges, compiled once. Every rejection
 * names the option and its range; unknown keys are refused naming the nearest valid one.
 */
import pg from 'pg';
import { InvalidOptionError, type Clock, type Logger } from '@taskchart/core';
import { assertKnownKeys, systemClock } from '@taskchart/core/adapter';
import { compileRetention, type CompiledRetention, type RetentionOptions } from './postgres-retention.js';

export interface PostgresStoreOptions {
  /** Where to connect (`postgres://user:pass@host:5432/db`). Give this or `pool`, not both. */
  connectionString?: string;
  /**
   * A `pg.Pool` you own: the store uses it and leaves it open on `close()` (end it yourself).
   * Give this or `connectionString`, not both.
   */
  pool?: pg.Pool;
  /**
   * The Postgres schema that holds the store's tables; created and migrated on start. A lower-case
   * identifier of 1 to 63 characters (`a-z`, `0-9`, `_`, not starting with a digit).
   * @defaultValue 'taskchart'
   */
  schema?: string;
  /**
   * The most connections the store's own pool opens, from 1 to 1,000 (only with
   * `connectionString`). @defaultValue 10
   */
  poolSize?: number;
  /**
   * The `application_name` of the store's connections (seen in `pg_stat_activity`), 1 to 63
   * characters (only with `connectionString`). @defaultValue 'taskchart'
   */
  applicationName?: string;
  /**
   * Where the store reports what it does about connection trouble (its LISTEN connection lost and
   * back). @defaultValue `console.warn` / `console.error`, prefixed `[taskchart]`
   */
  logger?: Logger;
  /**
   * Where the LISTEN connection (see `watch()`) goes, when it must not take the pool's way: LISTEN
   * needs a session of its own, which PgBouncer in transaction mode does not give, so point this at
   * Postgres itself (or a session-mode pool). @defaultValue the pool's connection settings
   */
  listenConnectionString?: string;
  /**
   * How long finished runs and their history are kept, by terminal status, and how often a
   * process sweeps (see `RetentionOptions`). Every process sweeps; one at a time deletes.
   * @defaultValue keep every run forever (no sweep)
   */
  retention?: RetentionOptions;
  /** The clock of retention sweeps (tests inject a manual one). @defaultValue the system clock */
  clock?: Clock;
  /**
   * Run the store's fixed statements as named (prepared) statements: Postgres parses and plans
   * each once per connection (1.6 to 2.3 times the commits per second measured in
   * `bench/clients.ts`). Behind PgBouncer in transaction mode this needs PgBouncer 1.21 or later
   * with `max_prepared_statements` set; with an older pooler, set `false`. @defaultValue true
   */
  preparedStatements?: boolean;
}

const OPTION_KEYS = ['connectionString', 'pool', 'schema', 'poolSize', 'applicationName', 'logger', 'listenConnectionString', 'retention', 'clock', 'preparedStatements'];
const MAX_POOL_SIZE = 1_000;
/** Postgres truncates identifiers (and application names) beyond 63 bytes. */
const MAX_NAME = 63;

export interface CompiledOptions {
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly ownsPool: boolean;
  readonly logger: Logger;
  readonly retention: CompiledRetention | undefined;
  readonly clock: Clock;
  readonly listenConnectionString: string | undefined;
  readonly preparedStatements: boolean;
}

const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[taskchart] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[taskchart] ${message}`, details ?? ''),
};

function compileLogger(l: Partial<Logger> | null | undefined): Logger {
  if (l === undefined) return consoleLogger;
  if (typeof l !== 'object' || l === null || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    throw new InvalidOptionError('postgresStore: logger', 'must be an object with warn(message, details) and error(message, details)');
  }
  return l as Logger;
}

export function compileOptions(options: PostgresStoreOptions): CompiledOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('postgresStore', 'needs an options object with `connectionString` or `pool`');
  assertKnownKeys(options, OPTION_KEYS, 'postgresStore');
  const logger = compileLogger(options.logger);
  const retention = compileRetention(options.retention);
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new InvalidOptionError('postgresStore: clock', 'must be a Clock { now, setTimeout, clearTimeout }');
  }
  const listenConnectionString = options.listenConnectionString;
  if (listenConnectionString !== undefined && (typeof listenConnectionString !== 'string' || listenConnectionString.length === 0)) {
    throw new InvalidOptionError('postgresStore: listenConnectionString', 'must be a postgres:// URL');
  }
  const preparedStatements = options.preparedStatements ?? true;
  if (typeof preparedStatements !== 'boolean') throw new InvalidOptionError('postgresStore: preparedStatements', `must be true or false, got ${String(preparedStatements)}`);
  const common = { logger, retention, clock, listenConnectionString, preparedStatements };
  const schema = options.schema ?? 'taskchart';
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(schema) || schema.length > MAX_NAME) {
    throw new InvalidOptionError('postgresStore: schema', `must be a lower-case identifier of 1 to ${MAX_NAME} characters (a-z, 0-9, _, not starting with a digit), got ${JSON.stringify(schema)}`);
  }
  if (options.pool !== undefined) {
    if (options.connectionString !== undefined) throw new InvalidOptionError('postgresStore: pool', 'give `pool` or `connectionString`, not both');
    for (const key of ['poolSize', 'applicationName'] as const) {
      if (options[key] !== undefined) throw new InvalidOptionError(`postgresStore: ${key}`, 'applies to the pool the store opens from `connectionString`; set it on your own `pool` instead');
    }
    if (!(options.pool instanceof pg.Pool)) throw new InvalidOptionError('postgresStore: pool', 'must be a pg.Pool');
    return { schema, pool: options.pool, ownsPool: false, ...common };
  }
  if (typeof options.connectionString !== 'string' || options.connectionString.length === 0) {
    throw new InvalidOptionError('postgresStore: connectionString', 'must be a postgres:// URL (or give `pool`)');
  }
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE) {
    throw new InvalidOptionError('postgresStore: poolSize', `must be a whole number from 1 to ${MAX_POOL_SIZE}, got ${String(poolSize)}`);
  }
  const applicationName = options.applicationName ?? 'taskchart';
  if (typeof applicationName !== 'string' || applicationName.length < 1 || applicationName.length > MAX_NAME) {
    throw new InvalidOptionError('postgresStore: applicationName', `must be a string of 1 to ${MAX_NAME} characters, got ${JSON.stringify(applicationName)}`);
  }
  const pool = new pg.Pool({ connectionString: options.connectionString, max: poolSize, application_name: applicationName });
  return { schema, pool, ownsPool: true, ...common };
}
