/**
 * The run row's two update statements (one that leaves the status, and its index entry, alone; one
 * that sets it): compare-and-swap holds on both paths, and `list({ status })` follows the status.
 * And the event cursors a commit returns: the same as `events()` gives for those entries.
 */
import { describe, expect, it } from 'vitest';
import type { Claimant, HistoryEntry, RunRecord, RunStatus, RunWrite } from '@taskchart/core/adapter';
import { sqliteStore } from '../src/index.js';
import { tempDbPaths } from './temp-db.js';

const freshPath = tempDbPaths();

const claimant: Claimant = { owner: 'test', now: 0, leaseMs: 1_000, hooks: true };
const base: RunRecord = { id: 'r1', chain: 'c', status: 'running', version: 1, step: 'a', attempt: 1, totalAttempts: 1, waiting: [], snapshot: { n: 1 }, input: { i: 1 }, createdAt: 1, updatedAt: 1 };
const update = (expectedVersion: number, status: RunStatus, snapshot: unknown): RunWrite => ({
  record: { ...base, status, version: expectedVersion + 1, snapshot, updatedAt: expectedVersion + 1 },
  expectedVersion,
  history: [],
  outbox: [],
});

describe('sqlite store: run row updates', () => {
  it('compare-and-swaps whether or not the status changes, and lists the run under its new status', async () => {
    const store = sqliteStore(freshPath());
    try {
      expect(await store.commit([{ record: base, expectedVersion: null, history: [], outbox: [] }], claimant)).toMatchObject([{ ok: true }]);
      // Same status: the keep-status statement writes it.
      expect(await store.commit([update(1, 'running', { n: 2 })], claimant)).toMatchObject([{ ok: true }]);
      // A stale version is refused on both paths, and writes nothing.
      expect(await store.commit([update(1, 'running', { n: 'stale' })], claimant)).toEqual([{ ok: false, reason: 'conflict' }]);
      expect(await store.commit([update(1, 'completed', { n: 'stale' })], claimant)).toEqual([{ ok: false, reason: 'conflict' }]);
      expect(await store.load('r1')).toMatchObject({ status: 'running', version: 2, snapshot: { n: 2 }, input: { i: 1 } });
      // A new status: the full statement writes it, and the status index follows.
      expect(await store.commit([update(2, 'completed', { n: 3 })], claimant)).toMatchObject([{ ok: true }]);
      expect(await store.load('r1')).toMatchObject({ status: 'completed', version: 3, snapshot: { n: 3 }, input: { i: 1 }, updatedAt: 3 });
      expect((await store.list({ status: ['completed'] })).runs.map((r) => r.id)).toEqual(['r1']);
      expect((await store.list({ status: ['running'] })).runs).toEqual([]);
      // One batch mixing both paths and a refusal: each write gets its own result.
      const results = await store.commit([update(3, 'completed', { n: 4 }), update(3, 'failed', { n: 'lost' }), update(4, 'failed', { n: 5 })], claimant);
      expect(results).toEqual([
        { ok: true, outbox: [], cursors: [] },
        { ok: false, reason: 'conflict' },
        { ok: true, outbox: [], cursors: [] },
      ]);
      expect(await store.load('r1')).toMatchObject({ status: 'failed', version: 5, snapshot: { n: 5 } });
      expect((await store.list({ status: ['failed'] })).runs.map((r) => r.id)).toEqual(['r1']);
    } finally {
      await store.close();
    }
  });
});

describe('sqlite store: the cursors a commit returns', () => {
  it('are the cursors events() gives for the same entries, for a row of 1 entry and one of 20 (past the ends made once)', async () => {
    const store = sqliteStore(freshPath());
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'step.started', at: i, step: `s${i}`, attempt: 1 }) as unknown as HistoryEntry);
    try {
      const [first] = await store.commit([{ record: base, expectedVersion: null, history: entries(1), outbox: [] }], claimant);
      const [second] = await store.commit([{ ...update(1, 'running', { n: 2 }), history: entries(20) }], claimant);
      const returned = [first, second].flatMap((r) => (r?.ok ? r.cursors : []));
      expect(returned).toHaveLength(21);
      expect(returned).toEqual((await store.events({ limit: 100 })).map((e) => e.cursor));
      expect(returned[20]).toMatch(/^0{15}2:0019$/);
    } finally {
      await store.close();
    }
  });
});
