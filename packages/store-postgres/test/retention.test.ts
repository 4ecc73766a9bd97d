/**
 * Housekeeping on the real server, time injected: finished runs and their history go once their
 * status's keep time has passed, in batches, by themselves every `retention.every`; nothing else
 * goes (active, parked, kept statuses, runs with outbox entries left); one process sweeps at a
 * time; a row a worker holds is skipped, not waited for.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@taskchart/core/testing';
import type { Claimant, RunRecord, RunStatus, RunWrite } from '@taskchart/core/adapter';
import { postgresStore, type PostgresStore, type PostgresStoreOptions } from '../src/index.js';
import { PG_URL, pgTestScope } from './pg-test.js';

const scope = pgTestScope('retention');
const stores: PostgresStore[] = [];
const clients: pg.Client[] = [];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const open = (clock: ManualClock, over: Partial<PostgresStoreOptions> = {}) => {
  const store = postgresStore({ connectionString: PG_URL, schema: scope.schema(), applicationName: scope.applicationName, poolSize: 4, clock, ...over });
  stores.push(store);
  return store;
};
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => scope.cleanup());

const claimant: Claimant = { owner: 'w', now: 0, leaseMs: 1_000, hooks: true };
const write = (id: string, status: RunStatus, finishedAt: number, outbox: RunWrite['outbox'] = []): RunWrite => {
  const record: RunRecord = {
    id,
    chain: 'c',
    status,
    version: 1,
    step: undefined,
    attempt: 1,
    totalAttempts: 1,
    waiting: [],
    snapshot: {},
    input: null,
    createdAt: finishedAt - 1_000,
    updatedAt: finishedAt,
  };
  return { record, expectedVersion: null, history: [{ at: finishedAt, type: 'run.started' }], outbox };
};

async function ids(store: PostgresStore): Promise<string[]> {
  const rows = await scope.query<{ id: string }>(`SELECT id FROM ${pg.escapeIdentifier(store.schema)}.runs ORDER BY id`);
  return rows.map((r) => r.id);
}
async function historyRuns(store: PostgresStore): Promise<string[]> {
  const rows = await scope.query<{ run_id: string }>(`SELECT DISTINCT run_id FROM ${pg.escapeIdentifier(store.schema)}.history ORDER BY run_id`);
  return rows.map((r) => r.run_id);
}

describe('postgres store: retention', () => {
  it('rejects bad retention options, naming the option and its range', () => {
    const clock = new ManualClock();
    const bad = (retention: unknown) => () => postgresStore({ connectionString: PG_URL, clock, retention } as PostgresStoreOptions);
    expect(bad({ complete: '1d' })).toThrow(/postgresStore: retention: complete: unknown option; did you mean "completed"/);
    expect(bad({ failed: '3 parsecs' })).toThrow(/postgresStore: retention: failed/);
    expect(bad({ completed: '1d', every: '10ms' })).toThrow(/postgresStore: retention: every: must be from 1s to 1d/);
    expect(bad({ completed: '1d', batchSize: 0 })).toThrow(/postgresStore: retention: batchSize: must be a whole number from 1 to 10000, got 0/);
    expect(() => postgresStore({ connectionString: PG_URL, clock: {} as ManualClock })).toThrow(/postgresStore: clock: must be a Clock/);
  });

  it('deletes, in batches, exactly the finished runs past their keep time, with their history', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    const store = open(clock, { retention: { completed: '1h', failed: '1d', batchSize: 3 } });
    const writes = [
      ...Array.from({ length: 8 }, (_, i) => write(`old-completed-${i}`, 'completed', now - 2 * HOUR - i)),
      write('new-completed', 'completed', now - HOUR / 2),
      write('old-failed', 'failed', now - 2 * DAY),
      write('new-failed', 'failed', now - 2 * HOUR),
      // compensated has no keep time: kept forever; active and parked runs are never swept.
      write('old-compensated', 'compensated', now - 100 * DAY),
      write('old-running', 'running', now - 100 * DAY),
      write('old-parked', 'parked', now - 100 * DAY),
      // A hook call still waiting in the outbox keeps its run.
      write('old-completed-hook', 'completed', now - 2 * DAY, [{ queue: null, body: '{}' }]),
    ];
    expect((await store.commit(writes, claimant)).every((r) => r.ok)).toBe(true);
    const result = await store.purge();
    expect(result).toEqual({ deleted: { completed: 8, failed: 1 }, busy: false });
    const kept = ['new-completed', 'new-failed', 'old-compensated', 'old-completed-hook', 'old-parked', 'old-running'].sort();
    expect(await ids(store)).toEqual(kept);
    expect(await historyRuns(store)).toEqual(kept);
    // Nothing more is due now.
    expect(await store.purge()).toEqual({ deleted: { completed: 0, failed: 0 }, busy: false });
  });

  it('sweeps by itself every `retention.every` on its clock', async () => {
    const clock = new ManualClock();
    const store = open(clock, { retention: { completed: '1h', every: '5m' } });
    await store.ready();
    expect((await store.commit([write('done', 'completed', clock.now())], claimant))[0]?.ok).toBe(true);
    await clock.advance(5 * 60_000);
    expect(await ids(store)).toEqual(['done']);
    await clock.advance(HOUR);
    // Sweeps run on the server in real time while the manual clock moves on, a period at a time.
    for (const started = Date.now(); (await ids(store)).length > 0; ) {
      if (Date.now() - started > 20_000) throw new Error('the sweep on the clock did not delete the finished run');
      await new Promise((r) => setTimeout(r, 50));
      await clock.advance(5 * 60_000);
    }
    expect(await historyRuns(store)).toEqual([]);
  });

  it('lets one process sweep at a time, and skips rows a worker holds instead of waiting', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    const store = open(clock, { retention: { completed: '0s' } });
    expect((await store.commit([write('a', 'completed', now - 1), write('b', 'completed', now - 1)], claimant)).every((r) => r.ok)).toBe(true);
    const other = new pg.Client({ connectionString: PG_URL, application_name: scope.applicationName });
    clients.push(other);
    await other.connect();
    // Another process sweeping: this one skips its turn.
    await other.query('BEGIN');
    await other.query("SELECT pg_advisory_xact_lock(hashtext('taskchart.retention'), hashtext($1))", [store.schema]);
    expect(await store.purge()).toEqual({ deleted: { completed: 0 }, busy: true });
    await other.query('ROLLBACK');
    // A worker holding run "a" (its row locked in an open transaction): "b" goes, "a" waits for the next sweep.
    await other.query('BEGIN');
    await other.query(`SELECT id FROM ${pg.escapeIdentifier(store.schema)}.runs WHERE id = 'a' FOR UPDATE`);
    expect(await store.purge()).toEqual({ deleted: { completed: 1 }, busy: false });
    expect(await ids(store)).toEqual(['a']);
    await other.query('COMMIT');
    expect(await store.purge()).toEqual({ deleted: { completed: 1 }, busy: false });
    expect(await ids(store)).toEqual([]);
  });
});
