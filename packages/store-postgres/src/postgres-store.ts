import pg from 'pg';
import { InvalidOptionError, TaskchartError, type RunQuery, type Store } from '@taskchart/core';
import { assertKnownKeys, fromJsonColumn, runFromRow, toJsonColumn, type Claimant, type EventQuery, type HistoryEntry, type OutboxEntry, type PublishOptions, type RunPage, type RunRecord, type RunRow, type RunWrite, type StoredEvent, type WriteResult } from '@taskchart/core/adapter';
import { migrate } from './postgres-migrate.js';

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
}

const OPTION_KEYS = ['connectionString', 'pool', 'schema', 'poolSize', 'applicationName'];
const MAX_POOL_SIZE = 1_000;
/** Postgres truncates identifiers (and application names) beyond 63 bytes. */
const MAX_NAME = 63;
/** `list()` and `events()` page sizes. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

interface CompiledOptions {
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly ownsPool: boolean;
}

function compileOptions(options: PostgresStoreOptions): CompiledOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('postgresStore', 'needs an options object with `connectionString` or `pool`');
  assertKnownKeys(options, OPTION_KEYS, 'postgresStore');
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
    return { schema, pool: options.pool, ownsPool: false };
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
  return { schema, pool, ownsPool: true };
}

interface HistoryRow {
  tx: string;
  seq: string;
  run_id: string;
  chain: string;
  entries: string;
}

interface OutboxRow {
  id: string;
  run_id: string;
  queue: string | null;
  body: string;
  options: string | null;
}

const json = toJsonColumn;
const parse = fromJsonColumn;

function toOutboxEntry(o: OutboxRow): OutboxEntry {
  const options = parse<PublishOptions>(o.options);
  return { id: Number(o.id), runId: o.run_id, queue: o.queue, body: o.body, ...(options ? { options } : {}) };
}

/**
 * Event cursors are `tx:seq:index` (the writing transaction, the history row, the entry in it),
 * zero-padded so that they also order as strings.
 */
const eventCursor = (tx: string, seq: string, index: number) => `${tx.padStart(20, '0')}:${seq.padStart(19, '0')}:${String(index).padStart(4, '0')}`;
function parseEventCursor(cursor: string): [string, string, number] {
  const m = /^(\d{1,20}):(\d{1,19}):(\d{1,6})$/.exec(cursor);
  if (!m) throw new InvalidOptionError('postgresStore: events: after', `must be a cursor this store returned, got ${JSON.stringify(cursor)}`);
  return [BigInt(m[1] as string).toString(), BigInt(m[2] as string).toString(), Number(m[3])];
}

/** Run-list cursors: the last run's (created_at, id), as base64url JSON. */
const listCursor = (run: RunRecord) => Buffer.from(JSON.stringify([run.createdAt, run.id])).toString('base64url');
function parseListCursor(cursor: string): [number, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === 'string') return [value[0] as number, value[1]];
  } catch {
    // reported below
  }
  throw new InvalidOptionError('postgresStore: list: cursor', `must be the \`next\` of a page this store returned, got ${JSON.stringify(cursor)}`);
}

function checkLimit(limit: number | undefined, option: string): number {
  const value = limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) throw new InvalidOptionError(`postgresStore: ${option}`, `must be a whole number from 1 to ${MAX_LIMIT}, got ${String(limit)}`);
  return value;
}

function checkClaimant(claimant: Claimant): void {
  if (typeof claimant?.owner !== 'string' || claimant.owner.length === 0) throw new InvalidOptionError('postgresStore: claimant.owner', 'must be a non-empty string');
  if (!Number.isFinite(claimant.now)) throw new InvalidOptionError('postgresStore: claimant.now', `must be epoch milliseconds, got ${String(claimant.now)}`);
  if (!Number.isFinite(claimant.leaseMs) || claimant.leaseMs <= 0) throw new InvalidOptionError('postgresStore: claimant.leaseMs', `must be a positive number of milliseconds, got ${String(claimant.leaseMs)}`);
}

const checkIds = (ids: readonly number[], option: string) => {
  for (const id of ids) if (!Number.isSafeInteger(id)) throw new InvalidOptionError(`postgresStore: ${option}`, `must be outbox entry ids, got ${String(id)}`);
};

/**
 * The store for many machines: one Postgres database (node-postgres with its pool) shared by
 * every client and worker. A batch of writes commits in one transaction; each write is
 * compare-and-swap on the run's version (`UPDATE … WHERE version = expected`, its row count
 * telling a conflict), so a conflict fails only its own write. Writes are applied in run-id
 * order, so two batches touching the same runs lock them in one order and never deadlock.
 * Outbox entries are claimed with `FOR UPDATE SKIP LOCKED` and a lease.
 *
 * The schema is created or migrated on start (see `ready()`); every call waits for it.
 */
export class PostgresStore implements Store {
  /** The schema holding the store's tables. */
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly migrated: Promise<void>;
  private readonly sql;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    const compiled = compileOptions(options);
    this.schema = compiled.schema;
    this.pool = compiled.pool;
    this.ownsPool = compiled.ownsPool;
    if (this.ownsPool) {
      // An idle connection the server drops must not crash the process; the next query reconnects.
      this.pool.on('error', () => undefined);
    }
    const s = pg.escapeIdentifier(this.schema);
    this.sql = {
      insertRun: `INSERT INTO ${s}.runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, output, error, failed_task, waiting, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING`,
      updateRun: `UPDATE ${s}.runs SET status = $3, version = $4, step = $5, attempt = $6, total_attempts = $7, snapshot = $8,
           output = $9, error = $10, failed_task = $11, waiting = $12, updated_at = $13
         WHERE id = $1 AND version = $2`,
      insertHistory: `INSERT INTO ${s}.history (run_id, chain, at, entries) VALUES ($1, $2, $3, $4) RETURNING tx::text AS tx, seq::text AS seq`,
      insertOutbox: `INSERT INTO ${s}.outbox (run_id, queue, body, options, claimed_by, claimed_until)
         SELECT $1, o.queue, o.body, o.options, CASE WHEN o.claim THEN $2 END, CASE WHEN o.claim THEN $3::bigint ELSE 0 END
         FROM unnest($4::text[], $5::text[], $6::text[], $7::boolean[]) WITH ORDINALITY AS o(queue, body, options, claim, n)
         ORDER BY o.n RETURNING id::text AS id, queue, body, options, claimed_by`,
      claimOutbox: (hooks: boolean) => `UPDATE ${s}.outbox o SET claimed_by = $1, claimed_until = $3
         FROM (SELECT id FROM ${s}.outbox WHERE claimed_until <= $2 ${hooks ? '' : 'AND queue IS NOT NULL'} ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) c
         WHERE o.id = c.id RETURNING o.id::text AS id, o.run_id, o.queue, o.body, o.options`,
      deferOutbox: `UPDATE ${s}.outbox SET claimed_until = $1 WHERE claimed_by = $2 AND id = ANY($3::bigint[])`,
      deleteOutbox: `DELETE FROM ${s}.outbox WHERE id = ANY($1::bigint[])`,
      load: `SELECT * FROM ${s}.runs WHERE id = $1`,
      history: `SELECT entries FROM ${s}.history WHERE run_id = $1 ORDER BY tx, seq`,
      runs: `${s}.runs`,
      historyTable: `${s}.history`,
    };
    this.migrated = migrate(this.pool, this.schema);
    // Reported by `ready()` and every call; not an unhandled rejection meanwhile.
    this.migrated.catch(() => undefined);
  }

  /** Resolves once the schema is created or migrated; rejects with what stopped it. */
  ready(): Promise<void> {
    return this.migrated;
  }

  private async open(): Promise<void> {
    if (this.closed) throw new TaskchartError(`postgresStore: the store on schema ${JSON.stringify(this.schema)} is closed`);
    await this.migrated;
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.open();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    await this.open();
    return (await this.pool.query<R>(text, values)).rows;
  }

  private async applyWrite(client: pg.PoolClient, write: RunWrite, claimant: Claimant): Promise<WriteResult> {
    const r = write.record;
    const state = [r.status, r.version, r.step ?? null, r.attempt, r.totalAttempts, JSON.stringify(r.snapshot), json(r.output), json(r.error), r.failedTask ?? null, JSON.stringify(r.waiting)];
    if (write.expectedVersion === null) {
      const row = [r.id, r.chain, ...state.slice(0, 6), json(r.input), ...state.slice(6), r.createdAt, r.updatedAt];
      if ((await client.query(this.sql.insertRun, row)).rowCount === 0) return { ok: false, reason: 'exists' };
    } else if ((await client.query(this.sql.updateRun, [r.id, write.expectedVersion, ...state, r.updatedAt])).rowCount === 0) {
      return { ok: false, reason: 'conflict' };
    }
    const cursors: string[] = [];
    if (write.history.length > 0) {
      const { rows } = await client.query<{ tx: string; seq: string }>(this.sql.insertHistory, [r.id, r.chain, r.updatedAt, JSON.stringify(write.history)]);
      const h = rows[0] as { tx: string; seq: string };
      write.history.forEach((_, i) => cursors.push(eventCursor(h.tx, h.seq, i)));
    }
    if (write.outbox.length === 0) return { ok: true, outbox: [], cursors };
    // A hook entry (queue null) is claimed only by a committer that calls hooks; else it waits for one that does.
    const claims = write.outbox.map((o) => o.queue !== null || claimant.hooks);
    const { rows } = await client.query<OutboxRow & { claimed_by: string | null }>(this.sql.insertOutbox, [
      r.id,
      claimant.owner,
      claimant.now + claimant.leaseMs,
      write.outbox.map((o) => o.queue),
      write.outbox.map((o) => o.body),
      write.outbox.map((o) => json(o.options)),
      claims,
    ]);
    const outbox = rows
      .filter((o) => o.claimed_by !== null)
      .map((o) => toOutboxEntry({ ...o, run_id: r.id }))
      .sort((a, b) => a.id - b.id);
    return { ok: true, outbox, cursors };
  }

  async commit(writes: readonly RunWrite[], claimant: Claimant): Promise<WriteResult[]> {
    await this.open();
    checkClaimant(claimant);
    if (writes.length === 0) return [];
    // Run-id order (stable, so one run's writes keep their order): every batch locks rows in one order.
    const order = writes.map((_, i) => i).sort((a, b) => {
      const x = (writes[a] as RunWrite).record.id;
      const y = (writes[b] as RunWrite).record.id;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    return this.transaction(async (client) => {
      const results: WriteResult[] = new Array<WriteResult>(writes.length);
      for (const i of order) results[i] = await this.applyWrite(client, writes[i] as RunWrite, claimant);
      return results;
    });
  }

  async load(id: string): Promise<RunRecord | undefined> {
    const [row] = await this.query<RunRow>(this.sql.load, [id]);
    return row ? runFromRow(row) : undefined;
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const rows = await this.query<{ entries: string }>(this.sql.history, [id]);
    return rows.flatMap((h) => JSON.parse(h.entries) as HistoryEntry[]);
  }

  /** Newest first, by (created_at DESC, id); `next` resumes after the last run of the page. */
  async list(query: RunQuery = {}): Promise<RunPage> {
    const limit = checkLimit(query.limit, 'list: limit');
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.status && query.status.length > 0) where.push(`status = ANY(${param([...query.status])}::text[])`);
    if (query.chain !== undefined) where.push(`chain = ${param(query.chain)}`);
    if (query.createdAfter !== undefined) where.push(`created_at >= ${param(query.createdAfter)}`);
    if (query.createdBefore !== undefined) where.push(`created_at < ${param(query.createdBefore)}`);
    if (query.cursor !== undefined) {
      const [createdAt, id] = parseListCursor(query.cursor);
      const at = param(createdAt);
      where.push(`(created_at < ${at} OR (created_at = ${at} AND id > ${param(id)}))`);
    }
    const sql = `SELECT * FROM ${this.sql.runs} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ${param(limit + 1)}`;
    const runs = (await this.query<RunRow>(sql, params)).map(runFromRow);
    const more = runs.length > limit;
    if (more) runs.length = limit;
    const last = runs[runs.length - 1];
    return more && last ? { runs, next: listCursor(last) } : { runs };
  }

  /**
   * The event log, oldest first, in `(tx, seq)` order. Only rows of transactions older than
   * every transaction still running are read (`tx < pg_snapshot_xmin(pg_current_snapshot())`):
   * a row that commits later always sorts after what was read, so following the log never skips
   * an event. A transaction left open elsewhere in the database delays the log until it ends.
   */
  async events(query: EventQuery = {}): Promise<StoredEvent[]> {
    const limit = checkLimit(query.limit, 'events: limit');
    const after = query.after !== undefined ? parseEventCursor(query.after) : undefined;
    const where = ['tx < pg_snapshot_xmin(pg_current_snapshot())'];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (after) where.push(`(tx, seq) >= (${param(after[0])}::xid8, ${param(after[1])}::bigint)`);
    if (query.runId !== undefined) where.push(`run_id = ${param(query.runId)}`);
    if (query.chain !== undefined) where.push(`chain = ${param(query.chain)}`);
    // Every row holds at least one entry; one more row covers the entries skipped in the first.
    const sql = `SELECT tx::text AS tx, seq::text AS seq, run_id, chain, entries FROM ${this.sql.historyTable} WHERE ${where.join(' AND ')} ORDER BY tx, seq LIMIT ${param(limit + 1)}`;
    const events: StoredEvent[] = [];
    for (const row of await this.query<HistoryRow>(sql, params)) {
      const entries = JSON.parse(row.entries) as HistoryEntry[];
      const first = after && row.tx === after[0] && row.seq === after[1];
      for (let i = 0; i < entries.length && events.length < limit; i++) {
        if (first && i <= after[2]) continue;
        events.push({ cursor: eventCursor(row.tx, row.seq, i), runId: row.run_id, chain: row.chain, entry: entries[i] as HistoryEntry });
      }
      if (events.length >= limit) break;
    }
    return events;
  }

  async claimOutbox(claimant: Claimant, limit: number): Promise<OutboxEntry[]> {
    checkClaimant(claimant);
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidOptionError('postgresStore: claimOutbox: limit', `must be a whole number >= 1, got ${String(limit)}`);
    // SKIP LOCKED: two processes claiming at once take different entries instead of waiting.
    const rows = await this.query<OutboxRow>(this.sql.claimOutbox(claimant.hooks), [claimant.owner, claimant.now, claimant.now + claimant.leaseMs, limit]);
    return rows.map(toOutboxEntry).sort((a, b) => a.id - b.id);
  }

  async deferOutbox(owner: string, ids: readonly number[], until: number): Promise<void> {
    await this.open();
    if (ids.length === 0) return;
    if (!Number.isFinite(until)) throw new InvalidOptionError('postgresStore: deferOutbox: until', `must be epoch milliseconds, got ${String(until)}`);
    checkIds(ids, 'deferOutbox: ids');
    await this.query(this.sql.deferOutbox, [until, owner, [...ids]]);
  }

  async deleteOutbox(ids: readonly number[]): Promise<void> {
    await this.open();
    if (ids.length === 0) return;
    checkIds(ids, 'deleteOutbox: ids');
    await this.query(this.sql.deleteOutbox, [[...ids]]);
  }

  /** Ends the store's own pool (a `pool` you gave stays open). Later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.migrated.catch(() => undefined);
    if (this.ownsPool) await this.pool.end();
  }
}

/**
 * A Postgres store on `connectionString` (or your `pool`), in `schema`. Returns at once; the
 * schema is created or migrated in the background and every call waits for it (`ready()` reports
 * it). Throws an `InvalidOptionError` naming the option for a bad or unknown option.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}
