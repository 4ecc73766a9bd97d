/**
 * A store that refuses writes for a while: a finished step's outcome is kept and its commit
 * retried with backoff (the task is not run again); a message that could not even be loaded is
 * given back with a delay that grows with its redeliveries. And `close()` twice.
 */
import { chain, createRuntime, task, type AnyChain, type Broker, type Store } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { describe, expect, it } from 'vitest';
import { scratch } from './scratch.js';

const { database, runtimes } = scratch('outage');

/** A store whose writes (commits, outbox deletes) fail while `down.writes`, and whose loads fail while `down.loads > 0`. */
function outageStore(inner: Store, down: { writes: boolean; loads: number }): Store {
  return {
    commit: async (writes, claimant) => {
      if (down.writes) throw new Error('SQLITE_READONLY: attempt to write a readonly database');
      return inner.commit(writes, claimant);
    },
    load: async (id) => {
      if (down.loads > 0) {
        down.loads--;
        throw new Error('SQLITE_IOERR: disk I/O error');
      }
      return inner.load(id);
    },
    history: (id) => inner.history(id),
    list: (q) => inner.list(q),
    events: (q) => inner.events(q),
    claimOutbox: async (claimant, limit) => {
      if (down.writes) throw new Error('SQLITE_READONLY: attempt to write a readonly database');
      return inner.claimOutbox(claimant, limit);
    },
    deferOutbox: async (owner, ids, until) => {
      if (down.writes) throw new Error('SQLITE_READONLY: attempt to write a readonly database');
      return inner.deferOutbox(owner, ids, until);
    },
    deleteOutbox: async (ids) => {
      if (down.writes) throw new Error('SQLITE_READONLY: attempt to write a readonly database');
      return inner.deleteOutbox(ids);
    },
    recordDefinitions: async (records) => {
      if (down.writes) throw new Error('SQLITE_READONLY: attempt to write a readonly database');
      return inner.recordDefinitions(records);
    },
    definitions: (q) => inner.definitions(q),
    lastEventCursor: () => inner.lastEventCursor(),
    close: () => inner.close(),
  };
}

async function start(db: string, clock: ManualClock, chains: AnyChain[], down: { writes: boolean; loads: number }, broker: Broker = memoryBroker({ clock })) {
  const runtime = createRuntime({ broker, store: outageStore(sqliteStore(db), down), chains, clock, logger: silentLogger });
  runtimes.push(runtime);
  await runtime.start();
  return runtime;
}

describe('a store that refuses writes for a while', () => {
  it('keeps each finished step\'s outcome and retries its commit: every step runs once, every run completes', async () => {
    const clock = new ManualClock();
    const executions = new Map<string, number>();
    let outageBegun!: () => void;
    const gate = new Promise<void>((r) => (outageBegun = r));
    const count = (name: string) =>
      task(name, async (x: number, ctx) => {
        executions.set(ctx.idempotencyKey, (executions.get(ctx.idempotencyKey) ?? 0) + 1);
        await gate;
        return x + 1;
      });
    const c = chain('outage', count('charge'), count('ship'));
    const down = { writes: false, loads: 0 };
    const runtime = await start(database(), clock, [c], down);
    const runs = [];
    // Started while the store was up; their first steps finish while it refuses writes.
    for (let i = 0; i < 3; i++) runs.push(await runtime.run(c, i, { id: `o-${i}` }));
    await settle(10);
    down.writes = true;
    outageBegun();
    // About a minute of outage: commit retries at 100 ms, 200 ms, … up to 30 s apart.
    for (let i = 0; i < 40 && clock.now() < Date.UTC(2026, 0, 1) + 60_000; i++) {
      await settle(10);
      await clock.runNext();
    }
    expect(await runtime.getRun('o-0')).toMatchObject({ status: 'running', step: 'charge' });
    down.writes = false;
    for (let i = 0; i < 40; i++) {
      await settle(10);
      const statuses = await Promise.all(runs.map(async (r) => (await runtime.getRun(r.id))?.status));
      if (statuses.every((s) => s === 'completed')) break;
      await clock.runNext();
    }
    expect(await Promise.all(runs.map((r) => r.result()))).toEqual([2, 3, 4]);
    expect(Object.fromEntries(executions)).toEqual({
      'o-0:charge': 1,
      'o-0:ship': 1,
      'o-1:charge': 1,
      'o-1:ship': 1,
      'o-2:charge': 1,
      'o-2:ship': 1,
    });
  });

  it('gives a message it could not load back with a delay that grows with its redeliveries', async () => {
    const clock = new ManualClock();
    const db = database();
    const echo = task('echo', (x: number) => x);
    const c = chain('load-outage', echo);
    // A producer records the run; its message is re-dispatched from the store by the next life.
    const producer = createRuntime({ broker: memoryBroker({ clock }), store: sqliteStore(db), chains: [c], queues: [], clock, logger: silentLogger });
    runtimes.push(producer);
    await producer.start();
    await producer.run(c, 5, { id: 'l-1' });
    await producer.close();

    const deliveredAt: number[] = [];
    const inner = memoryBroker({ clock });
    const timing: Broker = {
      name: inner.name,
      capabilities: inner.capabilities,
      publish: (q, b, o) => inner.publish(q, b, o),
      consume: (q, handler, o) =>
        inner.consume(
          q,
          (d) => {
            deliveredAt.push(clock.now());
            return handler(d);
          },
          o,
        ),
      close: () => inner.close(),
    };
    const down = { writes: false, loads: 4 };
    const t0 = clock.now();
    const worker = await start(db, clock, [c], down, timing);
    for (let i = 0; i < 20 && deliveredAt.length < 5; i++) {
      await settle(10);
      await clock.runNext();
    }
    await settle(10);
    expect(await worker.result('l-1')).toBe(5);
    expect(deliveredAt.map((t) => t - t0)).toEqual([0, 100, 300, 700, 1500]);
  });

  it('does not hold close() while a step outcome waits for the store: the delivery is given back', async () => {
    const clock = new ManualClock();
    const db = database();
    let runs = 0;
    const c = chain('close-in-outage', task('once', (x: number) => (runs++, x)));
    const down = { writes: false, loads: 0 };
    const runtime = await start(db, clock, [c], down);
    await runtime.run(c, 1, { id: 'x-1' });
    down.writes = true;
    await settle(20);
    expect(runs).toBe(1);
    await runtime.close();
    down.writes = false;
    // The next life runs the step again (the outcome was never committed) and completes the run.
    const again = await start(db, clock, [c], down);
    for (let i = 0; i < 10 && (await again.getRun('x-1'))?.status !== 'completed'; i++) {
      await settle(10);
      await clock.runNext();
    }
    expect(await again.result('x-1')).toBe(1);
  });
});

describe('close()', () => {
  it('called twice while the first is running, resolves only once the runtime is closed', async () => {
    const clock = new ManualClock();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const c = chain('slow', task('slow', async (x: number) => (started(), await gate, x)));
    const runtime = await start(database(), clock, [c], { writes: false, loads: 0 });
    await runtime.run(c, 1);
    await running;
    let firstDone = false;
    let secondDone = false;
    const first = runtime.close().then(() => (firstDone = true));
    const second = runtime.close().then(() => (secondDone = true));
    await settle(20);
    // The in-flight step holds the first close(): the second must not resolve before it.
    expect([firstDone, secondDone]).toEqual([false, false]);
    release();
    await second;
    expect(firstDone).toBe(true);
    await first;
    await expect(runtime.run(c, 2)).rejects.toThrow('runtime.run(): the runtime is closed');
  });
});
