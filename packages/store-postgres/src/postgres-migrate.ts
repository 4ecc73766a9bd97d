/**
 * Starting a store: creates its schema, or upgrades it by the migrations it lacks, in one
 * transaction under a transaction-scoped advisory lock keyed by the schema name, so ten workers
 * starting at once wait for each other instead of racing (the first migrates, the others find
 * the work done). A crash mid-way rolls everything back.
 */
import pg from 'pg';
import { TaskchartError } from '@taskchart/core';
import { inTransaction } from './postgres-client.js';
import { MIGRATIONS, SCHEMA_VERSION } from './postgres-schema.js';

/** Brings `schema` to `SCHEMA_VERSION`. */
export async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const name = pg.escapeIdentifier(schema);
  await inTransaction(pool, schema, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('taskchart'), hashtext($1))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${name}`);
    await client.query(`SET LOCAL search_path TO ${name}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (single boolean PRIMARY KEY DEFAULT true CHECK (single), version integer NOT NULL)');
    const found = await client.query<{ version: number }>('SELECT version FROM schema_version');
    const current = found.rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new TaskchartError(`postgresStore: schema ${JSON.stringify(schema)} has version ${current}; this version of Taskchart reads up to version ${SCHEMA_VERSION}`);
    }
    for (const m of MIGRATIONS) if (m.version > current) await client.query(m.sql);
    if (current === 0) await client.query('INSERT INTO schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
    else if (current < SCHEMA_VERSION) await client.query('UPDATE schema_version SET version = $1', [SCHEMA_VERSION]);
  });
}
