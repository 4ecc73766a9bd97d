/**
 * Failure reports are never lost (issue 8, item 3): a worker is SIGKILLed inside its `onFailure`
 * hook while a hook-less producer process shares the SQLite file and sweeps the outbox. The
 * hook-less process never takes the report; the restarted worker delivers it exactly once more.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { chain, createRuntime, NonRetryableError, task, type Runtime, type Store } from '@taskchart/core';
import { type Claimant } from '@taskchart/core/adapter';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { query, spawnFixture, until, type Spawned } from './processes.js';

const WORKER = fileURLToPath(new URL('../fixtures/hook-worker.ts', import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];
const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const r of runtimes.splice(0)) await r.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function startWorker(db: string, hooks: string, mode: 'start' | 'resume'): Spawned {
  return spawnFixture(WORKER, [db, hooks, mode], children);
}

/** Counts the outbox sweeps of `inner` made after `since()` (epoch ms, claimant time). */
function countingSweeps(inner: Store, since: () => number): { store: Store; sweeps: () => number } {
  let sweeps = 0;
  const store: Store = {
    commit: (writes, claimant) => inner.commit(writes, claimant),
    load: (id) => inner.load(id),
    history: (id) => inner.history(id),
    list: (q) => inner.list(q),
    events: (q) => inner.events(q),
    claimOutbox: async (claimant: Claimant, limit) => {
      const claimed = await inner.claimOutbox(claimant, limit);
      if (claimant.now > since()) sweeps++;
      return claimed;
    },
    deferOutbox: (owner, ids, until) => inner.deferOutbox(owner, ids, until),
    deleteOutbox: (ids) => inner.deleteOutbox(ids),
    recordDefinitions: (r) => inner.recordDefinitions(r),
    definitions: (q) => inner.definitions(q),
    lastEventCursor: () => inner.lastEventCursor(),
    close: () => inner.close(),
  };
  return { store, sweeps: () => sweeps };
}

// The same definition as the worker's (a producer must know the chains it reads).
const charge = task('charge', (_input: { amount: number }): { paid: boolean } => {
  throw new NonRetryableError('card declined');
});
const payment = chain('payment', charge);

describe('a worker killed inside its onFailure hook, with a hook-less producer sharing the store', () => {
  it('the report is delivered once more by the restarted worker; the producer never takes it', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-hook-crash-'));
    dirs.push(dir);
    const db = join(dir, 'runs.db');
    const hooks = join(dir, 'hooks.db');

    const first = startWorker(db, hooks, 'start');
    await until(() => query(hooks, "SELECT 1 FROM hooks WHERE phase = 'entered'").length === 1, 30_000, 'the first worker to enter its hook');
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();

    // A producer without any onFailure hook sweeps the outbox well past the dead worker's 1 s lease.
    const counted = countingSweeps(sqliteStore(db), () => killedAt + 1500);
    const producer = createRuntime({ broker: memoryBroker(), store: counted.store, chains: [payment], queues: [], outboxSweep: '50ms', logger: silentLogger });
    runtimes.push(producer);
    await producer.start();
    await until(() => counted.sweeps() >= 5, 30_000, 'the producer to sweep after the lease ran out');
    expect(query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM taskchart_outbox WHERE queue IS NULL')).toEqual([{ n: 1 }]);
    const info = await producer.getRun('pay-1');
    expect(info).toMatchObject({ status: 'failed', failedTask: 'charge', failedStep: 'charge', failedAttempts: 1, totalAttempts: 1 });

    const second = startWorker(db, hooks, 'resume');
    const { out, err } = await second.exited;
    expect(out.trim(), err).toBe('delivered');
    const calls = query<{ pid: number; phase: string }>(hooks, 'SELECT pid, phase FROM hooks ORDER BY rowid');
    expect(calls).toEqual([
      { pid: first.child.pid, phase: 'entered' },
      { pid: second.child.pid, phase: 'entered' },
      { pid: second.child.pid, phase: 'done' },
    ]);
    expect(query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM taskchart_outbox')).toEqual([{ n: 0 }]);
  });
});
