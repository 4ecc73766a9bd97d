/**
 * Eager dispatch: a step this runtime commits, on a queue it consumes, runs here at once instead
 * of going through the broker; its outbox entry stays claimed (the lease renewed) until the
 * step's outcome is committed.
 */
import Database from 'better-sqlite3';
import { chain, createRuntime, InvalidOptionError, task, type Broker } from '@taskchart/core';
import { parseMessage } from '@taskchart/core/adapter';
import { settle } from '@taskchart/core/testing';
import { memoryBroker, type MemoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

/**
 * Records the step of every task message the runtime publishes. `durable` makes the runtime treat
 * the broker as one that keeps its messages across a crash (RabbitMQ, SQS): messages then go
 * through outbox rows, where with a memory broker the run's `waiting` copies stand in for them.
 */
function recording(published: string[], durable = false): (broker: MemoryBroker) => Broker {
  return (broker) => ({
    name: broker.name,
    capabilities: { ...broker.capabilities, durable },
    publish: async (queue, body, options) => {
      const parsed = parseMessage(body);
      if (parsed.ok && parsed.message.kind === 'task') published.push(parsed.message.step);
      await broker.publish(queue, body, options);
    },
    consume: (queue, handler, options) => broker.consume(queue, handler, options),
    close: () => broker.close(),
  });
}

/** The outbox as the store file holds it, read over a connection of its own. */
function outbox(dbPath: string): Array<{ body: string; claimed_until: number }> {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT body, claimed_until FROM taskchart_outbox ORDER BY id').all() as Array<{ body: string; claimed_until: number }>;
  } finally {
    db.close();
  }
}

/** What run `id` waits for, as the store file holds it. */
function waitingOf(dbPath: string, id: string): unknown {
  const db = new Database(dbPath, { readonly: true });
  try {
    return JSON.parse(db.prepare('SELECT waiting FROM taskchart_runs WHERE id = ?').pluck().get(id) as string) as unknown;
  } finally {
    db.close();
  }
}

/** A task that returns its input once `release()` is called (it holds its slot until then). */
function gated(name: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    task: task(name, async (x: number) => {
      await gate;
      return x;
    }),
    release,
  };
}

const add = (n: number) => task(`add${n}`, (x: number) => x + n);
const terminal = async (id: string) => ['completed', 'failed', 'compensated'].includes((await h?.runtime.getRun(id))?.status ?? '');

describe('eager dispatch', () => {
  it('runs every step of a chain here, publishing none, and leaves the outbox empty', async () => {
    const c = chain('eager-all', add(1), add(2), add(3), add(4));
    const published: string[] = [];
    h = await harness([c], {}, recording(published));
    const run = await h.runtime.run(c, 0, { id: 'e-1' });
    await h.drive(() => terminal(run.id));
    expect(await run.result()).toBe(10);
    expect(published).toEqual([]);
    await h.runtime.close();
    expect(outbox(h.dbPath)).toEqual([]);
  });

  it('sends every step through the broker with eagerDispatch: false', async () => {
    const c = chain('eager-off', add(1), add(2), add(3), add(4));
    const published: string[] = [];
    h = await harness([c], { eagerDispatch: false }, recording(published));
    const run = await h.runtime.run(c, 0, { id: 'e-2' });
    await h.drive(() => terminal(run.id));
    expect(await run.result()).toBe(10);
    expect(published).toEqual(['add1', 'add2', 'add3', 'add4']);
  });

  it('publishes a step that finds every eager slot of its queue taken (prefetch)', async () => {
    const { task: slow, release } = gated('slow');
    const c = chain('eager-slots', slow, add(1));
    const published: string[] = [];
    h = await harness([c], { prefetch: 1 }, recording(published));
    const first = await h.runtime.run(c, 1, { id: 'e-3a' });
    const second = await h.runtime.run(c, 2, { id: 'e-3b' });
    await settle(10);
    // The first run took the one eager slot; the second's step went to the broker.
    expect(published).toEqual(['slow']);
    release();
    await h.drive(async () => (await terminal(first.id)) && terminal(second.id));
    expect([await first.result(), await second.result()]).toEqual([2, 3]);
  });

  it('keeps its claim on the outbox entry of a long step: renewed every half lease', async () => {
    const { task: long, release } = gated('long');
    const c = chain('eager-lease', long);
    h = await harness([c], { outboxLease: '10s' }, recording([], true));
    const run = await h.runtime.run(c, 7, { id: 'e-4' });
    await settle(10);
    const [entry] = outbox(h.dbPath);
    expect(entry?.claimed_until).toBe(h.clock.now() + 10_000);
    // A minute passes while the step runs: its claim never runs out.
    for (let i = 0; i < 12; i++) {
      await h.clock.advance(5_000);
      await settle(10);
      const [held] = outbox(h.dbPath);
      expect(held?.claimed_until).toBeGreaterThan(h.clock.now());
    }
    release();
    await h.drive(() => terminal(run.id));
    expect(await run.result()).toBe(7);
    await h.runtime.close();
    expect(outbox(h.dbPath)).toEqual([]);
  });

  it('writes no outbox row for a step when the broker keeps nothing across a crash: the run waits on a copy of its message', async () => {
    const { task: held, release } = gated('held');
    const c = chain('eager-unstored', held);
    h = await harness([c], {}, recording([]));
    const run = await h.runtime.run(c, 3, { id: 'e-5' });
    await settle(10);
    const rows = outbox(h.dbPath);
    const waiting = waitingOf(h.dbPath, run.id);
    release();
    expect(rows).toEqual([]);
    expect(waiting).toMatchObject([{ kind: 'step', step: 'held', attempt: 1, message: { queue: 'taskchart' } }]);
    await h.drive(() => terminal(run.id));
    expect(await run.result()).toBe(3);
  });

  it('rejects an eagerDispatch that is not a boolean, naming the option', () => {
    const c = chain('eager-bad', add(1));
    const make = () => createRuntime({ broker: memoryBroker(), store: sqliteStore(':memory:'), chains: [c], eagerDispatch: 'yes' as unknown as boolean });
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(/createRuntime: eagerDispatch.*must be true or false/);
  });
});
