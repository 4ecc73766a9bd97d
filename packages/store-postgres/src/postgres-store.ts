import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { InvalidOptionError, TaskchartError, type Clock, type Logger, type RunQuery, type Store } from '@taskchart/core';
import { assertKnownKeys, checkClaimant, checkDefinitionRecords, checkPageLimit, fromJsonColumn, parseRunListCursor, runFromRow, runListCursor, toJsonColumn, type ChainDefinitionRecord, type Claimant, type DefinitionQuery, type EventQuery, type HistoryEntry, type OutboxEntry, type PublishOptions, type RunPage, type RunRecord, type RunRow, type RunWrite, type StoredEvent, type WriteResult } from '@taskchart/core/adapter';
import { inTransaction } from './postgres-client.js';
import { asOutage, isConnectionError } from './postgres-errors.js';
import { migrate } from './postgres-migrate.js';
import { compileOptions, type PostgresStoreOptions } from './postgres-options.js';
import { purgeFinished, type CompiledRetention, type PurgeResult } from './postgres-retention.js';
import { storeStatements, type Statement, type StoreStatements } from './postgres-statements.js';
import { ChangeWatcher, changePayload, channelOf, type StoreChange } from './postgres-watch.js';

/** How long `events()` waits at most for a committed row hidden behind an older transaction. */
const HIDDEN_WAIT_MAX_MS = 80;

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
interface DefinitionRow {
  chain: string;
  version: number;
  fingerprint: string;
  definition: string;
  /** bigint: pg returns it as text. */
  recorded_at: string;
}

export class PostgresStore implements Store {
  /** The schema holding the store's tables. */
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private migrated: Promise<void>;
  private readonly sql: StoreStatements;
  private readonly watcher: ChangeWatcher;
  private readonly retention: CompiledRetention | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly onPoolError: (error: Error) => void;
  private sweepTimer: ReturnType<Clock['setTimeout']> | undefined;
  private sweeping: Promise<unknown> | undefined;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    const compiled = compileOptions(options);
    this.schema = compiled.schema;
    this.pool = compiled.pool;
    this.ownsPool = compiled.ownsPool;
    this.retention = compiled.retention;
    this.clock = compiled.clock;
    this.logger = compiled.logger;
    const channel = channelOf(this.schema);
    // Its own connection, with the pool's settings: a LISTEN must not hold a pool connection.
    const listenAt = compiled.listenConnectionString;
    const listenConfig = listenAt === undefined ? this.pool.options : { connectionString: listenAt, application_name: this.pool.options.application_name };
    this.watcher = new ChangeWatcher(listenConfig, channel, compiled.logger);
    // An idle pooled connection the server drops emits 'error' on the pool: unhandled, it would
    // crash the process. The pool has already discarded it; the next call opens a new one.
    this.onPoolError = (error: Error) => this.logger.warn('postgresStore: an idle connection to the server failed; the pool replaces it', { schema: this.schema, error: error.message });
    this.pool.on('error', this.onPoolError);
    this.sql = storeStatements(this.schema, channel, compiled.preparedStatements);
    this.migrated = migrate(this.pool, this.schema);
    // Reported by `ready()` and every call; not an unhandled rejection meanwhile.
    this.migrated.catch(() => undefined);
    if (this.retention && this.retention.keepMs.size > 0) this.scheduleSweep(this.retention.everyMs);
  }

  private scheduleSweep(everyMs: number): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      if (this.closed) return;
      this.scheduleSweep(everyMs);
      // A sweep still going (a slow server) is not doubled: this turn is skipped.
      this.sweeping ??= this.purge()
        .catch((error: unknown) => {
          this.logger.warn('postgresStore: retention sweep failed; the next sweep tries again', { schema: this.schema, error: error instanceof Error ? error.message : JSON.stringify(error) });
        })
        .finally(() => {
          this.sweeping = undefined;
        });
    }, everyMs);
  }

  /**
   * Deletes now (by the store's clock) the finished runs the `retention` option no longer keeps,
   * with their history, in batches (at most 200 per call; the next sweep goes on). Sweeps also
   * run by themselves every `retention.every`. `busy` when another process was sweeping.
   */
  async purge(): Promise<PurgeResult> {
    await this.open();
    if (!this.retention) return { deleted: {}, busy: false };
    return purgeFinished(this.pool, this.schema, this.retention, this.clock.now());
  }

  /** Resolves once the schema is created or migrated; rejects with what stopped it. */
  ready(): Promise<void> {
    return this.migrated;
  }

  private async open(): Promise<void> {
    if (this.closed) throw new TaskchartError(`postgresStore: the store on schema ${JSON.stringify(this.schema)} is closed`);
    const attempt = this.migrated;
    try {
      await attempt;
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      // The server could not be reached when the store started: try again with this call.
      if (this.migrated === attempt) {
        this.migrated = migrate(this.pool, this.schema);
        this.migrated.catch(() => undefined);
      }
      await this.migrated.catch((e: unknown) => {
        throw asOutage(e, this.schema);
      });
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.open();
    return inTransaction(this.pool, this.schema, work);
  }

  private async query<R extends pg.QueryResultRow>(statement: string | Statement, values: unknown[]): Promise<R[]> {
    await this.open();
    try {
      return (await this.pool.query<R>(statement, values)).rows;
    } catch (error) {
      throw asOutage(error, this.schema);
    }
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
    checkClaimant(claimant, 'postgresStore');
    if (writes.length === 0) return [];
    // Run-id order (stable, so one run's writes keep their order): every batch locks rows in one order.
    const order = writes.map((_, i) => i).sort((a, b) => {
      const x = (writes[a] as RunWrite).record.id;
      const y = (writes[b] as RunWrite).record.id;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    return this.transaction(async (client) => {
      const results: WriteResult[] = new Array<WriteResult>(writes.length);
      const changes = new Set<string>();
      const settled: number[] = [];
      for (const i of order) {
        const write = writes[i] as RunWrite;
        const result = await this.applyWrite(client, write, claimant);
        results[i] = result;
        if (result.ok && write.history.length > 0) changes.add(changePayload(write.record.id, write.record.chain));
        if (result.ok && write.settles) settled.push(...write.settles);
      }
      // The entries the applied writes settle go in the same transaction, in one statement.
      if (settled.length > 0) await client.query(this.sql.deleteOutbox, [settled]);
      // Delivered to watchers when (and only if) this transaction commits.
      if (changes.size > 0) await client.query(this.sql.notify, [[...changes]]);
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
    const limit = checkPageLimit(query.limit, 'postgresStore', 'list: limit');
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
      const [createdAt, id] = parseRunListCursor(query.cursor, 'postgresStore');
      const at = param(createdAt);
      // `created_at <= at` first: an index range condition (the OR alone made deep pages scan from the top).
      where.push(`created_at <= ${at} AND (created_at < ${at} OR id > ${param(id)})`);
    }
    const sql = `SELECT * FROM ${this.sql.runs} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ${param(limit + 1)}`;
    const runs = (await this.query<RunRow>(sql, params)).map(runFromRow);
    const more = runs.length > limit;
    if (more) runs.length = limit;
    const last = runs[runs.length - 1];
    return more && last ? { runs, next: runListCursor(last) } : { runs };
  }

  /**
   * The event log, oldest first, in `(tx, seq)` order. Only rows of transactions older than
   * every transaction still running are read (`tx < pg_snapshot_xmin(pg_current_snapshot())`):
   * a row that commits later always sorts after what was read, so following the log never skips
   * an event. A transaction left open elsewhere on the server delays the log until it ends; a
   * read that finds a committed row held back that way waits up to 155 ms for it, then reads again.
   */
  async events(query: EventQuery = {}): Promise<StoredEvent[]> {
    const limit = checkPageLimit(query.limit, 'postgresStore', 'events: limit');
    const after = query.after !== undefined ? parseEventCursor(query.after) : undefined;
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (after) where.push(`(h.tx, h.seq) >= (${param(after[0])}::xid8, ${param(after[1])}::bigint)`);
    if (query.runId !== undefined) where.push(`h.run_id = ${param(query.runId)}`);
    if (query.chain !== undefined) where.push(`h.chain = ${param(query.chain)}`);
    // Every row holds at least one entry; one more row covers the entries skipped in the first.
    // Rows at or past the barrier (`hidden`) sort after every readable one: they end the page.
    // ORDER BY names the table's columns (h.tx, h.seq): bare, it would sort by the text aliases.
    const sql = `SELECT h.tx::text AS tx, h.seq::text AS seq, h.run_id, h.chain, h.entries, h.tx >= b.xmin AS hidden
      FROM ${this.sql.historyTable} h, (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) b
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY h.tx, h.seq LIMIT ${param(limit + 1)}`;
    const read = async () => {
      const events: StoredEvent[] = [];
      for (const row of await this.query<HistoryRow & { hidden: boolean }>(sql, params)) {
        if (row.hidden) return { events, hidden: row.tx };
        const entries = JSON.parse(row.entries) as HistoryEntry[];
        const first = after && row.tx === after[0] && row.seq === after[1];
        for (let i = 0; i < entries.length && events.length < limit; i++) {
          if (first && i <= after[2]) continue;
          events.push({ cursor: eventCursor(row.tx, row.seq, i), runId: row.run_id, chain: row.chain, entry: entries[i] as HistoryEntry });
        }
        if (events.length >= limit) break;
      }
      return { events, hidden: undefined };
    };
    const page = await read();
    if (page.hidden === undefined || page.events.length >= limit) return page.events;
    // A committed row waits behind an older transaction still running (anywhere on the server).
    // Wait a little for it to end (5 ms doubling, 155 ms in all), so that a reader right after a
    // commit finds it while other work goes on; past that, the page ends before it.
    for (let waitMs = 5; waitMs <= HIDDEN_WAIT_MAX_MS; waitMs *= 2) {
      await sleep(waitMs);
      const [barrier] = await this.query<{ passed: boolean }>('SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8 AS passed', [page.hidden]);
      if (barrier?.passed === true) return (await read()).events;
    }
    return page.events;
  }

  /**
   * The newest row of a transaction older than every transaction still running: each row that
   * commits later sorts after it (see `events()`), so nothing after the cursor is missed.
   */
  async lastEventCursor(): Promise<string | undefined> {
    await this.open();
    const [row] = await this.query<{ tx: string; seq: string; count: number }>(
      `SELECT h.tx::text AS tx, h.seq::text AS seq, json_array_length(h.entries::json) AS count
         FROM ${this.sql.historyTable} h WHERE h.tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY h.tx DESC, h.seq DESC LIMIT 1`,
      [],
    );
    return row ? eventCursor(row.tx, row.seq, Math.max(0, row.count - 1)) : undefined;
  }

  async claimOutbox(claimant: Claimant, limit: number): Promise<OutboxEntry[]> {
    checkClaimant(claimant, 'postgresStore');
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

  async recordDefinitions(records: readonly ChainDefinitionRecord[]): Promise<void> {
    await this.open();
    checkDefinitionRecords(records, 'postgresStore');
    if (records.length === 0) return;
    const column = <T>(pick: (r: ChainDefinitionRecord) => T) => records.map(pick);
    await this.query(this.sql.recordDefinitions, [
      column((r) => r.chain),
      column((r) => r.version),
      column((r) => r.fingerprint),
      column((r) => JSON.stringify(r.definition)),
      column((r) => r.recordedAt),
    ]);
  }

  async definitions(query: DefinitionQuery = {}): Promise<ChainDefinitionRecord[]> {
    await this.open();
    assertKnownKeys(query, ['chain'], 'postgresStore: definitions');
    const rows =
      query.chain === undefined
        ? await this.query<DefinitionRow>(this.sql.definitions, [])
        : await this.query<DefinitionRow>(this.sql.chainDefinitions, [query.chain]);
    return rows.map((row) => ({ chain: row.chain, version: row.version, fingerprint: row.fingerprint, definition: JSON.parse(row.definition) as unknown, recordedAt: Number(row.recorded_at) }));
  }

  /**
   * Calls `listener` soon after any process commits events to this schema's log, through
   * LISTEN/NOTIFY on one connection of its own (opened while at least one listener is registered,
   * reconnected with backoff when it drops; an empty hint follows each reconnection). Best
   * effort: keep a slow poll as the safety net. Returns the function that stops the listener.
   */
  watch(listener: (change: StoreChange) => void): () => void {
    if (this.closed) return () => undefined;
    return this.watcher.add(listener);
  }

  /** @internal For tests: the server pid of the LISTEN connection while it is up. */
  get watchBackendPid(): number | undefined {
    return this.watcher.backendPid;
  }

  /** Ends the store's own pool (a `pool` you gave stays open) and its LISTEN connection. Later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    await this.sweeping;
    await this.watcher.close();
    await this.migrated.catch(() => undefined);
    if (this.ownsPool) await this.pool.end();
    else this.pool.off('error', this.onPoolError);
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
