import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore, type RunRecord, type RunWrite } from '../src/index.js';

const dirs: string[] = [];
const freshPath = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tc-store-'));
  dirs.push(dir);
  return join(dir, 'runs.db');
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  id: 'r1',
  chain: 'c',
  status: 'running',
  version: 1,
  step: 'a',
  attempt: 1,
  snapshot: { value: { a: 'running' }, context: { n: 1 } },
  input: { n: 1 },
  pending: [],
  createdAt: 1,
  updatedAt: 1,
  ...over,
});
const write = (r: RunRecord, expectedVersion: number | null): RunWrite => ({
  record: r,
  expectedVersion,
  history: [{ at: r.updatedAt, type: 'step.started', step: r.step ?? 'x', attempt: r.attempt }],
  outbox: [{ queue: 'q', body: `{"v":${r.version}}`, options: { delayMs: 5 } }],
});

describe('sqlite store', () => {
  it('creates once, then compare-and-swaps on the version', async () => {
    const store = sqliteStore(freshPath());
    expect((await store.commit([write(record(), null)]))[0]).toMatchObject({ ok: true });
    expect((await store.commit([write(record(), null)]))[0]).toEqual({ ok: false, reason: 'exists' });
    const v2 = record({ version: 2, status: 'retrying', attempt: 2, updatedAt: 2 });
    const [ok, stale] = await store.commit([write(v2, 1), write(record({ version: 2, status: 'completed' }), 1)]);
    expect(ok).toMatchObject({ ok: true });
    expect(stale).toEqual({ ok: false, reason: 'conflict' });
    expect(await store.load('r1')).toMatchObject({ version: 2, status: 'retrying', attempt: 2 });
    expect((await store.history('r1')).map((h) => h.attempt)).toEqual([1, 2]);
    await store.close();
  });

  it('keeps the outbox with the write and forgets what was published', async () => {
    const store = sqliteStore(freshPath());
    const [result] = await store.commit([write(record(), null)]);
    expect(result?.ok && result.outbox[0]).toMatchObject({ runId: 'r1', queue: 'q', body: '{"v":1}', options: { delayMs: 5 } });
    expect(await store.outbox(10)).toHaveLength(1);
    await store.deleteOutbox((await store.outbox(10)).map((o) => o.id));
    expect(await store.outbox(10)).toHaveLength(0);
    await store.close();
  });

  it('deletes exactly the published outbox entries, consecutive or not', async () => {
    const store = sqliteStore(freshPath());
    const writes = Array.from({ length: 8 }, (_, i) => write(record({ id: `r${i}` }), null));
    await store.commit(writes);
    const ids = (await store.outbox(100)).map((o) => o.id);
    const published = [ids[0], ids[1], ids[2], ids[4], ids[6], ids[7]].filter((id): id is number => id !== undefined);
    await store.deleteOutbox([...published].reverse());
    expect((await store.outbox(100)).map((o) => o.id)).toEqual([ids[3], ids[5]]);
    await store.close();
  });

  it('survives reopening (round trip of every persisted field)', async () => {
    const path = freshPath();
    const first = sqliteStore(path);
    const r = record({ output: { done: true }, error: { name: 'E', message: 'm', retryable: false }, failedTask: 'a', pending: [{ queue: 'q', body: 'b', options: {}, dueAt: 9 }] });
    await first.commit([write(r, null)]);
    await first.close();
    const second = sqliteStore(path);
    expect(await second.load('r1')).toEqual(r);
    expect(await second.list({ status: ['running'] })).toHaveLength(1);
    expect(await second.list({ status: ['completed'] })).toHaveLength(0);
    expect(await second.load('missing')).toBeUndefined();
    await second.close();
  });

  it('uses WAL with synchronous=NORMAL by default', async () => {
    const store = sqliteStore(freshPath());
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
    await store.close();
  });

  it('keeps the frozen schema (change SCHEMA_VERSION and add a migration to change it)', async () => {
    const path = freshPath();
    await sqliteStore(path).close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare("SELECT sql FROM sqlite_master WHERE name LIKE 'taskchart_%' ORDER BY name").all() as Array<{ sql: string }>;
    db.close();
    const actual = rows.map((r) => `${r.sql};`).join('\n') + '\n';
    const frozen = readFileSync(new URL('./fixtures/sqlite-schema.sql', import.meta.url), 'utf8');
    expect(actual).toBe(frozen);
  });

  it('refuses a database written by another schema version', async () => {
    const path = freshPath();
    const store = sqliteStore(path);
    store.db.prepare("UPDATE taskchart_meta SET value = '99' WHERE key = 'schema_version'").run();
    await store.close();
    expect(() => sqliteStore(path)).toThrow('has schema version 99');
  });
});
