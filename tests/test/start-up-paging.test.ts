/**
 * A starting runtime on a broker that lost its messages (memory) re-dispatches what every active
 * run waits for, a page of runs at a time, instead of loading every active run at once (issue 8,
 * item 5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createClient, createRuntime, task, type RunQuery, type Store } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const inc = task('inc', (x: number) => x + 1);
const c = chain('paging', inc);

describe('start-up re-dispatch', () => {
  it('pages through the active runs (500 at a time) and resumes every one', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-paging-'));
    dirs.push(dir);
    const db = join(dir, 'runs.db');
    // Runs started by a process whose in-memory broker is gone: only the store remembers them.
    const producer = createClient({ broker: memoryBroker(), store: sqliteStore(db), chains: [c], logger: silentLogger });
    const RUNS = 1001;
    await Promise.all(Array.from({ length: RUNS }, (_, i) => producer.run(c, i, { id: `p-${i}` })));
    await producer.close();

    const inner = sqliteStore(db);
    const lists: RunQuery[] = [];
    const store: Store = {
      commit: (writes, claimant) => inner.commit(writes, claimant),
      load: (id) => inner.load(id),
      history: (id) => inner.history(id),
      list: async (q = {}) => {
        const page = await inner.list(q);
        lists.push(q);
        return page;
      },
      events: (q) => inner.events(q),
      claimOutbox: (claimant, limit) => inner.claimOutbox(claimant, limit),
      deferOutbox: (owner, ids, until) => inner.deferOutbox(owner, ids, until),
      deleteOutbox: (ids) => inner.deleteOutbox(ids),
      recordDefinitions: (r) => inner.recordDefinitions(r),
      definitions: (q) => inner.definitions(q),
      lastEventCursor: () => inner.lastEventCursor(),
      close: () => inner.close(),
    };
    const runtime = createRuntime({ broker: memoryBroker(), store, chains: [c], logger: silentLogger });
    try {
      await runtime.start();
      expect(lists.map((q) => [q.limit, q.cursor === undefined ? 'first' : 'next'])).toEqual([
        [500, 'first'],
        [500, 'next'],
        [500, 'next'],
      ]);
      const results = await Promise.all(Array.from({ length: RUNS }, (_, i) => runtime.result(`p-${i}`)));
      expect(results).toEqual(Array.from({ length: RUNS }, (_, i) => i + 1));
    } finally {
      await runtime.close();
    }
  });
});
