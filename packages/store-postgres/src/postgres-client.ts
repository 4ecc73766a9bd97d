/**
 * Every pooled connection the store checks out goes through `withClient`: while it is checked
 * out, the pool no longer listens for its 'error' event, and node-postgres emits one when the
 * server drops the connection (unhandled, it would crash the process); the store listens instead.
 * A connection that failed is destroyed on release rather than handed to the next caller, and
 * connection errors reach the caller as `PostgresUnavailableError`.
 */
import type pg from 'pg';
import { asOutage, isConnectionError } from './postgres-errors.js';

export async function withClient<T>(pool: pg.Pool, schema: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch((error: unknown) => {
    throw asOutage(error, schema);
  });
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  try {
    return await work(client);
  } catch (error) {
    if (isConnectionError(error)) broken ??= error as Error;
    throw asOutage(error, schema);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** Runs `work` in one transaction on a checked-out connection (see `withClient`). */
export function inTransaction<T>(pool: pg.Pool, schema: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, schema, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // On a dropped connection there is nothing to roll back (the server did).
      if (!isConnectionError(error)) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}
