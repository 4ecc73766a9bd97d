/**
 * The SQLite store's guards: a file deleted under it, a second store on its file in this
 * process, and a lock held by another connection (which must not block the event loop).
 */
import { mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, StoreBusyError, StoreLostError } from '@taskchart/core';
import { type Claimant, type RunRecord, type RunWrite } from '@taskchart/core/adapter';
import { sqliteStore, type SqliteStore } from '../src/index.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tc-guard-'));
  dirs.push(dir);
  return dir;
};
const open = (path: string, options?: Parameters<typeof sqliteStore>[1]) => {
  const store = sqliteStore(path, options);
  stores.push(store);
  return store;
};
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const writer: Claimant = { owner: 'writer', now: 0, leaseMs: 1_000, hooks: true };
/** Claims whatever is left once every lease has run out. */
const sweeper: Claimant = { owner: 'sweeper', now: 10_000, leaseMs: 1_000, hooks: true };
const create = (id: string): RunWrite => {
  const record: RunRecord = { id, chain: 'c', status: 'running', version: 1, step: 'a', attempt: 1, totalAttempts: 1, waiting: [], snapshot: {}, input: 1, createdAt: 1, updatedAt: 1 };
  return { record, expectedVersion: null, history: [], outbox: [{ queue: 'q', body: id }] };
};

describe('sqlite store: its file deleted or replaced while open', () => {
  it('rejects the next commit with StoreLostError naming the path once the folder is removed, and refuses every later call', async () => {
    const dir = freshDir();
    const path = join(dir, 'runs.db');
    const store = open(path);
    expect(await store.commit([create('before')], writer)).toMatchObject([{ ok: true }]);
    rmSync(dir, { recursive: true, force: true });

    const outcomes = await Promise.allSettled([store.commit([create('after')], writer)]);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { name: 'StoreLostError', path } });
    const [lost] = outcomes as [PromiseRejectedResult];
    expect(lost.reason).toBeInstanceOf(StoreLostError);
    expect((lost.reason as Error).message).toContain(`sqliteStore: ${path}: the file was deleted (or its folder removed)`);
    // Nothing reports success from now on, reads included.
    await expect(store.commit([create('later')], writer)).rejects.toThrow(StoreLostError);
    await expect(store.deleteOutbox([1])).rejects.toThrow(StoreLostError);
    await expect(store.load('before')).rejects.toThrow(StoreLostError);
    await expect(store.claimOutbox(sweeper, 10)).rejects.toThrow(StoreLostError);
    await expect(store.list()).rejects.toThrow(StoreLostError);
  });

  it('notices a file replaced at its path (moved away, another put in its place)', async () => {
    const dir = freshDir();
    const path = join(dir, 'runs.db');
    const store = open(path);
    await store.commit([create('r1')], writer);
    renameSync(path, join(dir, 'moved.db'));
    new Database(path).close();
    await expect(store.commit([create('r2')], writer)).rejects.toThrow(`sqliteStore: ${path}: the file at this path is not the one the store opened (it was replaced)`);
  });

  it('leaves ":memory:" alone', async () => {
    const store = open(':memory:');
    expect(await store.commit([create('m')], writer)).toMatchObject([{ ok: true }]);
  });
});

describe('sqlite store: one store per file in a process', () => {
  it('refuses a second store on a file this process has open, naming the path; after close, it opens', async () => {
    const dir = freshDir();
    const path = join(dir, 'runs.db');
    const first = open(path);
    await first.commit([create('r1')], writer);
    expect(() => sqliteStore(path)).toThrow(InvalidOptionError);
    expect(() => sqliteStore(path)).toThrow(`sqliteStore: path: ${path} is already open by another sqliteStore of this process: give every runtime of the process that one store object (or close it first)`);
    // The same file under another name is the same file.
    symlinkSync(path, join(dir, 'alias.db'));
    expect(() => sqliteStore(join(dir, 'alias.db'))).toThrow('is already open by another sqliteStore of this process');

    await first.close();
    const second = open(path);
    expect(await second.load('r1')).toMatchObject({ id: 'r1' });
  });

  it('a store whose db was closed directly releases the file too', async () => {
    const path = join(freshDir(), 'runs.db');
    open(path).db.close();
    expect(await open(path).load('none')).toBeUndefined();
  });

  it('other files and ":memory:" are not affected', async () => {
    const dir = freshDir();
    open(join(dir, 'a.db'));
    expect(() => open(join(dir, 'b.db'))).not.toThrow();
    open(':memory:');
    expect(() => open(':memory:')).not.toThrow();
  });
});

describe('sqlite store: a lock held by another connection', () => {
  /** Another connection takes the write lock (BEGIN IMMEDIATE) and holds it until released. */
  const lockHolder = (path: string) => {
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    return {
      release: () => {
        other.exec('COMMIT');
        other.close();
      },
    };
  };

  it('a commit waits for the lock without blocking the event loop, then succeeds once it is released', async () => {
    const path = join(freshDir(), 'runs.db');
    const store = open(path, { busyTimeoutMs: 20_000 });
    const lock = lockHolder(path);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    let released = false;
    setTimeout(() => {
      released = true;
      lock.release();
    }, 1_000);
    try {
      const pending = store.commit([create('waited')], writer);
      const second = store.commit([create('queued')], writer);
      const result = await pending;
      // It could only have committed after the other connection let go.
      expect(released).toBe(true);
      expect(result).toMatchObject([{ ok: true }]);
      expect(await second).toMatchObject([{ ok: true }]);
      // While it waited (about 1 s), the 10 ms interval kept ticking; a blocking wait gives 0 or 1 tick.
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect((await store.claimOutbox(sweeper, 10)).map((o) => o.body)).toEqual(['waited', 'queued']);
    } finally {
      clearInterval(ticker);
      if (!released) lock.release();
    }
  });

  it('rejects with StoreBusyError (nothing written) when the lock is held past busyTimeoutMs, and works again after', async () => {
    const path = join(freshDir(), 'runs.db');
    const store = open(path, { busyTimeoutMs: 150 });
    const lock = lockHolder(path);
    try {
      const error = await store.commit([create('blocked')], writer).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreBusyError);
      expect((error as Error).message).toBe(`sqliteStore: ${path}: another connection held the lock for more than busyTimeoutMs (150 ms); nothing was written`);
      await expect(store.deleteOutbox([1])).rejects.toThrow(StoreBusyError);
    } finally {
      lock.release();
    }
    expect(await store.load('blocked')).toBeUndefined();
    expect(await store.commit([create('blocked')], writer)).toMatchObject([{ ok: true }]);
  });

  it('states the range of busyTimeoutMs', () => {
    expect(() => sqliteStore(':memory:', { busyTimeoutMs: 3_600_001 })).toThrow('sqliteStore: busyTimeoutMs: must be a whole number of milliseconds between 0 and 3600000 (an hour), got 3600001');
    expect(() => sqliteStore(':memory:', { busyTimeoutMs: -1 })).toThrow('sqliteStore: busyTimeoutMs');
  });
});
