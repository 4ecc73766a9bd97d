/**
 * The store contract: one suite every store adapter runs against its real backend. It states
 * what the runtime relies on: compare-and-swap commits with their history and outbox, loads,
 * paged listing, the ordered event log, and outbox claiming with leases. Time is the claimant's
 * `now`, so nothing here waits for a clock.
 *
 *   import { storeContract } from '@taskchart/core/contract';
 *   storeContract({ name: 'sqlite', open: () => sqliteStore(join(mkdtempSync(...), 'runs.db')) });
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/wait-for.js';
import type { Claimant, HistoryEntry, NewOutboxEntry, RunRecord, RunWrite, Store, StoreChange, StoredEvent, WriteResult } from '../ports/store.js';

export interface StoreContractOptions {
  name: string;
  /** A new, empty store (every test opens its own). */
  open(): Store | Promise<Store>;
  /** Called after each test with the store it opened (after `close()`), to drop what it kept. */
  cleanup?(store: Store): void | Promise<void>;
  /** How long one test may take. @defaultValue 20000 */
  timeoutMs?: number;
}

const LEASE_MS = 1_000;
const claimant = (owner: string, now: number, hooks = false, leaseMs = LEASE_MS): Claimant => ({ owner, now, leaseMs, hooks });

const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  id: 'r1',
  chain: 'c',
  status: 'running',
  version: 1,
  step: 'a',
  attempt: 1,
  totalAttempts: 1,
  waiting: [{ kind: 'step', step: 'a', attempt: 1 }],
  snapshot: { value: { a: 'running' }, context: { n: 1 } },
  input: { n: 1 },
  createdAt: 1_000,
  updatedAt: 1_000,
  ...over,
});

const started = (r: RunRecord): HistoryEntry => ({ at: r.updatedAt, type: 'step.started', step: r.step ?? 'x', task: 't', attempt: r.attempt });

function write(r: RunRecord, expectedVersion: number | null, extra: { history?: HistoryEntry[]; outbox?: NewOutboxEntry[] } = {}): RunWrite {
  return {
    record: r,
    expectedVersion,
    history: extra.history ?? [started(r)],
    outbox: extra.outbox ?? [{ queue: 'q', body: `{"run":"${r.id}","v":${r.version}}`, options: { delayMs: 5, deduplicationId: `${r.id}:${r.version}` } }],
  };
}

function ok(result: WriteResult | undefined): Extract<WriteResult, { ok: true }> {
  expect(result).toMatchObject({ ok: true });
  return result as Extract<WriteResult, { ok: true }>;
}

/** Reads the whole event log by pages of `limit`, each page after the last cursor of the one before. */
async function readAll(store: Store, query: { runId?: string; chain?: string }, limit: number): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let pages = 0; pages < 1_000; pages++) {
    const last = all[all.length - 1];
    const page = await store.events({ ...query, limit, ...(last ? { after: last.cursor } : {}) });
    expect(page.length).toBeLessThanOrEqual(limit);
    if (page.length === 0) return all;
    // Resuming after a cursor must move past it (else this would read the same page forever).
    if (last) expect(page.map((e) => e.cursor)).not.toContain(last.cursor);
    all.push(...page);
  }
  throw new Error('events(): still more after 1,000 pages');
}

export function storeContract(options: StoreContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;
  const opened: Store[] = [];
  const open = async () => {
    const store = await options.open();
    opened.push(store);
    return store;
  };

  describe(`store contract: ${options.name}`, () => {
    afterEach(async () => {
      for (const store of opened.splice(0)) {
        await store.close();
        await options.cleanup?.(store);
      }
    });

    describe('commit', () => {
      it('creates a run once, then compare-and-swaps on its version', { timeout }, async () => {
        const store = await open();
        const created = ok((await store.commit([write(record(), null)], claimant('a', 0)))[0]);
        expect(created.cursors).toHaveLength(1);
        expect((await store.commit([write(record(), null)], claimant('a', 0)))[0]).toEqual({ ok: false, reason: 'exists' });

        const v2 = record({ version: 2, status: 'retrying', attempt: 2, totalAttempts: 2, updatedAt: 2_000 });
        ok((await store.commit([write(v2, 1)], claimant('a', 0)))[0]);
        const stale = record({ version: 2, status: 'completed', updatedAt: 3_000 });
        expect((await store.commit([write(stale, 1)], claimant('a', 0)))[0]).toEqual({ ok: false, reason: 'conflict' });
        expect(await store.load('r1')).toEqual(v2);
        expect((await store.history('r1')).map((h) => h.attempt)).toEqual([1, 2]);
      });

      it('applies each write of a batch on its own: a conflict fails only its write, and writes nothing of it', { timeout }, async () => {
        const store = await open();
        ok((await store.commit([write(record({ id: 'r1' }), null), write(record({ id: 'r2' }), null)], claimant('a', 0)))[1]);
        const results = await store.commit(
          [
            write(record({ id: 'r1', version: 2, updatedAt: 2_000 }), 1),
            write(record({ id: 'r2', version: 2, status: 'failed', updatedAt: 2_000 }), 7),
            write(record({ id: 'r3' }), null),
            write(record({ id: 'r1' }), null),
          ],
          claimant('a', 0),
        );
        expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual(['ok', 'conflict', 'ok', 'exists']);
        expect((await store.load('r1'))?.version).toBe(2);
        expect(await store.load('r2')).toMatchObject({ version: 1, status: 'running' });
        expect(await store.history('r2')).toHaveLength(1);
        expect((await store.load('r3'))?.version).toBe(1);
        // Only the successful writes' outbox entries exist: r1 v1, r2 v1, r1 v2, r3 v1.
        const all = await store.claimOutbox(claimant('b', LEASE_MS), 100);
        expect(all.map((o) => o.body)).toEqual(['{"run":"r1","v":1}', '{"run":"r2","v":1}', '{"run":"r1","v":2}', '{"run":"r3","v":1}']);
      });

      it('commits an empty batch as a no-op', { timeout }, async () => {
        const store = await open();
        expect(await store.commit([], claimant('a', 0))).toEqual([]);
      });
    });

    describe('load and history', () => {
      it('round-trips every field as JSON, and answers unknown runs with nothing', { timeout }, async () => {
        const store = await open();
        const r = record({
          status: 'failed',
          step: undefined,
          attempt: 3,
          totalAttempts: 7,
          waiting: [
            { kind: 'compensation', step: 'b', attempt: 2, message: { queue: 'q', body: '{"x":"é ✓"}', options: { deduplicationId: 'd', groupId: 'g' } } },
            { kind: 'timer', step: 'a', attempt: 3, dueAt: 123_456, message: { queue: 'q2', body: 'b', options: { delayMs: 9 } } },
          ],
          snapshot: { value: { compensating: { b: 'running' } }, context: { list: [1, 'two', null, { deep: true }] } },
          input: { text: 'line\nbreak "quoted" ✓', n: 1.5, nothing: null, list: [] },
          output: ['done', 2],
          error: { name: 'TypeError', message: 'boom', retryable: false },
          failedTask: 'charge',
        });
        const history: HistoryEntry[] = [
          { at: 1_000, type: 'run.started' },
          { at: 1_000, type: 'step.started', step: 'a', task: 'charge', attempt: 1 },
          { at: 1_001, type: 'step.failed', step: 'a', task: 'charge', attempt: 1, error: { name: 'Error', message: 'x', retryable: true } },
          { at: 1_001, type: 'step.retrying', step: 'a', task: 'charge', attempt: 1, delayMs: 250, dueAt: 1_251 },
        ];
        ok((await store.commit([write(r, null, { history })], claimant('a', 0)))[0]);
        expect(await store.load('r1')).toEqual(r);
        expect(await store.history('r1')).toEqual(history);
        // Undefined input and output stay absent.
        const bare = record({ id: 'bare', input: undefined });
        ok((await store.commit([write(bare, null, { history: [] })], claimant('a', 0)))[0]);
        const loaded = await store.load('bare');
        expect(loaded?.input).toBeUndefined();
        expect(loaded && 'output' in loaded).toBe(false);
        expect(await store.load('missing')).toBeUndefined();
        expect(await store.history('missing')).toEqual([]);
      });
    });

    describe('list', () => {
      const seed = async (store: Store) => {
        const runs = [
          record({ id: 'a', chain: 'c1', status: 'running', createdAt: 100 }),
          record({ id: 'b', chain: 'c1', status: 'failed', createdAt: 200 }),
          record({ id: 'c', chain: 'c2', status: 'completed', createdAt: 300 }),
          record({ id: 'd', chain: 'c2', status: 'failed', createdAt: 300 }),
          record({ id: 'e', chain: 'c1', status: 'retrying', createdAt: 400 }),
        ];
        await store.commit(runs.map((r) => write(r, null)), claimant('a', 0));
      };
      const ids = (page: { runs: readonly RunRecord[] }) => page.runs.map((r) => r.id);

      it('lists newest first (ties by id) and filters by status, chain and creation time', { timeout }, async () => {
        const store = await open();
        await seed(store);
        expect(ids(await store.list())).toEqual(['e', 'c', 'd', 'b', 'a']);
        expect(ids(await store.list({ status: ['failed'] }))).toEqual(['d', 'b']);
        expect(ids(await store.list({ status: ['failed', 'running'] }))).toEqual(['d', 'b', 'a']);
        expect(ids(await store.list({ chain: 'c1' }))).toEqual(['e', 'b', 'a']);
        expect(ids(await store.list({ chain: 'c2', status: ['failed'] }))).toEqual(['d']);
        expect(ids(await store.list({ createdAfter: 200, createdBefore: 400 }))).toEqual(['c', 'd', 'b']);
        expect(ids(await store.list({ chain: 'nope' }))).toEqual([]);
        const whole = await store.list();
        expect(whole.next).toBeUndefined();
        expect(whole.runs[0]).toEqual(record({ id: 'e', chain: 'c1', status: 'retrying', createdAt: 400 }));
      });

      it('pages with a cursor: no run twice, none missed, while runs are being added', { timeout }, async () => {
        const store = await open();
        const existing = Array.from({ length: 23 }, (_, i) => record({ id: `run-${String(i).padStart(2, '0')}`, createdAt: 1_000 + Math.floor(i / 4) }));
        await store.commit(existing.map((r) => write(r, null)), claimant('a', 0));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({ limit: 5, ...(cursor ? { cursor } : {}) });
          expect(page.runs.length).toBeLessThanOrEqual(5);
          seen.push(...ids(page));
          cursor = page.next;
          // New runs keep arriving between pages.
          await store.commit([write(record({ id: `new-${pages}`, createdAt: 5_000 + pages }), null)], claimant('a', 0));
          pages++;
        } while (cursor !== undefined);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.filter((id) => id.startsWith('run-')).sort()).toEqual(existing.map((r) => r.id).sort());
        expect(pages).toBe(5);
        // Filtered paging too.
        const failed = Array.from({ length: 7 }, (_, i) => record({ id: `f${i}`, status: 'failed', createdAt: 2_000 }));
        await store.commit(failed.map((r) => write(r, null)), claimant('a', 0));
        const first = await store.list({ status: ['failed'], limit: 4 });
        expect(first.next).toBeDefined();
        const second = await store.list({ status: ['failed'], limit: 4, cursor: first.next });
        expect(second.next).toBeUndefined();
        expect([...ids(first), ...ids(second)]).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6']);
      });
    });

    describe('event log', () => {
      it('gives every history entry once, in commit order, with the cursors the commits returned', { timeout }, async () => {
        const store = await open();
        const cursors: string[] = [];
        const expected: Array<{ runId: string; chain: string; type: string }> = [];
        for (let i = 0; i < 6; i++) {
          const id = `r${i % 3}`;
          const chain = i % 3 === 2 ? 'other' : 'c';
          const version = Math.floor(i / 3) + 1;
          const r = record({ id, chain, version, updatedAt: 1_000 + i });
          const history: HistoryEntry[] =
            version === 1
              ? [{ at: r.updatedAt, type: 'run.started' }, started(r)]
              : [{ at: r.updatedAt, type: 'step.completed', step: 'a', attempt: 1 }, { at: r.updatedAt, type: 'run.completed' }];
          const result = ok((await store.commit([write(r, version === 1 ? null : version - 1, { history })], claimant('a', 0)))[0]);
          expect(result.cursors).toHaveLength(2);
          cursors.push(...result.cursors);
          for (const h of history) expected.push({ runId: id, chain, type: h.type });
        }
        const all = await store.events({ limit: 1000 });
        expect(all.map((e) => ({ runId: e.runId, chain: e.chain, type: e.entry.type }))).toEqual(expected);
        expect(all.map((e) => e.cursor)).toEqual(cursors);
        expect(new Set(cursors).size).toBe(cursors.length);
        // Paged by any size, resuming after each page's last cursor: the same sequence.
        for (const limit of [1, 2, 3, 5]) expect(await readAll(store, {}, limit)).toEqual(all);
        // After the last cursor: nothing, until more is committed.
        const last = all[all.length - 1]?.cursor;
        expect(await store.events({ after: last })).toEqual([]);
        const r = record({ id: 'late', updatedAt: 9_000 });
        ok((await store.commit([write(r, null)], claimant('a', 0)))[0]);
        expect((await store.events({ after: last })).map((e) => [e.runId, e.entry])).toEqual([['late', started(r)]]);
      });

      it('keeps commit order over many writes of one batch and many batches, read in pages of any size', { timeout }, async () => {
        // More than 9 and 99 history rows in one transaction and across transactions: an order
        // that compares row numbers as text (10 before 2) shows here.
        const store = await open();
        const expected: string[] = [];
        for (let batch = 0; batch < 3; batch++) {
          const runs = Array.from({ length: 45 }, (_, i) => record({ id: `b${batch}-${String(i).padStart(2, '0')}`, updatedAt: 1_000 + batch }));
          const results = await store.commit(runs.map((r) => write(r, null)), claimant('a', 0));
          for (const result of results) expected.push(...ok(result).cursors);
        }
        expect(expected).toHaveLength(135);
        const all = await store.events({ limit: 1000 });
        expect(all.map((e) => e.cursor)).toEqual(expected);
        expect(all.map((e) => e.runId)).toEqual(Array.from({ length: 135 }, (_, i) => `b${Math.floor(i / 45)}-${String(i % 45).padStart(2, '0')}`));
        for (const limit of [7, 50]) expect((await readAll(store, {}, limit)).map((e) => e.cursor)).toEqual(expected);
        expect((await readAll(store, { chain: 'c' }, 11)).map((e) => e.cursor)).toEqual(expected);
      });

      it('resumes after a cursor in the middle of one commit, and filters by run and by chain', { timeout }, async () => {
        const store = await open();
        const a = record({ id: 'a', chain: 'c1' });
        const b = record({ id: 'b', chain: 'c2' });
        const three = (r: RunRecord): HistoryEntry[] => [{ at: 1, type: 'run.started' }, started(r), { at: 1, type: 'step.completed', step: 'a', attempt: 1 }];
        const [ra, rb] = await store.commit([write(a, null, { history: three(a) }), write(b, null, { history: three(b) })], claimant('a', 0));
        const cursors = [...ok(ra).cursors, ...ok(rb).cursors];
        const afterFirst = await store.events({ after: cursors[0] });
        expect(afterFirst.map((e) => e.cursor)).toEqual(cursors.slice(1));
        expect((await store.events({ runId: 'b' })).map((e) => e.cursor)).toEqual(cursors.slice(3));
        expect((await store.events({ chain: 'c1' })).map((e) => e.cursor)).toEqual(cursors.slice(0, 3));
        expect((await store.events({ chain: 'c1', after: cursors[1] })).map((e) => e.cursor)).toEqual(cursors.slice(2, 3));
        expect((await store.events({ runId: 'a', after: cursors[2] }))).toEqual([]);
        expect(await readAll(store, { runId: 'b' }, 2)).toEqual(await store.events({ runId: 'b' }));
      });
    });

    describe('outbox claims', () => {
      it('gives the committer its entries, claimed: nobody else gets them before the lease runs out, then one claimant takes them over', { timeout }, async () => {
        const store = await open();
        const result = ok((await store.commit([write(record(), null)], claimant('writer', 1_000)))[0]);
        expect(result.outbox).toEqual([
          { id: result.outbox[0]?.id, runId: 'r1', queue: 'q', body: '{"run":"r1","v":1}', options: { delayMs: 5, deduplicationId: 'r1:1' } },
        ]);
        expect(await store.claimOutbox(claimant('other', 1_000), 10)).toEqual([]);
        expect(await store.claimOutbox(claimant('other', 1_000 + LEASE_MS - 1, true), 10)).toEqual([]);
        const taken = await store.claimOutbox(claimant('other', 1_000 + LEASE_MS), 10);
        expect(taken).toEqual(result.outbox);
        // Now `other` holds it: neither the writer nor a third process gets it during that lease.
        expect(await store.claimOutbox(claimant('writer', 1_000 + LEASE_MS), 10)).toEqual([]);
        expect(await store.claimOutbox(claimant('third', 1_000 + 2 * LEASE_MS - 1), 10)).toEqual([]);
        expect(await store.claimOutbox(claimant('third', 1_000 + 2 * LEASE_MS), 10)).toEqual(result.outbox);
      });

      it('never gives two claimants the same entry, and claims oldest first', { timeout }, async () => {
        const store = await open();
        const runs = Array.from({ length: 30 }, (_, i) => record({ id: `r${String(i).padStart(2, '0')}` }));
        const committed = (await store.commit(runs.map((r) => write(r, null)), claimant('dead', 0))).flatMap((r) => ok(r).outbox.map((o) => o.id));
        const now = LEASE_MS;
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.claimOutbox(claimant(i % 2 === 0 ? 'x' : 'y', now), 4)),
        );
        const got = claims.flat().map((o) => o.id);
        expect(new Set(got).size).toBe(got.length);
        expect(got.sort((p, q) => p - q)).toEqual(committed);
        for (const claim of claims) expect(claim.map((o) => o.id)).toEqual([...claim.map((o) => o.id)].sort((p, q) => p - q));
        expect(await store.claimOutbox(claimant('z', now), 100)).toEqual([]);
        // The first claim of a fresh sweep gets the oldest entries.
        expect((await store.claimOutbox(claimant('z', now + LEASE_MS), 3)).map((o) => o.id)).toEqual(committed.slice(0, 3));
      });

      it('leaves hook entries (queue null) to a claimant that calls hooks', { timeout }, async () => {
        const store = await open();
        const outbox: NewOutboxEntry[] = [{ queue: null, body: '{"report":1}' }, { queue: 'q', body: 'task' }];
        const noHooks = ok((await store.commit([write(record(), null, { outbox })], claimant('web', 0, false)))[0]);
        expect(noHooks.outbox.map((o) => o.body)).toEqual(['task']);
        // Unclaimed at once, but never for a claimant without hooks, however late (it takes the task entry over).
        expect((await store.claimOutbox(claimant('web2', 10 * LEASE_MS, false), 10)).map((o) => o.body)).toEqual(['task']);
        const hook = await store.claimOutbox(claimant('worker', 0, true), 10);
        expect(hook).toEqual([{ id: hook[0]?.id, runId: 'r1', queue: null, body: '{"report":1}' }]);

        const withHooks = ok((await store.commit([write(record({ id: 'r2' }), null, { outbox })], claimant('worker', 0, true)))[0]);
        expect(withHooks.outbox.map((o) => o.body)).toEqual(['{"report":1}', 'task']);
        expect(await store.claimOutbox(claimant('worker2', LEASE_MS - 1, true), 10)).toEqual([]);
      });

      it('keeps a deferred claim until its new time, for its owner only', { timeout }, async () => {
        const store = await open();
        const [entry] = ok((await store.commit([write(record(), null)], claimant('a', 0)))[0]).outbox;
        const id = entry?.id ?? -1;
        await store.deferOutbox('someone-else', [id], 100 * LEASE_MS);
        await store.deferOutbox('a', [id], 5 * LEASE_MS);
        expect(await store.claimOutbox(claimant('b', LEASE_MS), 10)).toEqual([]);
        expect(await store.claimOutbox(claimant('b', 5 * LEASE_MS - 1), 10)).toEqual([]);
        expect((await store.claimOutbox(claimant('b', 5 * LEASE_MS), 10)).map((o) => o.id)).toEqual([id]);
        // `a` lost its claim to `b`: its deferral changes nothing any more.
        await store.deferOutbox('a', [id], 1_000 * LEASE_MS);
        expect(await store.claimOutbox(claimant('c', 6 * LEASE_MS - 1), 10)).toEqual([]);
        expect((await store.claimOutbox(claimant('c', 6 * LEASE_MS), 10)).map((o) => o.id)).toEqual([id]);
      });

      it('deletes exactly the published entries, consecutive or not', { timeout }, async () => {
        const store = await open();
        const runs = Array.from({ length: 8 }, (_, i) => record({ id: `r${i}` }));
        const ids = (await store.commit(runs.map((r) => write(r, null)), claimant('a', 0))).flatMap((r) => ok(r).outbox.map((o) => o.id));
        const published = [ids[0], ids[1], ids[2], ids[4], ids[6], ids[7]].filter((id): id is number => id !== undefined);
        await store.deleteOutbox([...published].reverse());
        await store.deleteOutbox([]);
        expect((await store.claimOutbox(claimant('b', LEASE_MS), 100)).map((o) => o.id)).toEqual([ids[3], ids[5]]);
      });

      it('deletes the entries a write settles in its transaction, and none when the write does not apply', { timeout }, async () => {
        const store = await open();
        const [a, b] = [record({ id: 's1' }), record({ id: 's2' })];
        const [ra, rb] = await store.commit([write(a, null), write(b, null)], claimant('a', 0));
        const [ea, eb] = [ok(ra).outbox[0]?.id ?? -1, ok(rb).outbox[0]?.id ?? -1];
        // The next transition of each run settles its entry: one applies, one loses its compare-and-swap.
        const next = (r: RunRecord) => record({ id: r.id, version: 2, step: 'b' });
        const results = await store.commit([{ ...write(next(a), 1), settles: [ea] }, { ...write(next(b), 7), settles: [eb] }], claimant('a', 0));
        const applied = ok(results[0]);
        expect(results[1]).toEqual({ ok: false, reason: 'conflict' });
        const left = (await store.claimOutbox(claimant('b', LEASE_MS), 100)).map((o) => o.id);
        // s1's settled entry is gone, its new one written; s2's entry is kept (its write did not apply).
        expect(left).toEqual([eb, ...applied.outbox.map((o) => o.id)].sort((x, y) => x - y));
      });
    });

    describe('last event cursor', () => {
      it('is undefined on an empty log; reading after it gives exactly what was committed after it', { timeout }, async () => {
        const store = await open();
        expect(await store.lastEventCursor()).toBeUndefined();
        const twoEntries = (r: RunRecord) => [started(r), { at: r.updatedAt, type: 'step.completed' as const, step: r.step ?? 'x', task: 't', attempt: 1 }];
        ok((await store.commit([write(record({ id: 'e1' }), null, { history: twoEntries(record({ id: 'e1' })) }), write(record({ id: 'e2' }), null)], claimant('a', 0)))[0]);
        const cursor = await store.lastEventCursor();
        expect(cursor).toBeDefined();
        expect(await store.events({ after: cursor ?? '' })).toEqual([]);
        const before = await readAll(store, {}, 100);
        expect(before.at(-1)?.cursor).toBe(cursor);
        ok((await store.commit([write(record({ id: 'e3' }), null, { history: twoEntries(record({ id: 'e3' })) })], claimant('a', 0)))[0]);
        const after = await store.events({ after: cursor ?? '' });
        expect(after.map((e) => [e.runId, e.entry.type])).toEqual([
          ['e3', 'step.started'],
          ['e3', 'step.completed'],
        ]);
        expect(await store.lastEventCursor()).toBe(after.at(-1)?.cursor);
      });
    });

    describe('chain definitions', () => {
      const def = (chain: string, version: number, fingerprint: string, recordedAt: number, label = 'x') => ({
        chain,
        version,
        fingerprint,
        recordedAt,
        definition: { machine: { id: chain, states: { a: { label } } }, steps: [{ key: 'a', task: 'a', queue: 'default', compensates: false }] },
      });
      it('keeps the first record of each (chain, version, fingerprint) and lists them by chain, newest version first', { timeout }, async () => {
        const store = await open();
        expect(await store.definitions()).toEqual([]);
        await store.recordDefinitions([def('order', 1, 'f1', 10), def('trip', 1, 't1', 11)]);
        // Recorded again by every starting process: the first record stays, whatever the new one says.
        await store.recordDefinitions([def('order', 1, 'f1', 99, 'changed'), def('order', 2, 'f2', 20), def('order', 2, 'f2b', 30)]);
        await store.recordDefinitions([]);
        const all = await store.definitions();
        expect(all.map((d) => [d.chain, d.version, d.fingerprint, d.recordedAt])).toEqual([
          ['order', 2, 'f2b', 30],
          ['order', 2, 'f2', 20],
          ['order', 1, 'f1', 10],
          ['trip', 1, 't1', 11],
        ]);
        expect(all[2]).toEqual(def('order', 1, 'f1', 10));
        expect((await store.definitions({ chain: 'trip' })).map((d) => d.fingerprint)).toEqual(['t1']);
        expect(await store.definitions({ chain: 'none' })).toEqual([]);
      });

      it('refuses a record without a chain, a whole version or a fingerprint', { timeout }, async () => {
        const store = await open();
        await expect(store.recordDefinitions([def('', 1, 'f', 1)])).rejects.toThrow(/records\[0\]\.chain: must be a non-empty string/);
        await expect(store.recordDefinitions([def('c', 1, 'f', 1), def('c', 0.5, 'f', 1)])).rejects.toThrow(/records\[1\]\.version: must be a whole number/);
        await expect(store.recordDefinitions([def('c', 1, '', 1)])).rejects.toThrow(/records\[0\]\.fingerprint/);
        expect(await store.definitions()).toEqual([]);
      });
    });

    describe('watch (optional; skipped for a store without it)', () => {
      it('hints a run changed after a commit that writes its events, until the listener stops', { timeout }, async (ctx) => {
        const store = await open();
        if (!store.watch) return ctx.skip();
        const first: StoreChange[] = [];
        const second: StoreChange[] = [];
        const stopFirst = store.watch((c) => first.push(c));
        const stopSecond = store.watch((c) => second.push(c));
        const named = (changes: StoreChange[], runId: string) => changes.some((c) => c.runId === runId && c.chain === 'c');
        // The watch may start listening a little after watch() returns: commit until a hint comes.
        for (let i = 0; !named(first, `w${i - 1}`); i++) {
          if (i > 200) throw new Error('no hint named a committed run within 200 commits');
          ok((await store.commit([write(record({ id: `w${i}` }), null)], claimant('a', 0)))[0]);
          await new Promise((r) => setTimeout(r, 50));
        }
        stopFirst();
        const before = first.length;
        ok((await store.commit([write(record({ id: 'after-stop' }), null)], claimant('a', 0)))[0]);
        await waitFor(() => named(second, 'after-stop'), timeout / 2, 'a hint for the last commit to the listener still watching');
        expect(first.length).toBe(before);
        stopSecond();
      });
    });
  });
}
