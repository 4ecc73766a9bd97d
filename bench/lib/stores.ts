/**
 * The store a benchmark phase runs on: a fresh SQLite file in a temp dir, or a fresh schema in the
 * Postgres database at `TASKCHART_PG_URL` (default the local `test` database). Worker processes
 * open the same store from the environment `env` gives them (`storeFromEnv`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresStore, sqliteStore, type Store } from './taskchart.js';

export type StoreKind = 'sqlite' | 'postgres';

const PG_URL = process.env.TASKCHART_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** What `pg_stat_activity` shows for the benchmark's connections. */
const APPLICATION_NAME = 'taskchart-bench';

export interface BenchStore {
  /** How the report names it. */
  readonly label: string;
  /** The environment a worker process needs to open the same store (`storeFromEnv`). */
  readonly env: Readonly<Record<string, string>>;
  /** A new handle on the store (one per process; close it, or close the runtime that owns it). */
  open(): Store;
  /** Deletes the file or drops the schema. Call after every handle is closed. */
  dispose(): Promise<void>;
}

function open(env: Readonly<Record<string, string | undefined>>): Store {
  if (env.TCB_STORE === 'postgres') {
    return postgresStore({ connectionString: env.TCB_PG_URL ?? PG_URL, schema: env.TCB_PG_SCHEMA ?? '', applicationName: APPLICATION_NAME });
  }
  return sqliteStore(env.TCB_SQLITE_FILE ?? '');
}

export function benchStore(kind: StoreKind): BenchStore {
  if (kind === 'postgres') {
    const schema = `tcb_${randomBytes(4).toString('hex')}`;
    const env = { TCB_STORE: 'postgres', TCB_PG_URL: PG_URL, TCB_PG_SCHEMA: schema };
    return {
      label: `Postgres (schema ${schema}, pg pool of 10 per process)`,
      env,
      open: () => open(env),
      async dispose() {
        const admin = postgresStore({ connectionString: PG_URL, schema, applicationName: APPLICATION_NAME, poolSize: 1 });
        try {
          await admin.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await admin.close();
        }
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-bench-'));
  const env = { TCB_STORE: 'sqlite', TCB_SQLITE_FILE: join(dir, 'bench.db') };
  return {
    label: 'SQLite file (WAL, synchronous=NORMAL)',
    env,
    open: () => open(env),
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** In a worker process: the store its parent's `benchStore(...).env` names. */
export function storeFromEnv(): Store {
  return open(process.env);
}
