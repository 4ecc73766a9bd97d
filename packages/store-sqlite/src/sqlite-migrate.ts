/**
 * Opening a file: creates the schema in a new file, upgrades an older version in place, refuses
 * a version this code does not know. All of it in one `BEGIN IMMEDIATE` transaction, so two
 * processes opening one file at once neither create nor migrate it twice, and a crash mid-way
 * leaves the file as it was.
 */
import type Database from 'better-sqlite3';
import { TaskchartError } from '@taskchart/core';
import { type HistoryEntry, type PublishOptions, type WaitingFor } from '@taskchart/core/adapter';
import { CHAINS_SQL, SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';

/** Brings the file at `db` to `SCHEMA_VERSION`. `path` names the file in errors. */
export function prepareSchema(db: Database.Database, path: string): void {
  db.transaction(() => {
    const version = schemaVersion(db);
    if (version === undefined) {
      db.exec(SCHEMA_SQL);
      db.prepare("INSERT INTO taskchart_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    } else if (version === 1 || version === 2) {
      if (version === 1) migrateV1(db);
      // Version 3 adds the chain definitions table.
      db.exec(CHAINS_SQL);
      db.prepare("UPDATE taskchart_meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
    } else if (version !== SCHEMA_VERSION) {
      throw new TaskchartError(`sqliteStore: ${path} has schema version ${version}; this version of Taskchart reads version ${SCHEMA_VERSION} (and upgrades versions 1 and 2)`);
    }
  }).immediate();
}

const tableExists = (db: Database.Database, name: string) =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

/** The file's schema version; undefined for a file without Taskchart's tables. */
function schemaVersion(db: Database.Database): number | undefined {
  if (tableExists(db, 'taskchart_meta')) {
    const found = db.prepare<[], { value: string }>("SELECT value FROM taskchart_meta WHERE key = 'schema_version'").get();
    if (found) return Number(found.value);
  }
  // Version 1 created its tables before it wrote its version: a crash in between left this.
  if (!tableExists(db, 'taskchart_runs')) return undefined;
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('taskchart_runs')").all();
  if (columns.some((c) => c.name === 'pending')) {
    db.prepare("INSERT INTO taskchart_meta (key, value) VALUES ('schema_version', '1')").run();
    return 1;
  }
  return undefined;
}

interface V1Run {
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

/** What version 1 kept of a message a run waited on (`RunRecord.pending`). */
interface V1Pending {
  queue: string;
  body: string;
  options?: PublishOptions;
  dueAt?: number;
}

const TERMINAL = new Set(['completed', 'failed', 'compensated']);

/**
 * Version 1 to 2: `pending`/`step`/`attempt` become `waiting`, `total_attempts` is counted from
 * the history, history rows gain their run's `chain` (their `seq`, the event-log cursor, is kept),
 * outbox entries start unclaimed. The tables are rebuilt (renamed, created anew, copied, dropped)
 * so the file ends with exactly the schema a new file gets.
 */
function migrateV1(db: Database.Database): void {
  const sequences = new Map(
    db.prepare<[], { name: string; seq: number }>("SELECT name, seq FROM sqlite_sequence WHERE name IN ('taskchart_history', 'taskchart_outbox')").all().map((s) => [s.name, s.seq]),
  );
  db.exec(`
    DROP INDEX IF EXISTS taskchart_runs_status;
    DROP INDEX IF EXISTS taskchart_history_run;
    ALTER TABLE taskchart_runs RENAME TO taskchart_v1_runs;
    ALTER TABLE taskchart_history RENAME TO taskchart_v1_history;
    ALTER TABLE taskchart_outbox RENAME TO taskchart_v1_outbox;
  `);
  db.exec(SCHEMA_SQL);

  const historyOf = db.prepare<[string], { entries: string }>('SELECT entries FROM taskchart_v1_history WHERE run_id = ? ORDER BY seq');
  const insertRun = db.prepare(
    `INSERT INTO taskchart_runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, output, error, failed_task, waiting, created_at, updated_at)
     VALUES (@id, @chain, @status, @version, @step, @attempt, @total_attempts, @snapshot, @input, @output, @error, @failed_task, @waiting, @created_at, @updated_at)`,
  );
  for (const run of db.prepare<[], V1Run>('SELECT * FROM taskchart_v1_runs').all()) {
    const history = historyOf.all(run.id).flatMap((h) => JSON.parse(h.entries) as HistoryEntry[]);
    const { pending, ...rest } = run;
    insertRun.run({
      ...rest,
      total_attempts: history.filter((e) => e.type === 'step.started' || e.type === 'compensation.started').length,
      waiting: JSON.stringify(TERMINAL.has(run.status) ? [] : waitingOf(run, JSON.parse(pending) as V1Pending[], history)),
    });
  }
  db.exec(`
    INSERT INTO taskchart_history (seq, run_id, chain, at, entries)
      SELECT h.seq, h.run_id, COALESCE(r.chain, ''), h.at, h.entries
      FROM taskchart_v1_history h LEFT JOIN taskchart_v1_runs r ON r.id = h.run_id ORDER BY h.seq;
    INSERT INTO taskchart_outbox (id, run_id, queue, body, options)
      SELECT id, run_id, queue, body, options FROM taskchart_v1_outbox ORDER BY id;
    DROP TABLE taskchart_v1_runs;
    DROP TABLE taskchart_v1_history;
    DROP TABLE taskchart_v1_outbox;
  `);
  // Ids and seqs are never reused, even where version 1 had deleted the last ones.
  for (const [name, seq] of sequences) {
    const updated = db.prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?').run(seq, name);
    if (updated.changes === 0) db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(name, seq);
  }
}

/**
 * What a version 1 run waits for. From the copies of its messages when version 1 kept them (a
 * runtime on a non-durable broker), with the message; otherwise from its last `*.started` or
 * `*.retrying` history entry, which is what the decider wrote when it dispatched.
 */
export function waitingOf(run: Pick<V1Run, 'status' | 'step' | 'attempt'>, pending: readonly V1Pending[], history: readonly HistoryEntry[]): WaitingFor[] {
  const fromPending: WaitingFor[] = [];
  for (const p of pending) {
    const message = { queue: p.queue, body: p.body, options: p.options ?? {} };
    let m: { kind?: unknown; step?: unknown; attempt?: unknown; compensation?: unknown; dueAt?: unknown };
    try {
      m = JSON.parse(p.body) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.attempt !== 'number') continue;
    if (m.kind === 'task' && typeof m.step === 'string') {
      fromPending.push({ kind: m.compensation === true ? 'compensation' : 'step', step: m.step, attempt: m.attempt, message });
    } else if (m.kind === 'timer') {
      const dueAt = typeof m.dueAt === 'number' ? m.dueAt : p.dueAt;
      fromPending.push({ kind: 'timer', step: run.step ?? '', attempt: m.attempt, ...(dueAt !== undefined ? { dueAt } : {}), message });
    }
  }
  if (fromPending.length > 0) return fromPending;

  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (!e || e.step === undefined || e.attempt === undefined) continue;
    if (e.type === 'step.started') return [{ kind: 'step', step: e.step, attempt: e.attempt }];
    if (e.type === 'compensation.started') return [{ kind: 'compensation', step: e.step, attempt: e.attempt }];
    if (e.type === 'step.retrying' || e.type === 'compensation.retrying') {
      return [{ kind: 'timer', step: e.step, attempt: e.attempt, ...(e.delayMs !== undefined ? { dueAt: e.at + e.delayMs } : {}) }];
    }
  }
  // No history to go by: the status and the step/attempt columns.
  if (run.step === null) return [];
  if (run.status === 'running') return [{ kind: 'step', step: run.step, attempt: run.attempt }];
  if (run.status === 'compensating') return [{ kind: 'compensation', step: run.step, attempt: run.attempt }];
  if (run.status === 'retrying') return [{ kind: 'timer', step: run.step, attempt: run.attempt }];
  return [];
}
