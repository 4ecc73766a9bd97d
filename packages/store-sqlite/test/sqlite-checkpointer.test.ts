/**
 * The WAL is checkpointed by a thread of the store's own, not by the connection that commits: the
 * database file takes the commits while that connection's automatic checkpoint is far away.
 */
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Claimant, RunRecord } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { sqliteStore } from '../src/index.js';
import { tempDbPaths } from './temp-db.js';

const freshPath = tempDbPaths('tc-checkpoint-');

const claimant: Claimant = { owner: 'test', now: 0, leaseMs: 1_000, hooks: true };
const run = (i: number): RunRecord => ({ id: `r${i}`, chain: 'c', status: 'running', version: 1, step: 'a', attempt: 1, totalAttempts: 1, waiting: [], snapshot: { n: i }, input: { blob: 'x'.repeat(2_000) }, createdAt: i, updatedAt: i });

describe('sqlite store: background checkpoints', () => {
  it('moves committed pages into the database file from its own thread, and stops the thread on close', async () => {
    const path = freshPath();
    const store = sqliteStore(path);
    try {
      // The committing connection checkpoints only as a backstop, 16,000 pages (64 MB) away.
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(16_000);
      const before = statSync(path).size;
      // About 1 MB in 20 commits: far below the backstop, so only the thread can copy it over.
      for (let batch = 0; batch < 20; batch++) {
        const writes = Array.from({ length: 25 }, (_, i) => ({ record: run(batch * 25 + i), expectedVersion: null, history: [], outbox: [] }));
        expect((await store.commit(writes, claimant)).every((r) => r.ok)).toBe(true);
      }
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(1_000_000);
      await waitFor(() => statSync(path).size > before + 1_000_000, 5_000, 'the database file to take the committed pages');
    } finally {
      await store.close();
    }
    // Closed: the last connection folded the WAL in and removed it; every run is in the file.
    const reopened = sqliteStore(path);
    try {
      expect((await reopened.list({ limit: 1000 })).runs).toHaveLength(500);
    } finally {
      await reopened.close();
    }
  });
});
