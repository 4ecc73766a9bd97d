/**
 * Test isolation on the real server: every test file uses its own schemas (random names) and its
 * own `application_name`, drops the schemas afterwards and checks that none of its connections
 * is left open.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';

export const PG_URL = process.env.TASKCHART_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PgTestScope {
  /** The `application_name` every store of this file connects with. */
  readonly applicationName: string;
  /** A new schema name, dropped by `cleanup()`. */
  schema(): string;
  /** An admin query on its own short-lived connection. */
  query<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Drops every schema handed out, then waits until no connection of `applicationName` remains. */
  cleanup(): Promise<void>;
}

export function pgTestScope(label: string): PgTestScope {
  const id = randomBytes(4).toString('hex');
  const applicationName = `tc-test-${label}-${id}`;
  const schemas: string[] = [];
  const query = async <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: PG_URL, application_name: 'tc-test-admin' });
    await client.connect();
    try {
      return (await client.query<R>(sql, values)).rows;
    } finally {
      await client.end();
    }
  };
  const connections = async () =>
    Number((await query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]))[0]?.n);
  return {
    applicationName,
    schema: () => {
      const name = `tc_test_${label}_${id}_${schemas.length}`;
      schemas.push(name);
      return name;
    },
    query,
    async cleanup() {
      for (const s of schemas.splice(0)) await query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`);
      // A closed pool's backends leave pg_stat_activity a moment after the client hangs up.
      let left = await connections();
      for (let tries = 0; left !== 0 && tries < 100; tries++) {
        await sleep(50);
        left = await connections();
      }
      if (left !== 0) throw new Error(`${left} connection(s) of ${applicationName} still open after every store closed`);
    },
  };
}
