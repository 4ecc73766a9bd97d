/**
 * `taskchart dlq list|redrive` on a real RabbitMQ and SQLite file: a worker deployed without the
 * `order` chain dead-letters a run's first task; the CLI lists it with its reason, and once a
 * worker that has the chain runs, re-drives it and the run completes.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createClient, createRuntime, type Client, type Runtime } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { amqpBroker, deleteTopology, type AmqpBroker } from '@taskchart/broker-amqp';
import { eventually, PACKAGE, projects, sqliteConfig } from './cli-harness.js';
import { greetings, order, refund } from './fixtures/chains.js';

const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

const project = projects();
const open: (Runtime | Client)[] = [];
const brokers: AmqpBroker[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((o) => o.close()));
  const names = brokers.splice(0).map((b) => b.declared());
  await deleteTopology(AMQP_URL, { queues: names.flatMap((n) => n.queues), exchanges: names.flatMap((n) => n.exchanges) });
});

describe('taskchart dlq (SQLite + RabbitMQ)', () => {
  it('lists dead letters with their reason and run; redrive --yes sends them back and the run completes', async () => {
    const p = project();
    const prefix = `tc-cli-dlq-${randomBytes(4).toString('hex')}-`;
    const amqp = join(PACKAGE, '..', 'broker-amqp', 'src', 'index.ts');
    p.write('taskchart.config.ts', sqliteConfig(p.db, `amqpBroker({ url: ${JSON.stringify(AMQP_URL)}, queuePrefix: ${JSON.stringify(prefix)} })`, `import { amqpBroker } from ${JSON.stringify(amqp)};`));
    const broker = () => {
      const b = amqpBroker({ url: AMQP_URL, queuePrefix: prefix });
      brokers.push(b);
      return b;
    };
    // A worker deployed without the `order` chain, and a web process that starts an order.
    // (One store object per file and process: the SQLite store refuses a second one.)
    const store = sqliteStore(p.db);
    const stale = createRuntime({ store, broker: broker(), chains: [refund], logger: silentLogger });
    open.push(stale);
    await stale.start();
    const web = createClient({ store, broker: broker(), chains: [order], logger: silentLogger });
    open.push(web);
    await web.run(order, { id: 'd-1', apiToken: 'secret-token' }, { id: 'd-1' });
    await eventually(async () => (await web.deadLetters({ queue: 'taskchart' })).length === 1, 20_000, 'the task message to be dead-lettered');

    const listed = await p.run(['dlq', 'list', '--json']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const { deadLetters } = JSON.parse(listed.stdout) as { deadLetters: { id: string; queue: string; runId?: string; chain?: string; step?: string; reason: string; body: string }[] };
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ queue: 'taskchart', runId: 'd-1', chain: 'order', step: 'quote' });
    expect(deadLetters[0]?.reason).toMatch(/order/);
    expect(deadLetters[0]?.body).not.toContain('secret-token');
    const table = await p.run(['dlq', 'list', '--queue', 'taskchart']);
    expect(table.stdout).toMatch(/^ID\s+QUEUE\s+RUN\s+CHAIN\s+STEP\s+REASON$/m);
    expect(table.stdout).toMatch(/\staskchart\s+d-1\s+order\s+quote\s/);

    const refused = await p.run(['dlq', 'redrive', '--queue', 'taskchart']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refused, stdin is not a terminal; pass --yes/);

    // The fix is deployed: a worker with the chain replaces the stale one.
    await web.close();
    await stale.close();
    const fixed = createRuntime({ store: sqliteStore(p.db), broker: broker(), chains: [order, refund, ...greetings], logger: silentLogger });
    open.push(fixed);
    await fixed.start();
    const moved = await p.run(['dlq', 'redrive', '--queue', 'taskchart', '--id', deadLetters[0]?.id ?? '', '--yes', '--json']);
    expect(moved.stderr).toBe('');
    expect(JSON.parse(moved.stdout)).toEqual({ moved: 1 });
    await eventually(async () => (await fixed.getRun('d-1'))?.status === 'completed', 20_000, 'd-1 to complete');
    const empty = await p.run(['dlq', 'list']);
    expect(empty.stdout).toBe('no dead letters\n');
  }, 120_000);
});
