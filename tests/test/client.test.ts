/**
 * The client (issue 8, items 1, 4 and 8): it starts and reads runs and consumes nothing; its
 * event feed follows the store's event log, whichever process commits, and resumes after a
 * cursor without gap or duplicate; `result()` on a run nothing consumes says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createClient, createRuntime, RunCancelledError, RuntimeStateError, task, type Broker, type Client, type Runtime, type Store } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { take } from './feeds.js';

const closers: Array<() => Promise<void>> = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function database(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-client-'));
  dirs.push(dir);
  return join(dir, 'runs.db');
}

/** One store object shared by several runtimes of this process (the file is opened once); closed at the end. */
function shared(inner: Store): Store {
  closers.push(() => inner.close());
  return {
    commit: (writes, claimant) => inner.commit(writes, claimant),
    load: (id) => inner.load(id),
    history: (id) => inner.history(id),
    list: (q) => inner.list(q),
    events: (q) => inner.events(q),
    claimOutbox: (claimant, limit) => inner.claimOutbox(claimant, limit),
    deferOutbox: (owner, ids, until) => inner.deferOutbox(owner, ids, until),
    deleteOutbox: (ids) => inner.deleteOutbox(ids),
    recordDefinitions: (r) => inner.recordDefinitions(r),
    definitions: (q) => inner.definitions(q),
    lastEventCursor: () => inner.lastEventCursor(),
    close: async () => undefined,
  };
}

/** A broker that records what is asked of it. */
function spy(inner: Broker, capabilities = inner.capabilities) {
  const calls = { publish: [] as string[], consume: [] as string[] };
  const broker: Broker = {
    name: `spy-${inner.name}`,
    capabilities,
    publish: (queue, body, options) => {
      calls.publish.push(queue);
      return inner.publish(queue, body, options);
    },
    consume: (queue, handler, options) => {
      calls.consume.push(queue);
      return inner.consume(queue, handler, options);
    },
    close: () => inner.close(),
  };
  return { broker, calls };
}


const add = task('add', (x: number) => x + 1);
const times = task('times', (x: number) => x * 10);
const calc = chain('calc', add, times);

function client(broker: Broker, store: Store, extra: { clock?: ManualClock } = {}): Client {
  const c = createClient({ broker, store, chains: [calc], logger: silentLogger, ...extra });
  closers.push(() => c.close());
  return c;
}

async function worker(broker: Broker, store: Store): Promise<Runtime> {
  const r = createRuntime({ broker, store, chains: [calc], logger: silentLogger });
  closers.push(() => r.close());
  await r.start();
  return r;
}

describe('createClient', () => {
  it('starts and reads runs and consumes nothing', async () => {
    const { broker, calls } = spy(memoryBroker());
    const c = client(broker, sqliteStore(database()));
    const run = await c.run(calc, 1, { id: 'calc-1' });
    expect(calls.consume).toEqual([]);
    expect(calls.publish).toEqual(['taskchart']); // the first step, for a worker elsewhere
    expect(await c.getRun(run.id)).toMatchObject({ id: 'calc-1', status: 'running', step: 'add', attempts: 1, totalAttempts: 1 });
    const page = await c.listRuns({ status: ['running'], limit: 10 });
    expect(page.runs.map((r) => r.id)).toEqual(['calc-1']);
    expect(page.next).toBeUndefined();
    expect(() => createClient({ broker, store: shared(sqliteStore(database())), chains: [calc], queues: [] } as never)).toThrow(
      'createClient: queues: unknown option; valid options: broker, store, chains, logger, clock, signingKey, resultPoll',
    );
  });

  it('result() on a run nothing can consume rejects at once (producer-only, in-memory broker)', async () => {
    const c = client(memoryBroker(), sqliteStore(database()));
    const run = await c.run(calc, 1, { id: 'calc-2' });
    await expect(run.result()).rejects.toThrow(RuntimeStateError);
    await expect(run.result()).rejects.toThrow(
      'client.result(): run "calc-2" (chain "calc") is running and nothing can finish it: this client consumes no queue and its broker keeps messages in this process only',
    );
    const producer = createRuntime({ broker: memoryBroker(), store: sqliteStore(database()), chains: [calc], queues: [], logger: silentLogger });
    closers.push(() => producer.close());
    await producer.start();
    const other = await producer.run(calc, 2, { id: 'calc-3' });
    await expect(other.result()).rejects.toThrow('runtime.result(): run "calc-3" (chain "calc") is running and nothing can finish it');
  });

  it('result({ timeout }) on a run no worker consumes rejects after the timeout, naming the run and its status', async () => {
    const clock = new ManualClock();
    // A broker other processes could consume from (durable), with no worker on it.
    const { broker } = spy(memoryBroker({ clock }), { ...memoryBroker().capabilities, durable: true });
    const c = client(broker, sqliteStore(database()), { clock });
    const run = await c.run(calc, 1, { id: 'calc-4' });
    const result = run.result({ timeout: '30s' });
    const settled = result.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await clock.advance(30_000);
    const error = await settled;
    expect(error).toBeInstanceOf(RuntimeStateError);
    expect((error as Error).message).toBe(
      'client.result(): run "calc-4" (chain "calc") did not finish within 30s: it is running at step "add" (attempt 1). Is a worker consuming its queues? The run itself goes on.',
    );
  });

  it('result() of a run this process just started settles when another process finished it before the call', async () => {
    const store = shared(sqliteStore(database()));
    // Consumes a queue, but not the chain's: the run waits at its first step, in this process's cache.
    const a = createRuntime({ broker: memoryBroker(), store, chains: [calc], queues: ['elsewhere'], resultPoll: '20ms', logger: silentLogger });
    closers.push(() => a.close());
    await a.start();
    const run = await a.run(calc, 1, { id: 'cancelled-elsewhere' });
    const c = client(memoryBroker(), store);
    expect(await c.cancel(run.id, { reason: 'not needed' })).toMatchObject({ cancelled: true, status: 'cancelled' });
    await expect(run.result()).rejects.toThrow(RunCancelledError);
    await expect(a.result(run.id)).rejects.toThrow('was cancelled: not needed');
  });

  it('events() follows runs whichever runtime advances them, and resumes after a cursor with no gap and no duplicate', async () => {
    const store = shared(sqliteStore(database()));
    const brokerA = memoryBroker();
    const brokerB = memoryBroker();
    const a = await worker(brokerA, store);
    const b = await worker(brokerB, store);
    const c = client(memoryBroker(), store);
    const feed = c.events({ chain: 'calc' });
    const first = await a.run(calc, 1, { id: 'on-a' });
    const second = await b.run(calc, 2, { id: 'on-b' });
    expect([await first.result(), await second.result()]).toEqual([20, 30]);

    // Each run: started, add started/completed, times started/completed, completed = 6 events.
    const all = await take(feed, 12);
    const typesOf = (id: string) => all.filter((e) => e.runId === id).map((e) => e.type);
    const expected = ['run.started', 'step.started', 'step.completed', 'step.started', 'step.completed', 'run.completed'];
    expect(typesOf('on-a')).toEqual(expected);
    expect(typesOf('on-b')).toEqual(expected);
    expect(all.filter((e) => e.runId === 'on-a').map((e) => e.cursor)).toEqual((await take(c.events({ runId: 'on-a' }), 6)).map((e) => e.cursor));

    // A reader that stopped after 5 events resumes after the fifth's cursor: the rest, once each.
    const head = await take(c.events({ chain: 'calc' }), 5);
    const resumed = c.events({ chain: 'calc', after: head.at(-1)?.cursor ?? '' });
    const tail = await take(resumed, 7);
    expect([...head, ...tail].map((e) => e.cursor)).toEqual(all.map((e) => e.cursor));

    // It follows what comes next, too.
    const next = take(c.events({ after: all.at(-1)?.cursor ?? '' }), 1);
    await a.run(calc, 3, { id: 'later' });
    expect(await next).toEqual([expect.objectContaining({ type: 'run.started', runId: 'later', chain: 'calc' })]);
  });

  it('an events() feed ends when the client closes', async () => {
    const c = createClient({ broker: memoryBroker(), store: sqliteStore(database()), chains: [calc], logger: silentLogger });
    const feed = c.events();
    const reading = take(feed, 1);
    await c.close();
    expect(await reading).toEqual([]);
  });
});

describe('client plugins', () => {
  it("call onEvent for the client's own commits and messageHeaders for its messages; never onFailure or wrapAttempt", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-client-plugins-'));
    const broker = memoryBroker();
    const store = sqliteStore(join(dir, 'runs.db'));
    const seen: Array<{ step: string; traceparent: string | undefined }> = [];
    const fails = task('fails', () => {
      throw new Error('no');
    }, { retry: { maxRetries: 0 } });
    const c = chain('traced', task('first', (x: number) => x + 1), fails);
    const worker = createRuntime({
      broker,
      store,
      chains: [c],
      logger: silentLogger,
      plugins: [{ name: 'seen', wrapAttempt: (ctx, next) => (seen.push({ step: ctx.step, traceparent: ctx.headers['traceparent'] }), next()) }],
      onFailure: () => undefined,
    });
    const clientCalls: string[] = [];
    const client = createClient({
      broker,
      store,
      chains: [c],
      logger: silentLogger,
      plugins: [
        {
          name: 'trace',
          messageHeaders: (m) => (m.cause.kind === 'start' ? { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } : undefined),
          onEvent: (e) => void clientCalls.push(e.type),
          onFailure: () => void clientCalls.push('onFailure'),
          wrapAttempt: (_ctx, next) => (clientCalls.push('wrapAttempt'), next()),
        },
      ],
    });
    await worker.start();
    try {
      const run = await client.run(c, 1);
      await expect(worker.result(run.id)).rejects.toThrow();
      // The client's start message carried the header; the next step's message (written by the worker) did not.
      expect(seen).toEqual([
        { step: 'first', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
        { step: 'fails', traceparent: undefined },
      ]);
      expect(clientCalls).toEqual(['run.started', 'step.started']);
      // @ts-expect-error -- not a plugin hook
      expect(() => createClient({ broker, store, chains: [c], plugins: [{ name: 'x', onEvnt: () => undefined }] })).toThrow(/createClient: plugins\[0\]: onEvnt: unknown option/);
    } finally {
      await client.close();
      await worker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
