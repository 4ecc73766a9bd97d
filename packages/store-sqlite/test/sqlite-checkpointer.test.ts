/**
 * The WAL is checkpointed by a thread of the store's own, not by the connection that commits: the
 * database file takes the commits while that connection's automatic checkpoint is far away. The
 * thread also starts the WAL over once it is all in the file, so the next commit does not.
 */
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Claimant, RunRecord } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { sqliteStore } from '../src/index.js';
import { tempDbPaths } from './temp-db.js';

const freshPath = tempDbPaths('tc-checkpoint-');

const claimant: Claimant = { owner: 'test', now: 0, leaseMs: 1_000, hooks: true };
/**
 * The WAL header's salt-1 (bytes 16-19, big-endian; sqlite.org/fileformat2.html#walformat): SQLite
 * changes it each time the WAL is started over.
 */
const walSalt = (path: string) => readFileSync(`${path}-wal`).readUInt32BE(16);
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

describe('sqlite store: the WAL started over by the checkpointer thread', () => {
  it('starts the WAL over after a complete checkpoint, so the next commit appends to it instead, and leaves an idle store alone', async () => {
    const path = freshPath();
    const store = sqliteStore(path);
    try {
      // Someone else's use of the header's user version is kept.
      store.db.pragma('user_version = 7');
      for (let i = 0; i < 5; i++) expect(await store.commit([{ record: run(i), expectedVersion: null, history: [], outbox: [] }], claimant)).toMatchObject([{ ok: true }]);
      const committed = walSalt(path);
      await waitFor(() => walSalt(path) !== committed, 5_000, 'the thread to start the WAL over');
      const startedOver = walSalt(path);
      // The next commit goes after the thread's frame: the WAL is not started over again (by the commit).
      expect(await store.commit([{ record: run(5), expectedVersion: null, history: [], outbox: [] }], claimant)).toMatchObject([{ ok: true }]);
      expect(walSalt(path)).toBe(startedOver);
      expect(store.db.pragma('user_version', { simple: true })).toBe(7);
      expect((await store.list()).runs).toHaveLength(6);
      // Once that commit is checkpointed the thread starts the WAL over once more, then nothing while no one commits.
      await waitFor(() => walSalt(path) !== startedOver, 5_000, 'the thread to start the WAL over again');
      const idle = walSalt(path);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(walSalt(path)).toBe(idle);
    } finally {
      await store.close();
    }
  });
});
