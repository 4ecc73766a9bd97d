/**
 * Housekeeping: finished runs (terminal statuses) and their history are kept for a configured
 * time after they finished (`updated_at`, the time of their terminal commit), then deleted in
 * small batches. Each batch is one short transaction that first takes
 * `pg_try_advisory_xact_lock` keyed by the schema (one process sweeps at a time; the others skip
 * their turn instead of waiting) and picks its runs with `FOR UPDATE SKIP LOCKED` (a row a worker
 * holds is left for the next sweep, never waited for). A run that still has outbox entries (a
 * hook call not yet made) is left alone until they are gone.
 *
 * No index of its own: a run finishes after it was created, so `created_at < cutoff` is implied
 * by `updated_at < cutoff`, and the existing `runs_status (status, created_at DESC, id)` index
 * finds the candidates. An index on `updated_at` would make every run update non-HOT (it changes
 * on every write), a cost on the hot path for a sweep that runs once a minute.
 */
import pg from 'pg';
import { InvalidOptionError, type Duration } from '@taskchart/core';
import { assertKnownKeys, parseDuration, type RunStatus } from '@taskchart/core/adapter';
import { inTransaction } from './postgres-client.js';

/** How long finished runs are kept, by terminal status, and how the sweep goes. */
export interface RetentionOptions {
  /** Keep `completed` runs this long after they finished. @defaultValue forever */
  completed?: Duration;
  /** Keep `failed` runs this long after they finished. @defaultValue forever */
  failed?: Duration;
  /** Keep `compensated` runs this long after they finished. @defaultValue forever */
  compensated?: Duration;
  /** Keep `cancelled` runs this long after they finished. @defaultValue forever */
  cancelled?: Duration;
  /** How often a process sweeps (1 s to 1 day). @defaultValue '1m' */
  every?: Duration;
  /** Runs deleted per batch (one short transaction), 1 to 10,000. @defaultValue 500 */
  batchSize?: number;
}

export interface CompiledRetention {
  /** Keep time by terminal status (ms); a status absent is kept forever. */
  readonly keepMs: ReadonlyMap<RunStatus, number>;
  readonly everyMs: number;
  readonly batchSize: number;
}

const KEYS = ['completed', 'failed', 'compensated', 'cancelled', 'every', 'batchSize'] as const;
const KEPT_STATUSES = ['completed', 'failed', 'compensated', 'cancelled'] as const;
const DAY_MS = 86_400_000;
/** The longest keep time: ten years. */
const MAX_KEEP_MS = 3_650 * DAY_MS;
const MAX_BATCH = 10_000;
/** A sweep stops after this many batches (the next one goes on): one sweep never runs for long. */
export const MAX_BATCHES_PER_SWEEP = 200;

export function compileRetention(options: RetentionOptions | undefined): CompiledRetention | undefined {
  if (options === undefined) return undefined;
  const owner = 'postgresStore: retention';
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(owner, 'must be an object { completed?, failed?, compensated?, cancelled?, every?, batchSize? }');
  assertKnownKeys(options, KEYS, owner);
  const keepMs = new Map<RunStatus, number>();
  for (const status of KEPT_STATUSES) {
    const value = options[status];
    if (value !== undefined) keepMs.set(status, parseDuration(value, `${owner}: ${status}`, { allowZero: true, max: MAX_KEEP_MS }));
  }
  const everyMs = parseDuration(options.every ?? '1m', `${owner}: every`, { allowZero: false, max: DAY_MS });
  if (everyMs < 1_000) throw new InvalidOptionError(`${owner}: every`, `must be from 1s to 1d, got ${String(options.every)}`);
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new InvalidOptionError(`${owner}: batchSize`, `must be a whole number from 1 to ${MAX_BATCH}, got ${String(batchSize)}`);
  }
  return { keepMs, everyMs, batchSize };
}

/** What one sweep deleted, by status; `busy` when another process held the sweep lock. */
export interface PurgeResult {
  readonly deleted: Readonly<Partial<Record<RunStatus, number>>>;
  readonly busy: boolean;
}

/** Deletes, in batches, the runs of each kept status that finished before `now - keep`. */
export async function purgeFinished(pool: pg.Pool, schema: string, retention: CompiledRetention, now: number): Promise<PurgeResult> {
  const s = pg.escapeIdentifier(schema);
  const batch = `WITH doomed AS (
      SELECT id FROM ${s}.runs r
       WHERE status = $1 AND created_at < $2 AND updated_at < $2 AND NOT EXISTS (SELECT 1 FROM ${s}.outbox o WHERE o.run_id = r.id)
       ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED
    ), history AS (
      DELETE FROM ${s}.history h USING doomed WHERE h.run_id = doomed.id
    )
    DELETE FROM ${s}.runs r USING doomed WHERE r.id = doomed.id`;
  const deleted: Partial<Record<RunStatus, number>> = {};
  let batches = 0;
  for (const [status, keepMs] of retention.keepMs) {
    deleted[status] = 0;
    for (let more = true; more && batches < MAX_BATCHES_PER_SWEEP; batches++) {
      const count = await inTransaction(pool, schema, async (client) => {
        const lock = await client.query<{ got: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('taskchart.retention'), hashtext($1)) AS got", [schema]);
        if (lock.rows[0]?.got !== true) return undefined;
        return (await client.query(batch, [status, now - keepMs, retention.batchSize])).rowCount ?? 0;
      });
      if (count === undefined) return { deleted, busy: true };
      deleted[status] = (deleted[status] ?? 0) + count;
      more = count === retention.batchSize;
    }
  }
  return { deleted, busy: false };
}
