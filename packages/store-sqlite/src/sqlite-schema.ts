/**
 * The SQLite schema (version 3). `taskchart_history` holds one row per transition (its entries
 * as a JSON array): one insert per step instead of one per entry; its `seq` orders the event log
 * (a cursor is `seq:index`), and its `chain` lets `events({ chain })` read without a join.
 * The run indexes are keyed on `created_at`, which never changes, so updates that keep the status
 * do not touch them; they serve `list()`'s keyset paging on (created_at DESC, id). Outbox entries
 * carry their claim (`claimed_by`, `claimed_until`, epoch ms; 0 = never claimed).
 * `taskchart_chains` (version 3) records each chain version's machine definition, for tools that
 * draw runs without the chain's code.
 *
 * Frozen: `test/fixtures/sqlite-schema-v3.sql` holds the committed copy (and
 * `sqlite-schema-v1.sql`, `-v2.sql` the versions it migrates from); a test fails when this drifts without
 * a new `SCHEMA_VERSION` and a migration in `sqlite-migrate.ts`.
 */
export const SCHEMA_VERSION = 3;

/** Version 3's addition: one row per (chain, version, fingerprint) recorded. */
export const CHAINS_SQL = `CREATE TABLE IF NOT EXISTS taskchart_chains (
  chain TEXT NOT NULL,
  version INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  definition TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  PRIMARY KEY (chain, version, fingerprint)
);
`;

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
  total_attempts INTEGER NOT NULL,
  snapshot TEXT NOT NULL,
  input TEXT,
  output TEXT,
  error TEXT,
  failed_task TEXT,
  waiting TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS taskchart_runs_created ON taskchart_runs (created_at DESC, id);
CREATE INDEX IF NOT EXISTS taskchart_runs_status ON taskchart_runs (status, created_at DESC, id);
CREATE INDEX IF NOT EXISTS taskchart_runs_chain ON taskchart_runs (chain, created_at DESC, id);
CREATE TABLE IF NOT EXISTS taskchart_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  chain TEXT NOT NULL,
  at INTEGER NOT NULL,
  entries TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS taskchart_history_run ON taskchart_history (run_id, seq);
CREATE INDEX IF NOT EXISTS taskchart_history_chain ON taskchart_history (chain, seq);
CREATE TABLE IF NOT EXISTS taskchart_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  queue TEXT,
  body TEXT NOT NULL,
  options TEXT,
  claimed_by TEXT,
  claimed_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS taskchart_outbox_claim ON taskchart_outbox (claimed_until, id);
${CHAINS_SQL}`;
