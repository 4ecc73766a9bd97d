/**
 * Waking, not polling: a client whose slow poll is 30 s sees a run that a worker on ANOTHER store
 * instance (its own pool and LISTEN connection) finished within a second or so, through
 * LISTEN/NOTIFY, for `result()` and `events()`; the LISTEN connection killed by the server is
 * reconnected; nothing stays connected after close.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chain, createClient, createRuntime, task, type Client, type Logger, type RunEvent } from '@taskchart/core';
import { waitFor } from '@taskchart/core/testing';
import type { Store } from '@taskchart/core/adapter';
import { cleanupPrefix, trackedBroker } from '../../broker-amqp/test/helpers.js';
import { postgresStore, type PostgresStore } from '../src/index.js';
import { PG_URL, pgTestScope } from './pg-test.js';

const scope = pgTestScope('watch');
const prefix = `tc-pgwatch-${randomBytes(4).toString('hex')}-`;
const SLOW_POLL_MS = 30_000;

/** Steps wait at a gate the test opens. */
const gates = new Map<string, () => void>();
const entered = new Set<string>();
const gated = task('gated', async (input: { key: string }) => {
  entered.add(input.key);
  await new Promise<void>((resolve) => gates.set(input.key, resolve));
  return { done: input.key };
});
const watched = chain('watched', gated);

/** Counts the client's reads of the event log, and when the last one was. */
function counted(store: PostgresStore): { store: Store; reads: () => number; lastReadAt: () => number } {
  let reads = 0;
  let lastReadAt = Date.now();
  const wrapped: Store = {
    commit: (w, c) => store.commit(w, c),
    load: (id) => store.load(id),
    history: (id) => store.history(id),
    list: (q) => store.list(q),
    events: (q) => {
      reads++;
      lastReadAt = Date.now();
      return store.events(q);
    },
    claimOutbox: (c, l) => store.claimOutbox(c, l),
    deferOutbox: (o, i, u) => store.deferOutbox(o, i, u),
    deleteOutbox: (i) => store.deleteOutbox(i),
    recordDefinitions: (r) => store.recordDefinitions(r),
    definitions: (q) => store.definitions(q),
    lastEventCursor: () => store.lastEventCursor(),
    watch: (listener) => store.watch(listener),
    close: () => store.close(),
  };
  return { store: wrapped, reads: () => reads, lastReadAt: () => lastReadAt };
}

const logs: string[] = [];
const logger: Logger = { warn: (m) => logs.push(m), error: (m) => logs.push(m) };
const open: { close(): Promise<void> }[] = [];

async function setup() {
  const schema = scope.schema();
  const options = { connectionString: PG_URL, schema, applicationName: scope.applicationName, poolSize: 3, logger };
  const worker = createRuntime({ broker: trackedBroker(prefix), store: postgresStore(options), chains: [watched], logger });
  open.push(worker);
  await worker.start();
  // The client's LISTEN goes its own way (as past a PgBouncer in transaction mode).
  const clientStore = postgresStore({ ...options, listenConnectionString: PG_URL });
  const reads = counted(clientStore);
  const client = createClient({ broker: trackedBroker(prefix), store: reads.store, chains: [watched], resultPoll: `${SLOW_POLL_MS}ms`, logger });
  open.push(client);
  return { worker, client, clientStore, reads };
}

/** Starts a gated run, follows it with result() and events(), and waits until both feeds only poll slowly. */
async function startQuiet(client: Client, reads: ReturnType<typeof counted>, key: string) {
  const handle = await client.run(watched, { key }, { id: key });
  const result = handle.result();
  const events: RunEvent[] = [];
  const following = (async () => {
    for await (const e of client.events({ runId: key })) {
      events.push(e);
      if (e.type === 'run.completed') return;
    }
  })();
  await waitFor(() => entered.has(key), 20_000, `step of ${key} to start`);
  await waitFor(() => events.some((e) => e.type === 'step.started'), 20_000, 'events() to see the step start');
  // After a hint a feed re-reads for about 1.5 s (50 ms doubling to 1 s); then only a hint or the 30 s poll reads.
  await waitFor(() => Date.now() - reads.lastReadAt() > 2_500, 20_000, 'the feeds to fall back to the slow poll');
  return { result, events, following };
}

describe('postgres store: waking followers with LISTEN/NOTIFY', () => {
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
    for (const release of gates.values()) release();
    gates.clear();
  });
  afterAll(async () => {
    await cleanupPrefix(prefix);
    await scope.cleanup();
  });

  it('result() and events() see a run finished by another store instance at once, not at the 30 s poll', { timeout: 60_000 }, async () => {
    const { client, reads } = await setup();
    const { result, events, following } = await startQuiet(client, reads, 'r1');
    const readsBefore = reads.reads();
    const released = Date.now();
    gates.get('r1')?.();
    await expect(result).resolves.toEqual({ done: 'r1' });
    await following;
    const latency = Date.now() - released;
    expect(events.map((e) => e.type)).toContain('run.completed');
    // The worker's commit reached this client through NOTIFY: well under the 30 s slow poll.
    expect(latency).toBeLessThan(5_000);
    // Woken reads only (a few per feed), not a poll loop.
    expect(reads.reads() - readsBefore).toBeLessThan(30);
  });

  it('survives the server killing the LISTEN connection: it reconnects and wakes followers again', { timeout: 60_000 }, async () => {
    const { client, clientStore, reads } = await setup();
    // The client listens while it follows something: follow every run until it closes.
    const everything = (async () => {
      for await (const e of client.events()) void e;
    })();
    await waitFor(() => clientStore.watchBackendPid !== undefined, 20_000, 'the LISTEN connection');
    const pid = clientStore.watchBackendPid;
    const [killed] = await scope.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(killed?.ok).toBe(true);
    await waitFor(() => logs.some((l) => l.includes('LISTEN connection lost')), 20_000, 'the lost connection to be logged');
    await waitFor(() => clientStore.watchBackendPid !== undefined && clientStore.watchBackendPid !== pid, 20_000, 'a new LISTEN connection');
    expect(logs.some((l) => l.includes('LISTEN connection back'))).toBe(true);
    const { result } = await startQuiet(client, reads, 'r2');
    const released = Date.now();
    gates.get('r2')?.();
    await expect(result).resolves.toEqual({ done: 'r2' });
    expect(Date.now() - released).toBeLessThan(5_000);
    await client.close();
    await everything;
  });
});
