/**
 * What is particular to Postgres (the contract suites cover the port): options, migrations under
 * the advisory lock, the frozen schema, an event log that never skips a row committed late,
 * claims that never overlap across pools, and batches that never deadlock.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@taskchart/core';
import { type Claimant, type RunRecord, type RunWrite } from '@taskchart/core/adapter';
import { MIGRATIONS } from '../src/postgres-schema.js';
import { SCHEMA_VERSION, postgresStore, type PostgresStore, type PostgresStoreOptions } from '../src/index.js';
import { PG_URL, pgTestScope } from './pg-test.js';
import { dumpSchema } from './schema-dump.js';

const scope = pgTestScope('store');
const stores: PostgresStore[] = [];
const open = (over: Partial<PostgresStoreOptions> = {}) => {
  const store = postgresStore({ connectionString: PG_URL, schema: scope.schema(), applicationName: scope.applicationName, poolSize: 4, ...over });
  stores.push(store);
  return store;
};
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => scope.cleanup());

const claimant = (owner: string, now = 0): Claimant => ({ owner, now, leaseMs: 1_000, hooks: false });
const record = (id: string, version = 1): RunRecord => ({
  id,
  chain: 'c',
  status: 'running',
  version,
  step: 'a',
  attempt: 1,
  totalAttempts: version,
  waiting: [],
  snapshot: { v: version },
  input: null,
  createdAt: 1_000,
  updatedAt: 1_000 + version,
});
const write = (id: string, version: number, outbox = 1): RunWrite => ({
  record: record(id, version),
  expectedVersion: version === 1 ? null : version - 1,
  history: [{ at: version, type: 'step.started', step: 'a', task: 't', attempt: version }],
  outbox: Array.from({ length: outbox }, (_, i) => ({ queue: 'q', body: `${id}:${version}:${i}` })),
});

describe('postgres store', () => {
  it('rejects bad options, naming the option and its range', () => {
    const bad = (options: unknown) => () => postgresStore(options as PostgresStoreOptions);
    expect(bad({ connectionString: PG_URL, poolsize: 3 })).toThrow(/postgresStore: poolsize: unknown option; did you mean "poolSize"/);
    expect(bad({ connectionString: PG_URL, poolSize: 0 })).toThrow(/postgresStore: poolSize: must be a whole number from 1 to 1000, got 0/);
    expect(bad({ connectionString: PG_URL, schema: 'Task-Chart' })).toThrow(/postgresStore: schema: must be a lower-case identifier of 1 to 63 characters/);
    expect(bad({ connectionString: PG_URL, schema: 'a'.repeat(64) })).toThrow(InvalidOptionError);
    expect(bad({})).toThrow(/postgresStore: connectionString: must be a postgres:\/\/ URL \(or give `pool`\)/);
    const pool = new pg.Pool({ connectionString: PG_URL });
    expect(bad({ pool, connectionString: PG_URL })).toThrow(/postgresStore: pool: give `pool` or `connectionString`, not both/);
    expect(bad({ pool, poolSize: 2 })).toThrow(/postgresStore: poolSize: applies to the pool the store opens/);
    expect(bad({ connectionString: PG_URL, applicationName: '' })).toThrow(/postgresStore: applicationName: must be a string of 1 to 63 characters/);
    expect(bad({ connectionString: PG_URL, listenConnectionString: '' })).toThrow(/postgresStore: listenConnectionString: must be a postgres:\/\/ URL/);
    expect(bad({ connectionString: PG_URL, logger: { warn: () => undefined } })).toThrow(/postgresStore: logger: must be an object with warn\(message, details\) and error\(message, details\)/);
    return pool.end();
  });

  it('keeps the frozen schema (add a migration to change it)', async () => {
    const store = open();
    await store.ready();
    expect(SCHEMA_VERSION).toBe(2);
    expect(await dumpSchema(scope, store.schema)).toBe(readFileSync(new URL('./fixtures/schema.sql', import.meta.url), 'utf8'));
    const versions = await scope.query<{ version: number }>(`SELECT version FROM ${pg.escapeIdentifier(store.schema)}.schema_version`);
    expect(versions).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it('upgrades a version 1 schema: its runs stay, the chain definitions table is added', async () => {
    const schema = scope.schema();
    const name = pg.escapeIdentifier(schema);
    await scope.query(`CREATE SCHEMA ${name}`);
    await scope.query(`SET search_path TO ${name}; ${MIGRATIONS[0]?.sql ?? ''}; CREATE TABLE schema_version (single boolean PRIMARY KEY DEFAULT true CHECK (single), version integer NOT NULL); INSERT INTO schema_version (version) VALUES (1); RESET search_path`);
    await scope.query(`INSERT INTO ${name}.runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, waiting, created_at, updated_at)
                       VALUES ('kept', 'c', 'completed', 3, NULL, 1, 2, '{"value":"completed","context":{}}', '1', '[]', 5, 6)`);
    const store = open({ schema });
    expect(await store.load('kept')).toMatchObject({ id: 'kept', status: 'completed', version: 3 });
    expect(await dumpSchema(scope, schema)).toBe(readFileSync(new URL('./fixtures/schema.sql', import.meta.url), 'utf8'));
    await store.recordDefinitions([{ chain: 'c', version: 1, fingerprint: 'f', definition: { machine: {} }, recordedAt: 7 }]);
    expect(await store.definitions({ chain: 'c' })).toEqual([{ chain: 'c', version: 1, fingerprint: 'f', definition: { machine: {} }, recordedAt: 7 }]);
  });

  it('lets ten stores start at once on a fresh schema: one migrates, all succeed', async () => {
    const schema = scope.schema();
    const ten = Array.from({ length: 10 }, () => open({ schema, poolSize: 1 }));
    const results = await Promise.allSettled(ten.map((s) => s.ready()));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await scope.query(`SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_version`)).toEqual([{ version: SCHEMA_VERSION }]);
    // And they share it: what one writes, another reads.
    expect((await ten[0]?.commit([write('shared', 1)], claimant('a')))?.[0]).toMatchObject({ ok: true });
    expect((await ten[9]?.load('shared'))?.version).toBe(1);
  });

  it('refuses a schema newer than it knows, and opens it again once it is known', async () => {
    const first = open();
    await first.ready();
    await scope.query(`UPDATE ${pg.escapeIdentifier(first.schema)}.schema_version SET version = ${SCHEMA_VERSION + 1}`);
    const second = open({ schema: first.schema });
    await expect(second.ready()).rejects.toThrow(`postgresStore: schema "${first.schema}" has version ${SCHEMA_VERSION + 1}; this version of Taskchart reads up to version ${SCHEMA_VERSION}`);
    await expect(second.load('x')).rejects.toThrow(/has version/);
  });

  it('never gives an event before one that commits later with a lower seq', async () => {
    const store = open();
    await store.ready();
    // Another connection's transaction takes seq n and stays open while the store commits n+1.
    const other = new pg.Client({ connectionString: PG_URL, application_name: scope.applicationName });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO ${pg.escapeIdentifier(store.schema)}.history (run_id, chain, at, entries) VALUES ('early', 'c', 1, $1)`, [
        JSON.stringify([{ at: 1, type: 'run.started' }]),
      ]);
      expect((await store.commit([write('late', 1)], claimant('a')))[0]).toMatchObject({ ok: true });
      // The later commit is held back while the earlier transaction may still commit.
      expect(await store.events()).toEqual([]);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    expect((await store.events()).map((e) => e.runId)).toEqual(['early', 'late']);
  });

  it('never gives one outbox entry to two stores claiming at once (SKIP LOCKED)', async () => {
    const writer = open();
    await writer.commit(
      Array.from({ length: 50 }, (_, i) => write(`r${String(i).padStart(2, '0')}`, 1, 4)),
      claimant('dead', 0),
    );
    const claimers = Array.from({ length: 4 }, () => open({ schema: writer.schema, poolSize: 2 }));
    const claimed = await Promise.all(
      claimers.map(async (s, k) => {
        const mine: number[] = [];
        for (let batch = await s.claimOutbox(claimant(`c${k}`, 10_000), 7); batch.length > 0; batch = await s.claimOutbox(claimant(`c${k}`, 10_000), 7)) {
          mine.push(...batch.map((e) => e.id));
        }
        return mine;
      }),
    );
    const all = claimed.flat();
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
  });

  it('commits batches that touch the same runs in opposite orders without a deadlock', async () => {
    const a = open();
    await a.ready();
    const b = open({ schema: a.schema });
    const ids = Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, '0')}`);
    await a.commit(ids.map((id) => write(id, 1, 0)), claimant('a'));
    for (let round = 2; round <= 6; round++) {
      const forward = ids.map((id) => write(id, round, 0));
      const [x, y] = await Promise.all([a.commit(forward, claimant('a')), b.commit([...forward].reverse(), claimant('b'))]);
      // Each run moved once: exactly one of the two batches won it.
      for (let i = 0; i < ids.length; i++) expect([x[i]?.ok, y[ids.length - 1 - i]?.ok].filter(Boolean)).toHaveLength(1);
    }
    expect((await a.load('d00'))?.version).toBe(6);
  });

  it('leaves a pool it was given open on close, and refuses calls after close', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, application_name: scope.applicationName, max: 2 });
    try {
      const store = postgresStore({ pool, schema: scope.schema() });
      await store.ready();
      await store.close();
      await expect(store.load('x')).rejects.toThrow(/postgresStore: the store on schema ".*" is closed/);
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
