/**
 * What is particular to SQLite (the contract suite covers the port): the pragmas, the frozen
 * schema, unknown options and versions, and the in-place upgrade of a version 1 file.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@taskchart/core';
import { type Claimant } from '@taskchart/core/adapter';
import { SCHEMA_VERSION, sqliteStore } from '../src/index.js';
import { tempDbPaths } from './temp-db.js';

const freshPath = tempDbPaths();

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** The schema as SQLite keeps it, in the form of the frozen fixtures. */
function schemaOf(path: string): string {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare("SELECT sql FROM sqlite_master WHERE name LIKE 'taskchart_%' ORDER BY name").all() as Array<{ sql: string }>;
  db.close();
  return rows.map((r) => `${r.sql};`).join('\n') + '\n';
}

/** A version 1 file: the frozen version 1 schema, and rows as the version 1 store wrote them. */
function v1File(edit?: string): string {
  const path = freshPath();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(fixture('sqlite-schema-v1.sql'));
  db.exec("INSERT INTO taskchart_meta (key, value) VALUES ('schema_version', '1')");
  db.exec(fixture('v1-rows.sql'));
  if (edit) db.exec(edit);
  db.close();
  return path;
}

const hooks: Claimant = { owner: 'test', now: 0, leaseMs: 1_000, hooks: true };

describe('sqlite store', () => {
  it('uses WAL with synchronous=NORMAL by default; a file store checkpoints on its thread, an in-memory one every 4,000 pages', async () => {
    const store = sqliteStore(freshPath());
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
    // The committing connection's own checkpoint is only the backstop (see sqlite-checkpointer.test.ts).
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(16_000);
    await store.close();
    const inMemory = sqliteStore(':memory:');
    expect(inMemory.db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    await inMemory.close();
  });

  it('keeps the frozen schema (change SCHEMA_VERSION and add a migration to change it)', async () => {
    const path = freshPath();
    await sqliteStore(path).close();
    expect(SCHEMA_VERSION).toBe(3);
    expect(schemaOf(path)).toBe(fixture('sqlite-schema-v3.sql'));
  });

  it('upgrades a version 2 file in place: its runs stay, the chain definitions table is added', async () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(fixture('sqlite-schema-v2.sql'));
    db.exec("INSERT INTO taskchart_meta (key, value) VALUES ('schema_version', '2')");
    db.exec(`INSERT INTO taskchart_runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, waiting, created_at, updated_at)
             VALUES ('kept', 'c', 'completed', 3, NULL, 1, 2, '{"value":"completed","context":{}}', '1', '[]', 5, 6)`);
    db.close();
    const store = sqliteStore(path);
    expect(schemaOf(path)).toBe(fixture('sqlite-schema-v3.sql'));
    expect(store.db.prepare("SELECT value FROM taskchart_meta WHERE key = 'schema_version'").pluck().get()).toBe('3');
    expect(await store.load('kept')).toMatchObject({ id: 'kept', status: 'completed', version: 3, totalAttempts: 2 });
    await store.recordDefinitions([{ chain: 'c', version: 1, fingerprint: 'f', definition: { machine: {} }, recordedAt: 7 }]);
    expect(await store.definitions()).toEqual([{ chain: 'c', version: 1, fingerprint: 'f', definition: { machine: {} }, recordedAt: 7 }]);
    await store.close();
  });

  it('refuses a database written by another schema version', async () => {
    const path = freshPath();
    const store = sqliteStore(path);
    store.db.prepare("UPDATE taskchart_meta SET value = '99' WHERE key = 'schema_version'").run();
    await store.close();
    expect(() => sqliteStore(path)).toThrow(`sqliteStore: ${path} has schema version 99; this version of Taskchart reads version 3 (and upgrades versions 1 and 2)`);
  });

  it('rejects an unknown option naming the key and the nearest valid one', () => {
    expect(() => sqliteStore(':memory:', { busyTimeout: 10 } as never)).toThrow(InvalidOptionError);
    expect(() => sqliteStore(':memory:', { busyTimeout: 10 } as never)).toThrow('sqliteStore: busyTimeout: unknown option; did you mean "busyTimeoutMs"?');
  });

  it('rejects a cursor it did not hand out, and a page size out of range', async () => {
    const store = sqliteStore(':memory:');
    await expect(store.events({ after: 'nope' })).rejects.toThrow('sqliteStore: events: after: must be a cursor this store returned, got "nope"');
    await expect(store.list({ cursor: 'nope' })).rejects.toThrow('sqliteStore: list: cursor');
    await expect(store.list({ limit: 1001 })).rejects.toThrow('sqliteStore: list: limit: must be a whole number from 1 to 1000, got 1001');
    await expect(store.claimOutbox({ ...hooks, leaseMs: 0 }, 1)).rejects.toThrow('sqliteStore: claimant.leaseMs');
    await store.close();
  });
});

describe('sqlite store: a version 1 file is upgraded in place when opened', () => {
  it('turns pending messages into waiting, counts attempts, keeps history cursors and the outbox', async () => {
    const path = v1File();
    const store = sqliteStore(path);
    expect(schemaOf(path)).toBe(fixture('sqlite-schema-v3.sql'));
    expect(store.db.prepare("SELECT value FROM taskchart_meta WHERE key = 'schema_version'").pluck().get()).toBe('3');

    const ok = await store.load('v1-ok');
    expect(ok).toMatchObject({ status: 'completed', version: 4, step: undefined, totalAttempts: 3, waiting: [], output: { id: 'ok', mode: 'ok', reserved: true, charged: true, confirmed: true } });

    const hang = await store.load('v1-hang');
    expect(hang).toMatchObject({ status: 'running', version: 2, step: 'charge', attempt: 1, totalAttempts: 2 });
    expect(hang?.waiting).toEqual([
      {
        kind: 'step',
        step: 'charge',
        attempt: 1,
        message: {
          queue: 'taskchart',
          body: '{"v":1,"kind":"task","runId":"v1-hang","chain":"order","step":"charge","task":"charge","attempt":1,"compensation":false,"input":{"id":"hang","mode":"hang","reserved":true}}',
          options: { deduplicationId: 'v1-hang:charge:1', groupId: 'v1-hang' },
        },
      },
    ]);

    const retry = await store.load('v1-retry');
    expect(retry).toMatchObject({ status: 'retrying', step: 'confirm', attempt: 2, totalAttempts: 3 });
    expect(retry?.waiting).toMatchObject([{ kind: 'timer', step: 'confirm', attempt: 2, dueAt: 1795916829239, message: { queue: 'taskchart', options: { delayMs: 3_600_000 } } }]);
    expect(retry?.waiting[0]?.message?.body).toContain('"event":"xstate.after.retryDelay.order.confirm.retrying","attempt":2');

    const fail = await store.load('v1-fail');
    expect(fail).toMatchObject({ status: 'compensating', step: 'charge', failedTask: 'confirm', totalAttempts: 4, error: { name: 'NonRetryableError', message: 'card declined' } });
    expect(fail?.waiting).toMatchObject([{ kind: 'compensation', step: 'charge', attempt: 1 }]);

    // History kept, with its seq as the event cursor and the run's chain.
    expect(await store.history('v1-retry')).toHaveLength(8);
    const events = await store.events({ limit: 1000 });
    expect(events).toHaveLength(28);
    expect(new Set(events.map((e) => e.chain))).toEqual(new Set(['order']));
    expect(events[0]?.cursor.startsWith('0000000000000001:')).toBe(true);
    expect((await store.events({ runId: 'v1-fail' })).map((e) => e.entry.type)).toEqual([
      'run.started',
      'step.started',
      'step.completed',
      'step.started',
      'step.completed',
      'step.started',
      'step.failed',
      'compensation.started',
    ]);

    // The outbox row is unclaimed: a hook claimant gets it, a hook-less one never does.
    expect(await store.claimOutbox({ ...hooks, hooks: false }, 10)).toEqual([]);
    expect(await store.claimOutbox(hooks, 10)).toMatchObject([{ runId: 'v1-fail', queue: null }]);

    // New writes continue the sequences (no cursor or outbox id reused).
    const next = await store.commit(
      [{ record: { ...hang!, version: 3, updatedAt: 2 }, expectedVersion: 2, history: [{ at: 2, type: 'step.completed', step: 'charge', attempt: 1 }], outbox: [{ queue: 'q', body: 'b' }] }],
      hooks,
    );
    expect(next[0]).toMatchObject({ ok: true, cursors: ['0000000000000015:0000'] });
    await store.close();

    // Opening it again finds version 2 and changes nothing.
    const again = sqliteStore(path);
    expect((await again.load('v1-hang'))?.version).toBe(3);
    await again.close();
  });

  it('derives waiting from the history where version 1 kept no message copies (a durable broker)', async () => {
    const store = sqliteStore(v1File("UPDATE taskchart_runs SET pending = '[]'"));
    expect((await store.load('v1-hang'))?.waiting).toEqual([{ kind: 'step', step: 'charge', attempt: 1 }]);
    // dueAt = the retrying entry's time + its delay: what the version 1 timer message said.
    expect((await store.load('v1-retry'))?.waiting).toEqual([{ kind: 'timer', step: 'confirm', attempt: 2, dueAt: 1795916829239 }]);
    expect((await store.load('v1-fail'))?.waiting).toEqual([{ kind: 'compensation', step: 'charge', attempt: 1 }]);
    expect((await store.load('v1-ok'))?.waiting).toEqual([]);
    await store.close();
  });

  it('leaves a version 1 file untouched when the upgrade fails half-way', () => {
    // A run whose pending is not JSON: the upgrade throws inside its transaction.
    const path = v1File("UPDATE taskchart_runs SET pending = 'not json' WHERE id = 'v1-hang'");
    expect(() => sqliteStore(path)).toThrow(SyntaxError);
    expect(schemaOf(path)).toBe(fixture('sqlite-schema-v1.sql'));
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM taskchart_runs').pluck().get()).toBe(4);
    expect(db.prepare("SELECT value FROM taskchart_meta WHERE key = 'schema_version'").pluck().get()).toBe('1');
    db.close();
  });
});
