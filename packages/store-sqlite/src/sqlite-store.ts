import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { InvalidOptionError, StoreBusyError, StoreLostError, TaskchartError, type RunQuery, type Store } from '@taskchart/core';
import { assertKnownKeys, checkClaimant, checkDefinitionRecords, checkPageLimit, fromJsonColumn, parseRunListCursor, runFromRow, runListCursor, toJsonColumn, type ChainDefinitionRecord, type Claimant, type DefinitionQuery, type EventQuery, type HistoryEntry, type OutboxEntry, type PublishOptions, type RunPage, type RunRecord, type RunRow, type RunWrite, type StoredEvent, type WriteResult } from '@taskchart/core/adapter';
import { isBusy, NATIVE_BUSY_TIMEOUT_MS, whileBusy, type BusyWait } from './sqlite-busy.js';
import { hold, identify, isHeld, sameFile, type FileIdentity } from './sqlite-file.js';
import { BackgroundCheckpointer } from './sqlite-checkpointer.js';
import { definitionStatements, type DefinitionStatements } from './sqlite-definitions.js';
import { prepareSchema } from './sqlite-migrate.js';

export interface SqliteStoreOptions {
  /**
   * SQLite's `synchronous` pragma. `'NORMAL'` with WAL survives a process crash (a commit is in
   * the WAL before it returns) but may lose the last commits on a power loss; `'FULL'` survives
   * both, at a cost in commits per second. @defaultValue 'NORMAL'
   */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long a call waits for a lock another connection holds, in milliseconds, from 0 to
   * 3,600,000 (an hour); then it rejects with a `StoreBusyError` and writes nothing. The wait
   * does not block the event loop: SQLite itself waits at most 5 ms per try, and the store tries
   * again after a pause (1 ms doubling to 25 ms). @defaultValue 5000
   */
  busyTimeoutMs?: number;
}

const OPTION_KEYS = ['synchronous', 'busyTimeoutMs'];
/**
 * WAL pages between automatic checkpoints by the connection that commits: 16 MB of 4 KB pages. Only
 * where no background checkpointer runs (`:memory:`, or the thread failed); with one, the
 * connection's own checkpoint is a backstop four times further (the thread falling behind cannot
 * grow the WAL without bound).
 */
const WAL_AUTOCHECKPOINT_PAGES = 4_000;
const WAL_BACKSTOP_PAGES = 16_000;
const BUSY_TIMEOUT_MAX_MS = 3_600_000;

interface HistoryRow {
  seq: number;
  run_id: string;
  chain: string;
  entries: string;
}

interface OutboxRow {
  id: number;
  run_id: string;
  queue: string | null;
  body: string;
  options: string | null;
}

/** `insertRun`'s parameters, in the order of its columns. */
type RunInsertParams = [
  id: string,
  chain: string,
  status: string,
  version: number,
  step: string | null,
  attempt: number,
  totalAttempts: number,
  snapshot: string,
  input: string | null,
  output: string | null,
  error: string | null,
  failedTask: string | null,
  waiting: string,
  createdAt: number,
  updatedAt: number,
];
/** `updateRun`'s and `updateRunKeepStatus`'s parameters: the columns set, the status, then the row matched. */
type RunUpdateParams = [
  version: number,
  step: string | null,
  attempt: number,
  totalAttempts: number,
  snapshot: string,
  output: string | null,
  error: string | null,
  failedTask: string | null,
  waiting: string,
  updatedAt: number,
  status: string,
  id: string,
  expectedVersion: number,
];

/** What a write with no outbox entries or no history returns (shared: read, never changed). */
const NO_ENTRIES: readonly OutboxEntry[] = Object.freeze([]);
const NO_CURSORS: readonly string[] = Object.freeze([]);

const json = toJsonColumn;
const parse = fromJsonColumn;
/** What a synchronous step threw, as a rejection (the guards and SQLite throw `Error`s). */
const rejection = (error: unknown): Promise<never> => Promise.reject(error instanceof Error ? error : new Error(String(error)));

function toOutboxEntry(o: OutboxRow): OutboxEntry {
  const options = parse<PublishOptions>(o.options);
  return { id: o.id, runId: o.run_id, queue: o.queue, body: o.body, ...(options ? { options } : {}) };
}

/**
 * Event cursors are `seq:index` (the history row, the entry in it), zero-padded so that they
 * also order as strings.
 */
const eventCursor = (seq: number, index: number) => `${String(seq).padStart(16, '0')}:${String(index).padStart(4, '0')}`;
/** The `:index` ends of the cursors a write returns, made once: most writes hold a few entries. */
const CURSOR_ENDS = Array.from({ length: 16 }, (_, i) => `:${String(i).padStart(4, '0')}`);
/** The cursors of a history row's `count` entries: its `seq` part padded once, not once per entry. */
function rowCursors(seq: number, count: number): string[] {
  const head = String(seq).padStart(16, '0');
  const cursors = new Array<string>(count);
  for (let i = 0; i < count; i++) cursors[i] = i < CURSOR_ENDS.length ? head + (CURSOR_ENDS[i] as string) : eventCursor(seq, i);
  return cursors;
}
function parseEventCursor(cursor: string): [number, number] {
  const m = /^(\d{1,16}):(\d{1,6})$/.exec(cursor);
  if (!m) throw new InvalidOptionError('sqliteStore: events: after', `must be a cursor this store returned, got ${JSON.stringify(cursor)}`);
  return [Number(m[1]), Number(m[2])];
}


/**
 * The embedded default store: one SQLite file in WAL mode (better-sqlite3). A batch of writes
 * commits in one transaction, so many transitions share one fsync-free WAL append.
 *
 * Several processes on one host may share one file (a web process and its workers): writes are
 * compare-and-swap on the run's version, outbox entries are claimed with a lease, and a call that
 * meets another process's lock waits for it (`busyTimeoutMs`) without blocking the event loop.
 * Within one process, one store per file: opening a second store on a file a store of this
 * process holds open throws (share the store object instead). Before every write the store checks
 * that its file is still the one at its path; once it is not (deleted, its folder removed,
 * replaced), every call rejects with a `StoreLostError`. A version 1 file is upgraded in place
 * when it is opened.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  /** The file's absolute path (`":memory:"` for an in-memory database). */
  readonly path: string;
  private readonly stmts;
  private readonly commitBatch: Database.Transaction<(writes: readonly RunWrite[], claimant: Claimant) => WriteResult[]>;
  private readonly deleteRanges: Database.Transaction<(ranges: ReadonlyArray<readonly [number, number]>) => void>;
  private readonly busy: BusyWait;
  /** `updateRun`'s parameters, filled in place by each update (see `applyWrite`). */
  private readonly updateParams: RunUpdateParams = [0, null, 0, 0, '', null, null, null, '', 0, '', '', 0];
  /** The file opened, and how to release it; undefined for `:memory:`. */
  private readonly file: { readonly identity: FileIdentity; readonly release: () => void } | undefined;
  /** Writes waiting for another connection's lock, in call order: later writes queue behind. */
  private writeTail: Promise<unknown> | undefined;
  private closed = false;
  private lost: string | undefined;
  private readonly chains: DefinitionStatements;
  /** Checkpoints the WAL off the main thread (files only). */
  private readonly checkpointer: BackgroundCheckpointer | undefined;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidOptionError('sqliteStore: path', 'must be a file path (or ":memory:")');
    assertKnownKeys(options, OPTION_KEYS, 'sqliteStore');
    const synchronous = options.synchronous ?? 'NORMAL';
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new InvalidOptionError('sqliteStore: synchronous', `must be 'NORMAL' or 'FULL', got ${String(synchronous)}`);
    const busy = options.busyTimeoutMs ?? 5_000;
    if (!Number.isInteger(busy) || busy < 0 || busy > BUSY_TIMEOUT_MAX_MS) {
      throw new InvalidOptionError('sqliteStore: busyTimeoutMs', `must be a whole number of milliseconds between 0 and ${BUSY_TIMEOUT_MAX_MS} (an hour), got ${String(busy)}`);
    }
    const inMemory = path === ':memory:';
    this.path = inMemory ? path : resolve(path);
    const before = inMemory ? undefined : identify(this.path);
    if (before && isHeld(before)) {
      throw new InvalidOptionError(
        'sqliteStore: path',
        `${this.path} is already open by another sqliteStore of this process: give every runtime of the process that one store object (or close it first); two stores on one file re-dispatch each other's steps`,
      );
    }

    this.db = new Database(this.path);
    try {
      // Opening waits for the lock as long as allowed (it runs once, before any work).
      this.db.pragma(`busy_timeout = ${busy}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${synchronous}`);
      // Checkpoint every WAL_AUTOCHECKPOINT_PAGES instead of SQLite's 1,000: a checkpoint copies each
      // page once however often it was rewritten since the last one, and the pages transitions
      // rewrite (history and outbox index leaves, active runs) are rewritten in nearly every
      // commit. Durability is the same: a commit is in the WAL before it returns either way.
      this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      prepareSchema(this.db, this.path);
      // From here on, SQLite's own (event-loop blocking) wait stays short; see `whileBusy`.
      this.db.pragma(`busy_timeout = ${Math.min(busy, NATIVE_BUSY_TIMEOUT_MS)}`);
      const identity = inMemory ? undefined : identify(this.path);
      if (!inMemory && !identity) throw new StoreLostError(this.path, 'the file disappeared while it was being opened');
      this.file = identity && { identity, release: hold(identity, { isOpen: () => !this.closed && this.db.open }) };
    } catch (error) {
      this.db.close();
      throw error;
    }
    if (!inMemory) {
      this.db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
      // When the thread cannot checkpoint, this connection does it again, as it would without one.
      this.checkpointer = new BackgroundCheckpointer(this.path, () => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      });
    }
    this.busy = {
      timeoutMs: busy,
      beforeTry: () => this.assertOpen(),
      timedOut: () => new StoreBusyError(this.path, busy),
    };

    const db = this.db;
    this.stmts = {
      // Positional parameters throughout the write path: binding by name costs a lookup per key
      // and a parameter object per call.
      insertRun: db.prepare<[RunInsertParams]>(
        `INSERT INTO taskchart_runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, output, error, failed_task, waiting, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      ),
      // Most transitions keep the run's status: this update leaves `status` out of its SET list, so
      // SQLite does not rewrite the run's entry in the status index. It matches only a run that has
      // the new status already (and the expected version); otherwise `updateRun` does the write.
      updateRunKeepStatus: db.prepare<[RunUpdateParams]>(
        `UPDATE taskchart_runs SET version = ?, step = ?, attempt = ?, total_attempts = ?, snapshot = ?, output = ?, error = ?, failed_task = ?, waiting = ?, updated_at = ?
         WHERE status = ? AND id = ? AND version = ?`,
      ),
      updateRun: db.prepare<[RunUpdateParams]>(
        `UPDATE taskchart_runs SET version = ?, step = ?, attempt = ?, total_attempts = ?, snapshot = ?, output = ?, error = ?, failed_task = ?, waiting = ?, updated_at = ?, status = ?
         WHERE id = ? AND version = ?`,
      ),
      insertHistory: db.prepare('INSERT INTO taskchart_history (run_id, chain, at, entries) VALUES (?, ?, ?, ?)'),
      insertOutbox: db.prepare('INSERT INTO taskchart_outbox (run_id, queue, body, options, claimed_by, claimed_until) VALUES (?, ?, ?, ?, ?, ?)'),
      claimOutbox: db.prepare<{ owner: string; now: number; until: number; limit: number }, OutboxRow>(
        `UPDATE taskchart_outbox SET claimed_by = @owner, claimed_until = @until
         WHERE id IN (SELECT id FROM taskchart_outbox WHERE claimed_until <= @now ORDER BY id LIMIT @limit)
         RETURNING id, run_id, queue, body, options`,
      ),
      claimTaskOutbox: db.prepare<{ owner: string; now: number; until: number; limit: number }, OutboxRow>(
        `UPDATE taskchart_outbox SET claimed_by = @owner, claimed_until = @until
         WHERE id IN (SELECT id FROM taskchart_outbox WHERE claimed_until <= @now AND queue IS NOT NULL ORDER BY id LIMIT @limit)
         RETURNING id, run_id, queue, body, options`,
      ),
      deleteOutbox: db.prepare('DELETE FROM taskchart_outbox WHERE id = ?'),
      deleteOutboxRange: db.prepare('DELETE FROM taskchart_outbox WHERE id BETWEEN ? AND ?'),
      load: db.prepare<[string], RunRow>('SELECT * FROM taskchart_runs WHERE id = ?'),
      history: db.prepare<[string], Pick<HistoryRow, 'entries'>>('SELECT entries FROM taskchart_history WHERE run_id = ? ORDER BY seq'),
      lastEvent: db.prepare<[], { seq: number; count: number }>('SELECT seq, json_array_length(entries) AS count FROM taskchart_history ORDER BY seq DESC LIMIT 1'),
    };

    this.chains = definitionStatements(db);
    this.commitBatch = db.transaction((writes: readonly RunWrite[], claimant: Claimant) => writes.map((w) => this.applyWrite(w, claimant)));
    this.deleteRanges = db.transaction((ranges: ReadonlyArray<readonly [number, number]>) => {
      for (const [start, end] of ranges) {
        if (start === end) this.stmts.deleteOutbox.run(start);
        else this.stmts.deleteOutboxRange.run(start, end);
      }
    });
  }

  private applyWrite(write: RunWrite, claimant: Claimant): WriteResult {
    const r = write.record;
    const step = r.step ?? null;
    const snapshot = JSON.stringify(r.snapshot);
    const output = json(r.output);
    const error = json(r.error);
    const failedTask = r.failedTask ?? null;
    const waiting = r.waiting.length === 0 ? '[]' : JSON.stringify(r.waiting);
    if (write.expectedVersion === null) {
      const params: RunInsertParams = [r.id, r.chain, r.status, r.version, step, r.attempt, r.totalAttempts, snapshot, json(r.input), output, error, failedTask, waiting, r.createdAt, r.updatedAt];
      if (this.stmts.insertRun.run(params).changes === 0) return { ok: false, reason: 'exists' };
    } else {
      // `input` never changes after the insert: not stringified nor written again. One parameter
      // array for every update (the statements run synchronously), filled in place.
      const params = this.updateParams;
      params[0] = r.version;
      params[1] = step;
      params[2] = r.attempt;
      params[3] = r.totalAttempts;
      params[4] = snapshot;
      params[5] = output;
      params[6] = error;
      params[7] = failedTask;
      params[8] = waiting;
      params[9] = r.updatedAt;
      params[10] = r.status;
      params[11] = r.id;
      params[12] = write.expectedVersion;
      if (this.stmts.updateRunKeepStatus.run(params).changes === 0 && this.stmts.updateRun.run(params).changes === 0) return { ok: false, reason: 'conflict' };
    }
    if (write.settles) for (const id of write.settles) this.stmts.deleteOutbox.run(id);
    const cursors = write.history.length > 0 ? rowCursors(Number(this.stmts.insertHistory.run(r.id, r.chain, r.updatedAt, JSON.stringify(write.history)).lastInsertRowid), write.history.length) : NO_CURSORS;
    if (write.outbox.length === 0) return { ok: true, outbox: NO_ENTRIES, cursors };
    const until = claimant.now + claimant.leaseMs;
    const outbox: OutboxEntry[] = [];
    for (const o of write.outbox) {
      // A hook entry (queue null) is claimed only by a committer that calls hooks; else it waits for one that does.
      const claim = o.queue !== null || claimant.hooks;
      const id = Number(this.stmts.insertOutbox.run(r.id, o.queue, o.body, json(o.options), claim ? claimant.owner : null, claim ? until : 0).lastInsertRowid);
      if (claim) outbox.push({ id, runId: r.id, queue: o.queue, body: o.body, ...(o.options ? { options: o.options } : {}) });
    }
    return { ok: true, outbox, cursors };
  }

  private assertOpen(): void {
    if (this.closed) throw new TaskchartError(`sqliteStore: ${this.path} is closed`);
    if (this.lost !== undefined) throw new StoreLostError(this.path, this.lost);
  }

  /** Throws (and refuses every later call) once the file at the store's path is not the one it opened. */
  private assertFileKept(): void {
    if (!this.file) return;
    let now: FileIdentity | undefined;
    try {
      now = identify(this.path);
      if (!now) this.lost = 'the file was deleted (or its folder removed) while the store had it open';
      else if (!sameFile(now, this.file.identity)) this.lost = 'the file at this path is not the one the store opened (it was replaced)';
    } catch (error) {
      this.lost = `the file can no longer be checked (${error instanceof Error ? error.message : String(error)})`;
    }
    if (this.lost !== undefined) throw new StoreLostError(this.path, this.lost);
  }

  /** A read; waits without blocking while another connection holds a lock that stops it. */
  private read<T>(op: () => T): Promise<T> {
    this.assertOpen();
    try {
      return Promise.resolve(op());
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
    return whileBusy(op, this.busy, true);
  }

  /**
   * A write (one `BEGIN IMMEDIATE` transaction, so a lock held elsewhere fails it before it
   * writes anything and it is retried whole). While one write waits for the lock, later writes
   * queue behind it, so writes commit in call order.
   */
  private write<T>(op: () => T): Promise<T> {
    let triedOnce = false;
    if (this.writeTail === undefined) {
      try {
        return Promise.resolve(this.guarded(op));
      } catch (error) {
        if (!isBusy(error)) return rejection(error);
        triedOnce = true;
      }
    }
    const guarded = () => this.guarded(op);
    const result = (this.writeTail ?? Promise.resolve()).then(() => whileBusy(guarded, this.busy, triedOnce));
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.writeTail = tail;
    void tail.then(() => {
      if (this.writeTail === tail) this.writeTail = undefined;
    });
    return result;
  }

  /** A write's guards, then the write. */
  private guarded<T>(op: () => T): T {
    this.assertOpen();
    this.assertFileKept();
    return op();
  }

  // Not `async`: the promise `write` returns goes back as it is (an async function would settle one
  // more promise with it, two microtask turns later), and a refusal is a rejection all the same.
  commit(writes: readonly RunWrite[], claimant: Claimant): Promise<WriteResult[]> {
    try {
      this.assertOpen();
      checkClaimant(claimant, 'sqliteStore');
    } catch (error) {
      return rejection(error);
    }
    if (writes.length === 0) return Promise.resolve([]);
    return this.write(() => this.commitBatch.immediate(writes, claimant));
  }

  async load(id: string): Promise<RunRecord | undefined> {
    return this.read(() => {
      const row = this.stmts.load.get(id);
      return row ? runFromRow(row) : undefined;
    });
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return this.read(() => this.stmts.history.all(id).flatMap((h) => JSON.parse(h.entries) as HistoryEntry[]));
  }

  /** Newest first, by (created_at DESC, id); `next` resumes after the last run of the page. */
  async list(query: RunQuery = {}): Promise<RunPage> {
    this.assertOpen();
    const limit = checkPageLimit(query.limit, 'sqliteStore', 'list: limit');
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.status && query.status.length > 0) {
      where.push(`status IN (${query.status.map(() => '?').join(', ')})`);
      params.push(...query.status);
    }
    if (query.chain !== undefined) {
      where.push('chain = ?');
      params.push(query.chain);
    }
    if (query.createdAfter !== undefined) {
      where.push('created_at >= ?');
      params.push(query.createdAfter);
    }
    if (query.createdBefore !== undefined) {
      where.push('created_at < ?');
      params.push(query.createdBefore);
    }
    if (query.cursor !== undefined) {
      const [createdAt, id] = parseRunListCursor(query.cursor, 'sqliteStore');
      where.push('(created_at < ? OR (created_at = ? AND id > ?))');
      params.push(createdAt, createdAt, id);
    }
    const sql = `SELECT * FROM taskchart_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ?`;
    return this.read(() => {
      const runs = (this.db.prepare(sql).all(...params, limit + 1) as RunRow[]).map(runFromRow);
      const more = runs.length > limit;
      if (more) runs.length = limit;
      const last = runs[runs.length - 1];
      return more && last ? { runs, next: runListCursor(last) } : { runs };
    });
  }

  /**
   * The event log, oldest first. SQLite commits one write at a time, so a history row with a
   * higher `seq` is never visible before a lower one: following the log never skips an event.
   */
  async events(query: EventQuery = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const limit = checkPageLimit(query.limit, 'sqliteStore', 'events: limit');
    const [afterSeq, afterIndex] = query.after !== undefined ? parseEventCursor(query.after) : [0, -1];
    const where = ['seq >= ?'];
    const params: unknown[] = [afterSeq];
    if (query.runId !== undefined) {
      where.push('run_id = ?');
      params.push(query.runId);
    }
    if (query.chain !== undefined) {
      where.push('chain = ?');
      params.push(query.chain);
    }
    // Every row holds at least one entry; one more row covers the entries skipped in the first.
    const sql = `SELECT seq, run_id, chain, entries FROM taskchart_history WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`;
    return this.read(() => {
      const events: StoredEvent[] = [];
      for (const row of this.db.prepare(sql).all(...params, limit + 1) as HistoryRow[]) {
        const entries = JSON.parse(row.entries) as HistoryEntry[];
        for (let i = 0; i < entries.length && events.length < limit; i++) {
          if (row.seq === afterSeq && i <= afterIndex) continue;
          events.push({ cursor: eventCursor(row.seq, i), runId: row.run_id, chain: row.chain, entry: entries[i] as HistoryEntry });
        }
        if (events.length >= limit) break;
      }
      return events;
    });
  }

  /** Writes commit one at a time, in `seq` order: the newest row's last entry. */
  async lastEventCursor(): Promise<string | undefined> {
    return this.read(() => {
      const row = this.stmts.lastEvent.get();
      return row ? eventCursor(row.seq, Math.max(0, row.count - 1)) : undefined;
    });
  }

  async claimOutbox(claimant: Claimant, limit: number): Promise<OutboxEntry[]> {
    this.assertOpen();
    checkClaimant(claimant, 'sqliteStore');
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidOptionError('sqliteStore: claimOutbox: limit', `must be a whole number >= 1, got ${String(limit)}`);
    const params = { owner: claimant.owner, now: claimant.now, until: claimant.now + claimant.leaseMs, limit };
    const stmt = claimant.hooks ? this.stmts.claimOutbox : this.stmts.claimTaskOutbox;
    // One UPDATE statement: atomic, so two processes claiming at once never get one entry both.
    const rows = await this.write(() => stmt.all(params));
    return rows.sort((a, b) => a.id - b.id).map(toOutboxEntry);
  }

  async deferOutbox(owner: string, ids: readonly number[], until: number): Promise<void> {
    this.assertOpen();
    if (ids.length === 0) return;
    if (!Number.isFinite(until)) throw new InvalidOptionError('sqliteStore: deferOutbox: until', `must be epoch milliseconds, got ${String(until)}`);
    const sql = `UPDATE taskchart_outbox SET claimed_until = ? WHERE claimed_by = ? AND id IN (${ids.map(() => '?').join(', ')})`;
    await this.write(() => this.db.prepare(sql).run(until, owner, ...ids));
  }

  async deleteOutbox(ids: readonly number[]): Promise<void> {
    this.assertOpen();
    if (ids.length === 0) return;
    // Published ids come in runs of consecutive numbers: delete each run with one statement.
    const sorted = [...ids].sort((a, b) => a - b);
    const ranges: Array<[number, number]> = [];
    for (const id of sorted) {
      const last = ranges[ranges.length - 1];
      if (last && id <= last[1] + 1) last[1] = Math.max(last[1], id);
      else ranges.push([id, id]);
    }
    return this.write(() => this.deleteRanges.immediate(ranges));
  }

  async recordDefinitions(records: readonly ChainDefinitionRecord[]): Promise<void> {
    this.assertOpen();
    checkDefinitionRecords(records, 'sqliteStore');
    if (records.length === 0) return;
    await this.write(() => this.chains.record.immediate(records));
  }

  async definitions(query: DefinitionQuery = {}): Promise<ChainDefinitionRecord[]> {
    assertKnownKeys(query, ['chain'], 'sqliteStore: definitions');
    return this.read(() => this.chains.list(query));
  }

  /** Closes the database and releases the file (a new store may open it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.file?.release();
    await this.checkpointer?.close();
    this.db.close();
  }
}

/**
 * Opens (creating if needed, upgrading a version 1 file) a SQLite store at `path` (or
 * `":memory:"`). Throws an `InvalidOptionError` naming the path when a store of this process
 * already holds the file, and one naming the key for an unknown option.
 */
export function sqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}
