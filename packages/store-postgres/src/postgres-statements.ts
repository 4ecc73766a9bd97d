/**
 * The store's fixed SQL statements, for one schema, in one place (the store runs them; the
 * client benchmark measures them). With `prepared`, each is a named statement: Postgres parses
 * and plans it once per connection instead of on every call (1.6 to 2.3 times the commits per
 * second in `bench/clients.ts`). Names carry a hash of the schema, so two stores on one pool never
 * share a name for different text, and stay within Postgres's 63-byte identifiers.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

/** A statement as `pg` takes it: with a name when prepared. */
export interface Statement {
  readonly text: string;
  readonly name?: string;
}

export interface StoreStatements {
  readonly insertRun: Statement;
  readonly updateRun: Statement;
  readonly insertHistory: Statement;
  readonly insertOutbox: Statement;
  /** Claims outbox entries; with `hooks` also the `onFailure` calls (queue `null`). */
  readonly claimOutbox: (hooks: boolean) => Statement;
  readonly deferOutbox: Statement;
  readonly deleteOutbox: Statement;
  readonly notify: Statement;
  readonly load: Statement;
  readonly history: Statement;
  readonly recordDefinitions: Statement;
  readonly definitions: Statement;
  readonly chainDefinitions: Statement;
  /** The qualified table names, for the statements built per query (listing, the event log). */
  readonly runs: string;
  readonly historyTable: string;
}

export function storeStatements(schema: string, channel: string, prepared: boolean): StoreStatements {
  const s = pg.escapeIdentifier(schema);
  const tag = createHash('sha256').update(schema).digest('hex').slice(0, 12);
  const named = (key: string, text: string): Statement => (prepared ? { text, name: `tc_${tag}_${key}` } : { text });
  const claim = (hooks: boolean) =>
    named(
      hooks ? 'claim_all' : 'claim_tasks',
      `UPDATE ${s}.outbox o SET claimed_by = $1, claimed_until = $3
         FROM (SELECT id FROM ${s}.outbox WHERE claimed_until <= $2 ${hooks ? '' : 'AND queue IS NOT NULL'} ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) c
         WHERE o.id = c.id RETURNING o.id::text AS id, o.run_id, o.queue, o.body, o.options`,
    );
  const claims = { true: claim(true), false: claim(false) };
  return {
    insertRun: named(
      'insert_run',
      `INSERT INTO ${s}.runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, output, error, failed_task, waiting, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING`,
    ),
    updateRun: named(
      'update_run',
      `UPDATE ${s}.runs SET status = $3, version = $4, step = $5, attempt = $6, total_attempts = $7, snapshot = $8,
           output = $9, error = $10, failed_task = $11, waiting = $12, updated_at = $13
         WHERE id = $1 AND version = $2`,
    ),
    insertHistory: named('insert_history', `INSERT INTO ${s}.history (run_id, chain, at, entries) VALUES ($1, $2, $3, $4) RETURNING tx::text AS tx, seq::text AS seq`),
    insertOutbox: named(
      'insert_outbox',
      `INSERT INTO ${s}.outbox (run_id, queue, body, options, claimed_by, claimed_until)
         SELECT $1, o.queue, o.body, o.options, CASE WHEN o.claim THEN $2 END, CASE WHEN o.claim THEN $3::bigint ELSE 0 END
         FROM unnest($4::text[], $5::text[], $6::text[], $7::boolean[]) WITH ORDINALITY AS o(queue, body, options, claim, n)
         ORDER BY o.n RETURNING id::text AS id, queue, body, options, claimed_by`,
    ),
    claimOutbox: (hooks) => (hooks ? claims.true : claims.false),
    deferOutbox: named('defer_outbox', `UPDATE ${s}.outbox SET claimed_until = $1 WHERE claimed_by = $2 AND id = ANY($3::bigint[])`),
    deleteOutbox: named('delete_outbox', `DELETE FROM ${s}.outbox WHERE id = ANY($1::bigint[])`),
    notify: named('notify', `SELECT pg_notify(${pg.escapeLiteral(channel)}, p) FROM unnest($1::text[]) AS p`),
    load: named('load', `SELECT * FROM ${s}.runs WHERE id = $1`),
    history: named('history', `SELECT entries FROM ${s}.history WHERE run_id = $1 ORDER BY tx, seq`),
    recordDefinitions: named(
      'record_definitions',
      `INSERT INTO ${s}.chains (chain, version, fingerprint, definition, recorded_at)
         SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::bigint[]) ON CONFLICT DO NOTHING`,
    ),
    definitions: named('definitions', `SELECT * FROM ${s}.chains ORDER BY chain, version DESC, recorded_at DESC`),
    chainDefinitions: named('chain_definitions', `SELECT * FROM ${s}.chains WHERE chain = $1 ORDER BY version DESC, recorded_at DESC`),
    runs: `${s}.runs`,
    historyTable: `${s}.history`,
  };
}
