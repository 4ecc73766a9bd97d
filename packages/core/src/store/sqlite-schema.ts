/**
 * The SQLite schema. `taskchart_history` holds one row per transition (its entries as a JSON
 * array): one insert per step instead of one per entry. `taskchart_runs_status` is keyed on
 * `created_at`, which never changes, so updates that keep the status do not touch the index.
 * Frozen: `test/fixtures/sqlite-schema.sql` holds the committed copy and a
 * test fails when this drifts without a new `SCHEMA_VERSION` and a migration.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS taskchart_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS taskchart_runs (
  id TEXT PRIMARY KEY,
  chain TEXT NOT NULL,
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  step TEXT,
  attempt INTEGER NOT NULL,
  snapshot TEXT NOT NULL,
  input TEXT,
  output TEXT,
  error TEXT,
  failed_task TEXT,
  pending TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS taskchart_runs_status ON taskchart_runs (status, created_at);
CREATE TABLE IF NOT EXISTS taskchart_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  entries TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS taskchart_history_run ON taskchart_history (run_id, seq);
CREATE TABLE IF NOT EXISTS taskchart_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  queue TEXT,
  body TEXT NOT NULL,
  options TEXT
);
`;
