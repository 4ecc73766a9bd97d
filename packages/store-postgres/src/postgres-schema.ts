/**
 * The Postgres schema, as versioned migrations applied in order inside the store's own schema
 * (`search_path` is set to it while they run, so the SQL names no schema). JSON values are kept
 * in `text`, not `jsonb`: they round-trip byte for byte (jsonb reorders keys and rejects the
 * `\u0000` escape a task output may hold), writing them costs no parse, and nothing queries into
 * them. Times are epoch milliseconds (`bigint`), as the port gives them.
 *
 * `history` holds one row per transition (its entries as a JSON array). Its event-log order is
 * `(tx, seq)`: the writing transaction's id, then the row's bigserial. `events()` reads only rows
 * of transactions older than every transaction still running, so a follower never reads past a
 * row that commits later (a bare `seq` can commit out of order across connections).
 *
 * Frozen: `test/fixtures/schema.sql` holds the committed shape; a test fails when the migrated
 * schema drifts from it without a new migration here.
 */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE runs (
  id text PRIMARY KEY,
  chain text NOT NULL,
  status text NOT NULL,
  version integer NOT NULL,
  step text,
  attempt integer NOT NULL,
  total_attempts integer NOT NULL,
  snapshot text NOT NULL,
  input text,
  output text,
  error text,
  failed_task text,
  waiting text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX runs_created ON runs (created_at DESC, id);
CREATE INDEX runs_status ON runs (status, created_at DESC, id);
CREATE INDEX runs_chain ON runs (chain, created_at DESC, id);
CREATE TABLE history (
  seq bigserial PRIMARY KEY,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  run_id text NOT NULL,
  chain text NOT NULL,
  at bigint NOT NULL,
  entries text NOT NULL
);
CREATE INDEX history_order ON history (tx, seq);
CREATE INDEX history_run ON history (run_id, tx, seq);
CREATE INDEX history_chain ON history (chain, tx, seq);
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  run_id text NOT NULL,
  queue text,
  body text NOT NULL,
  options text,
  claimed_by text,
  claimed_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX outbox_claim ON outbox (claimed_until, id);
`,
  },
  {
    // Each chain version's machine definition, for tools that draw runs without the chain's code.
    version: 2,
    sql: `
CREATE TABLE chains (
  chain text NOT NULL,
  version integer NOT NULL,
  fingerprint text NOT NULL,
  definition text NOT NULL,
  recorded_at bigint NOT NULL,
  PRIMARY KEY (chain, version, fingerprint)
);
`,
  },
];

/** The version the newest migration brings a schema to. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
