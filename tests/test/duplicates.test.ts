import Database from 'better-sqlite3';
import { chain, task, type Broker, type RunInfo } from '@taskchart/core';
import { parseMessage } from '@taskchart/core/adapter';
import { settle } from '@taskchart/core/testing';
import type { MemoryBroker } from '@taskchart/broker-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);

/** Records the body of every task message the runtime publishes. */
function recording(published: string[], durable = false): (broker: MemoryBroker) => Broker {
  return (broker) => ({
    name: broker.name,
    // Durable: messages go through outbox rows (as on RabbitMQ, SQS), which the eager case reads.
    capabilities: { ...broker.capabilities, durable },
    publish: async (queue, body, options) => {
      published.push(body);
      await broker.publish(queue, body, options);
    },
    consume: (queue, handler, options) => broker.consume(queue, handler, options),
    close: () => broker.close(),
  });
}

describe.each([
  ['through the broker', false],
  ['run here at once (eager dispatch)', true],
])('duplicate deliveries in one process, a step %s', (_how, eager) => {
  it('a copy of a step that is running here waits for it, then is dropped: the step runs once', async () => {
    let executions = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = task('slow', async (x: number) => {
      executions++;
      await gate;
      return x + 1;
    });
    const after = task('after', (x: number) => x * 10);
    const c = chain('dup', slow, after);
    const published: string[] = [];
    h = await harness([c], { eagerDispatch: eager }, recording(published, eager));
    const run = await h.runtime.run(c, 1, { id: 'dup-1' });
    await settle(10);
    expect(executions).toBe(1);

    const isSlowTask = (b: string) => {
      const parsed = parseMessage(b);
      return parsed.ok && parsed.message.kind === 'task' && parsed.message.step === 'slow';
    };
    // The step's message: published, or (run here) never published and kept in the outbox until
    // its outcome is committed, the safety net a crash falls back on.
    const outbox = outboxBodies(h.dbPath);
    const first = eager ? outbox.find(isSlowTask) : published.find(isSlowTask);
    expect(published.some(isSlowTask)).toBe(!eager);
    expect(first).toBeDefined();
    // The same message again (as a broker redelivery racing an outbox republish would bring it).
    await h.broker.publish('taskchart', first ?? '');
    await h.broker.publish('taskchart', first ?? '');
    await settle(10);
    expect(executions).toBe(1);

    release();
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(await run.result()).toBe(20);
    expect(executions).toBe(1);
    const history = (await h.runtime.getRun(run.id))?.history ?? [];
    expect(history.filter((e) => e.type === 'step.completed').map((e) => e.step)).toEqual(['slow', 'after']);
    await h.runtime.close();
    expect(outboxBodies(h.dbPath)).toEqual([]);
  });
});

/** The bodies of the outbox entries in the store file, read over a connection of its own. */
function outboxBodies(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT body FROM taskchart_outbox ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}
