/**
 * Issue 12: dead letters an operator can list and send back. A worker that lacks a chain
 * dead-letters its runs' messages, and a malformed message is dead-lettered too; the client lists
 * both with their reasons (and the run, chain and step the good one names); once a worker with
 * the chain is deployed, a redrive by id finishes the run, and a redrive of the rest moves the
 * malformed message back to its queue. On RabbitMQ: a durable broker, so a starting runtime
 * re-dispatches nothing and only the redrive can bring the message back.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { chain, createClient, createRuntime, InvalidOptionError, RuntimeStateError, task, type Broker, type Client, type Store } from '@taskchart/core';
import { DEAD_LETTER_REASON_HEADER } from '@taskchart/core/adapter';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { amqpBroker, deleteTopology, type AmqpBroker } from '@taskchart/broker-amqp';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { scratch } from './scratch.js';

const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const space = scratch('dead-letters');
const brokers: AmqpBroker[] = [];
const clients: Client[] = [];
const stores: Store[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  await Promise.allSettled(stores.splice(0).map((s) => s.close()));
  const declared = brokers.splice(0).map((b) => b.declared());
  // After the runtimes (closed by scratch) and clients let go of their queues.
  await Promise.allSettled(space.runtimes.splice(0).map((r) => r.close()));
  await deleteTopology(AMQP_URL, { queues: [...new Set(declared.flatMap((d) => d.queues))], exchanges: [...new Set(declared.flatMap((d) => d.exchanges))] });
});

/**
 * One SQLite store object for every runtime and client of a test (one file is opened by one store
 * per process), handed to each as a view whose close() leaves it open for the next; the test
 * closes it at the end.
 */
function sharedStore(path: string): () => Store {
  const store = sqliteStore(path);
  stores.push(store);
  return () =>
    new Proxy(store, {
      get(target, key) {
        if (key === 'close') return async () => undefined;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
}

/** Resolves once the async `check` answered true (asked again as soon as each answer comes back). */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  let ok = false;
  let asking = false;
  await waitFor(
    () => {
      if (!ok && !asking) {
        asking = true;
        void check().then(
          (answer) => {
            ok = answer;
            asking = false;
          },
          () => {
            asking = false;
          },
        );
      }
      return ok;
    },
    timeoutMs,
    what,
  );
}

const echo = chain('echo-chain', task('echo', (x: number) => x));
const ghost = chain('ghost-chain', task('haunt', (x: number) => x * 2));

describe('dead letters', () => {
  it('lists what a worker dead-lettered with reasons, and a redrive sends it back to be handled', async () => {
    const prefix = `tc-dlq-${randomUUID().slice(0, 8)}-`;
    const store = sharedStore(space.database());
    const broker = () => {
      const b = amqpBroker({ url: AMQP_URL, queuePrefix: prefix, onError: () => undefined });
      brokers.push(b);
      return b;
    };
    const worker = async (chains: Parameters<typeof createRuntime>[0]['chains']) => {
      const r = createRuntime({ broker: broker(), store: store(), chains, queues: ['taskchart'], logger: silentLogger });
      space.runtimes.push(r);
      await r.start();
      return r;
    };
    // The operator's client knows both chains; the first worker was deployed without ghost-chain.
    const client = createClient({ broker: broker(), store: store(), chains: [echo, ghost], logger: silentLogger });
    clients.push(client);
    const old = await worker([echo]);

    const run = await client.run(ghost, 21, { id: 'ghost-run' });
    const producer = broker();
    await producer.publish('taskchart', '{not json', { headers: { 'x-trace': 't-1' } });
    await producer.close();
    await eventually(async () => (await client.deadLetters()).length === 2, 10_000, 'two dead letters');

    const listed = await client.deadLetters();
    const haunted = listed.find((d) => d.runId === 'ghost-run');
    const malformed = listed.find((d) => d.body === '{not json');
    expect(haunted).toMatchObject({ queue: 'taskchart', chain: 'ghost-chain', step: 'haunt' });
    expect(haunted?.reason).toContain('unknown chain "ghost-chain" (run ghost-run)');
    expect(malformed).toMatchObject({ queue: 'taskchart', headers: { 'x-trace': 't-1' } });
    expect(malformed?.reason).toContain('malformed message: not JSON');
    expect(malformed?.runId).toBeUndefined();
    expect(malformed?.headers[DEAD_LETTER_REASON_HEADER]).toBeUndefined();
    // Listing again shows the same: nothing was taken.
    expect((await client.deadLetters({ queue: 'taskchart' })).map((d) => d.id)).toEqual(listed.map((d) => d.id));
    expect(await client.deadLetters({ limit: 1 })).toHaveLength(1);
    expect((await client.getRun(run.id))?.status).toBe('running');

    // The fix is deployed: a worker with ghost-chain. Nothing comes back by itself.
    await old.close();
    await worker([echo, ghost]);
    expect(await client.redriveDeadLetters({ queue: 'taskchart', ids: [haunted?.id ?? ''], by: 'ops:ana' })).toBe(1);
    expect(await run.result({ timeout: '10s' })).toBe(42);
    // The run's history says whose redrive sent its message back, and why it had been dead-lettered.
    const noted = (await client.getRun(run.id))?.history.filter((e) => e.type === 'dead-letter.redriven');
    expect(noted).toEqual([expect.objectContaining({ step: 'haunt', by: 'ops:ana', reason: haunted?.reason })]);
    expect((await client.deadLetters()).map((d) => d.body)).toEqual(['{not json']);

    // With no worker consuming, a redrive of everything leaves the dead-letter queue empty; the
    // next worker dead-letters the malformed message again, with the same reason.
    await Promise.all(space.runtimes.splice(0).map((r) => r.close()));
    expect(await client.redriveDeadLetters({ queue: 'taskchart' })).toBe(1);
    expect(await client.deadLetters()).toEqual([]);
    await worker([echo, ghost]);
    await eventually(async () => (await client.deadLetters()).length === 1, 10_000, 'the malformed message dead-lettered again');
    expect((await client.deadLetters())[0]).toMatchObject({ body: '{not json', reason: malformed?.reason, headers: { 'x-trace': 't-1' } });
  });

  it('rejects unknown options, bad limits and queues, and a broker that cannot list dead letters', async () => {
    const memory = memoryBroker();
    const client = createClient({ broker: memory, store: sqliteStore(space.database()), chains: [echo], logger: silentLogger });
    clients.push(client);
    await expect(client.deadLetters({ limit: 0 })).rejects.toThrow(new InvalidOptionError('client.deadLetters(): limit', 'must be a whole number from 1 to 1000, got 0'));
    await expect(client.deadLetters({ queues: ['x'] } as never)).rejects.toThrow(InvalidOptionError);
    await expect(client.deadLetters({ queue: '' })).rejects.toThrow(InvalidOptionError);
    await expect(client.redriveDeadLetters({} as never)).rejects.toThrow('client.redriveDeadLetters(): queue');
    await expect(client.redriveDeadLetters({ queue: 'taskchart', ids: 'all' } as never)).rejects.toThrow('client.redriveDeadLetters(): ids');
    await expect(client.redriveDeadLetters({ queue: 'taskchart', by: '' })).rejects.toThrow('client.redriveDeadLetters(): by: must be a non-empty string of at most 200 characters');
    expect(await client.deadLetters()).toEqual([]);
    expect(await client.redriveDeadLetters({ queue: 'taskchart' })).toBe(0);

    const bare: Broker = { name: 'bare', capabilities: memory.capabilities, publish: memory.publish.bind(memory), consume: memory.consume.bind(memory), close: memory.close.bind(memory) };
    const plain = createClient({ broker: bare, store: sqliteStore(space.database()), chains: [echo], logger: silentLogger });
    clients.push(plain);
    await expect(plain.deadLetters()).rejects.toThrow(new RuntimeStateError('client.deadLetters(): broker "bare" cannot list dead letters (it has no deadLetters access)'));
    await expect(plain.redriveDeadLetters({ queue: 'taskchart' })).rejects.toBeInstanceOf(RuntimeStateError);

    await plain.close();
    await expect(plain.deadLetters()).rejects.toThrow('client.deadLetters(): the client is closed');
  });
});
