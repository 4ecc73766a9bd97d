import Database from 'better-sqlite3';
import { InvalidOptionError, TaskchartError, type SerializedError } from '../errors.js';
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
import { SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';

export interface SqliteStoreOptions {
  /**
   * SQLite's `synchronous` pragma. `'NORMAL'` with WAL survives a process crash (a commit is in
   * the WAL before it returns) but may lose the last commits on a power loss; `'FULL'` survives
   * both, at a cost in commits per second. @defaultValue 'NORMAL'
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a write waits for another process's lock. @defaultValue 5000 */
  busyTimeoutMs?: number;
}

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
 * or machines sharing runs, use a server-backed store.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly commitBatch: (writes: readonly RunWrite[]) => WriteResult[];
  private closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidOptionError('sqliteStore: path', 'must be a file path (or ":memory:")');
    const synchronous = options.synchronous ?? 'NORMAL';
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new InvalidOptionError('sqliteStore: synchronous', `must be 'NORMAL' or 'FULL', got ${String(synchronous)}`);
    const busy = options.busyTimeoutMs ?? 5_000;
    if (!Number.isInteger(busy) || busy < 0) throw new InvalidOptionError('sqliteStore: busyTimeoutMs', `must be a whole number >= 0, got ${busy}`);

    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.pragma(`busy_timeout = ${busy}`);
    this.db.exec(SCHEMA_SQL);
    const found = this.db.prepare<[], { value: string }>("SELECT value FROM taskchart_meta WHERE key = 'schema_version'").get();
    if (!found) {
      this.db.prepare("INSERT OR IGNORE INTO taskchart_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    } else if (Number(found.value) !== SCHEMA_VERSION) {
      throw new TaskchartError(`sqliteStore: ${path} has schema version ${found.value}; this version of Taskchart reads version ${SCHEMA_VERSION}`);
    }

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
    if (this.closed) throw new TaskchartError('sqliteStore is closed');
  }

  async commit(writes: readonly RunWrite[]): Promise<WriteResult[]> {
    this.assertOpen();
    if (writes.length === 0) return [];
    return this.commitBatch(writes);
  }

  async load(id: string): Promise<RunRecord | undefined> {
    this.assertOpen();
    const row = this.stmts.load.get(id);
    return row ? toRecord(row) : undefined;
  }

  async history(id: string): Promise<HistoryEntry[]> {
    this.assertOpen();
    return this.stmts.history.all(id).flatMap((h) => JSON.parse(h.entries) as HistoryEntry[]);
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
    return (this.db.prepare(sql).all(...params, limit) as RunRow[]).map(toRecord);
  }

  async outbox(limit: number): Promise<OutboxEntry[]> {
    this.assertOpen();
    return this.stmts.outbox.all(limit).map((o) => {
      const options = parse<PublishOptions>(o.options);
      return { id: o.id, runId: o.run_id, queue: o.queue, body: o.body, ...(options ? { options } : {}) };
    });
  }

  async deleteOutbox(ids: readonly number[]): Promise<void> {
    this.assertOpen();
    if (ids.length === 0) return;
    // Published ids come in runs of consecutive numbers: delete each run with one statement.
    const sorted = [...ids].sort((a, b) => a - b);
    this.db.transaction(() => {
      let start = sorted[0] as number;
      let end = start;
      for (let i = 1; i <= sorted.length; i++) {
        const id = sorted[i];
        if (id === end + 1) {
          end = id;
          continue;
        }
        if (start === end) this.stmts.deleteOutbox.run(start);
        else this.stmts.deleteOutboxRange.run(start, end);
        if (id !== undefined) start = end = id;
      }
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Opens (creating if needed) a SQLite store at `path`. */
export function sqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}
