import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { InvalidOptionError, StoreBusyError, StoreLostError, TaskchartError, type SerializedError } from '../errors.js';
import type { PublishOptions } from '../ports/broker.js';
import type {
  HistoryEntry,
  OutboxEntry,
  PendingMessage,
  RunQuery,
  RunRecord,
  RunStatus,
  RunWrite,
  Store,
  WriteResult,
} from '../ports/store.js';
import { isBusy, NATIVE_BUSY_TIMEOUT_MS, whileBusy, type BusyWait } from './sqlite-busy.js';
import { hold, identify, isHeld, sameFile, type FileIdentity } from './sqlite-file.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';

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

const BUSY_TIMEOUT_MAX_MS = 3_600_000;

interface RunRow {
  id: string;
  chain: string;
  status: string;
  version: number;
  step: string | null;
  attempt: number;
  snapshot: string;
  input: string | null;
  output: string | null;
  error: string | null;
  failed_task: string | null;
  pending: string;
  created_at: number;
  updated_at: number;
}

interface HistoryRow {
  entries: string;
}

interface OutboxRow {
  id: number;
  run_id: string;
  queue: string | null;
  body: string;
  options: string | null;
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const parse = <T>(text: string | null): T | undefined => (text === null ? undefined : (JSON.parse(text) as T));

function toRecord(row: RunRow): RunRecord {
  const output = parse<unknown>(row.output);
  const error = parse<SerializedError>(row.error);
  return {
    id: row.id,
    chain: row.chain,
    status: row.status as RunStatus,
    version: row.version,
    step: row.step ?? undefined,
    attempt: row.attempt,
    snapshot: JSON.parse(row.snapshot) as unknown,
    input: parse<unknown>(row.input),
    ...(row.output !== null ? { output } : {}),
    ...(error ? { error } : {}),
    ...(row.failed_task !== null ? { failedTask: row.failed_task } : {}),
    pending: JSON.parse(row.pending) as PendingMessage[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The embedded default store: one SQLite file in WAL mode (better-sqlite3). A batch of writes
 * commits in one transaction, so many transitions share one fsync-free WAL append.
 *
 * One machine, one writer process at a time is what SQLite serves well; for several processes
 * or machines sharing runs, use a server-backed store. Within one process, one store per file:
 * opening a second store on a file a store of this process holds open throws (share the store
 * object instead). Before every write the store checks that its file is still the one at its
 * path; once it is not (deleted, its folder removed, replaced), every call rejects with a
 * `StoreLostError`.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  /** The file's absolute path (`":memory:"` for an in-memory database). */
  readonly path: string;
  private readonly stmts;
  private readonly commitBatch: Database.Transaction<(writes: readonly RunWrite[]) => WriteResult[]>;
  private readonly deleteRanges: Database.Transaction<(ranges: ReadonlyArray<readonly [number, number]>) => void>;
  private readonly busy: BusyWait;
  /** The file opened, and how to release it; undefined for `:memory:`. */
  private readonly file: { readonly identity: FileIdentity; readonly release: () => void } | undefined;
  /** Writes waiting for another connection's lock, in call order: later writes queue behind. */
  private writeTail: Promise<unknown> | undefined;
  private closed = false;
  private lost: string | undefined;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidOptionError('sqliteStore: path', 'must be a file path (or ":memory:")');
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
      this.db.exec(SCHEMA_SQL);
      const found = this.db.prepare<[], { value: string }>("SELECT value FROM taskchart_meta WHERE key = 'schema_version'").get();
      if (!found) {
        this.db.prepare("INSERT OR IGNORE INTO taskchart_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
      } else if (Number(found.value) !== SCHEMA_VERSION) {
        throw new TaskchartError(`sqliteStore: ${this.path} has schema version ${found.value}; this version of Taskchart reads version ${SCHEMA_VERSION}`);
      }
      // From here on, SQLite's own (event-loop blocking) wait stays short; see `whileBusy`.
      this.db.pragma(`busy_timeout = ${Math.min(busy, NATIVE_BUSY_TIMEOUT_MS)}`);
      const identity = inMemory ? undefined : identify(this.path);
      if (!inMemory && !identity) throw new StoreLostError(this.path, 'the file disappeared while it was being opened');
      this.file = identity && { identity, release: hold(identity, { isOpen: () => !this.closed && this.db.open }) };
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.busy = {
      timeoutMs: busy,
      beforeTry: () => this.assertOpen(),
      timedOut: () => new StoreBusyError(this.path, busy),
    };

    const db = this.db;
    this.stmts = {
      insertRun: db.prepare(
        `INSERT INTO taskchart_runs (id, chain, status, version, step, attempt, snapshot, input, output, error, failed_task, pending, created_at, updated_at)
         VALUES (@id, @chain, @status, @version, @step, @attempt, @snapshot, @input, @output, @error, @failed_task, @pending, @created_at, @updated_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      updateRun: db.prepare(
        `UPDATE taskchart_runs SET status = @status, version = @version, step = @step, attempt = @attempt, snapshot = @snapshot,
           output = @output, error = @error, failed_task = @failed_task, pending = @pending, updated_at = @updated_at
         WHERE id = @id AND version = @expected`,
      ),
      insertHistory: db.prepare('INSERT INTO taskchart_history (run_id, at, entries) VALUES (?, ?, ?)'),
      insertOutbox: db.prepare('INSERT INTO taskchart_outbox (run_id, queue, body, options) VALUES (?, ?, ?, ?)'),
      deleteOutbox: db.prepare('DELETE FROM taskchart_outbox WHERE id = ?'),
      deleteOutboxRange: db.prepare('DELETE FROM taskchart_outbox WHERE id BETWEEN ? AND ?'),
      load: db.prepare<[string], RunRow>('SELECT * FROM taskchart_runs WHERE id = ?'),
      history: db.prepare<[string], HistoryRow>('SELECT entries FROM taskchart_history WHERE run_id = ? ORDER BY seq'),
      outbox: db.prepare<[number], OutboxRow>('SELECT * FROM taskchart_outbox ORDER BY id LIMIT ?'),
    };

    this.commitBatch = db.transaction((writes: readonly RunWrite[]) => writes.map((w) => this.applyWrite(w)));
    this.deleteRanges = db.transaction((ranges: ReadonlyArray<readonly [number, number]>) => {
      for (const [start, end] of ranges) {
        if (start === end) this.stmts.deleteOutbox.run(start);
        else this.stmts.deleteOutboxRange.run(start, end);
      }
    });
  }

  private applyWrite(write: RunWrite): WriteResult {
    const r = write.record;
    const row = {
      id: r.id,
      chain: r.chain,
      status: r.status,
      version: r.version,
      step: r.step ?? null,
      attempt: r.attempt,
      snapshot: JSON.stringify(r.snapshot),
      input: json(r.input),
      output: json(r.output),
      error: json(r.error),
      failed_task: r.failedTask ?? null,
      pending: JSON.stringify(r.pending),
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    };
    if (write.expectedVersion === null) {
      if (this.stmts.insertRun.run(row).changes === 0) return { ok: false, reason: 'exists' };
    } else if (this.stmts.updateRun.run({ ...row, expected: write.expectedVersion }).changes === 0) {
      return { ok: false, reason: 'conflict' };
    }
    if (write.history.length > 0) this.stmts.insertHistory.run(r.id, r.updatedAt, JSON.stringify(write.history));
    const outbox: OutboxEntry[] = write.outbox.map((o) => {
      const id = Number(this.stmts.insertOutbox.run(r.id, o.queue, o.body, json(o.options)).lastInsertRowid);
      return { id, runId: r.id, queue: o.queue, body: o.body, ...(o.options ? { options: o.options } : {}) };
    });
    return { ok: true, outbox };
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
    const guarded = () => {
      this.assertOpen();
      this.assertFileKept();
      return op();
    };
    let triedOnce = false;
    if (this.writeTail === undefined) {
      try {
        return Promise.resolve(guarded());
      } catch (error) {
        if (!isBusy(error)) throw error;
        triedOnce = true;
      }
    }
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

  async commit(writes: readonly RunWrite[]): Promise<WriteResult[]> {
    this.assertOpen();
    if (writes.length === 0) return [];
    return this.write(() => this.commitBatch.immediate(writes));
  }

  async load(id: string): Promise<RunRecord | undefined> {
    return this.read(() => {
      const row = this.stmts.load.get(id);
      return row ? toRecord(row) : undefined;
    });
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return this.read(() => this.stmts.history.all(id).flatMap((h) => JSON.parse(h.entries) as HistoryEntry[]));
  }

  async list(query: RunQuery = {}): Promise<RunRecord[]> {
    this.assertOpen();
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
    const limit = query.limit ?? 100;
    const sql = `SELECT * FROM taskchart_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ?`;
    return this.read(() => (this.db.prepare(sql).all(...params, limit) as RunRow[]).map(toRecord));
  }

  async outbox(limit: number): Promise<OutboxEntry[]> {
    return this.read(() =>
      this.stmts.outbox.all(limit).map((o) => {
        const options = parse<PublishOptions>(o.options);
        return { id: o.id, runId: o.run_id, queue: o.queue, body: o.body, ...(options ? { options } : {}) };
      }),
    );
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

  /** Closes the database and releases the file (a new store may open it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.file?.release();
    this.db.close();
  }
}

/**
 * Opens (creating if needed) a SQLite store at `path` (or `":memory:"`). Throws an
 * `InvalidOptionError` naming the path when a store of this process already holds the file.
 */
export function sqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}
