/**
 * Two runtimes of one process on one store object (issue 7, item 7). A runtime on a broker that
 * does not keep messages re-dispatches every active run of its store as it starts; beside another
 * started runtime it ran that one's in-flight steps again (20 of 80 steps twice here). Now it
 * re-dispatches nothing when a live memory-broker runtime on the store did already, and its start
 * is refused beside durable-broker runtimes only (whose messages it would copy).
 */
import { chain, createRuntime, RuntimeStateError, task, type AnyChain, type Broker } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { expect, it } from 'vitest';
import { scratch } from './scratch.js';

const { database, runtimes } = scratch('two-runtimes');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A chain of four steps of 20 ms each, counting each step's executions by idempotency key. */
function counted() {
  const counts = new Map<string, number>();
  const step = (name: string) =>
    task(name, async (x: number, ctx) => {
      counts.set(ctx.idempotencyKey, (counts.get(ctx.idempotencyKey) ?? 0) + 1);
      await sleep(20);
      return x + 1;
    });
  return { counts, c: chain('two-runtimes', step('s1'), step('s2'), step('s3'), step('s4')) };
}

/** A runtime on `broker` and `store` for chain `c`, closed after the test (not started). */
function runtimeOn(broker: Broker, store: ReturnType<typeof sqliteStore>, c: AnyChain) {
  const runtime = createRuntime({ broker, store, chains: [c], logger: silentLogger });
  runtimes.push(runtime);
  return runtime;
}

/** Resolves once `n` steps have started: runs are in flight. */
const inFlight = (counts: Map<string, number>, n: number) => waitFor(() => counts.size >= n, 5_000, `${n} steps started`);

/** A memory broker that says it keeps its messages (as RabbitMQ and SQS do): its runtime re-dispatches nothing. */
const durable = (inner: Broker): Broker => ({
  name: inner.name,
  capabilities: { ...inner.capabilities, durable: true },
  publish: (queue, body, options) => inner.publish(queue, body, options),
  consume: (queue, handler, options) => inner.consume(queue, handler, options),
  close: () => inner.close(),
});

it('a second memory-broker runtime started while the first has 20 runs in flight re-runs none of their steps', async () => {
  const { counts, c } = counted();
  const store = sqliteStore(database());
  const first = runtimeOn(memoryBroker(), store, c);
  await first.start();
  const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => first.run(c, i)));
  await inFlight(counts, 1);
  const second = runtimeOn(memoryBroker(), store, c);
  await second.start();
  const more = await Promise.all(Array.from({ length: 5 }, (_, i) => second.run(c, 100 + i)));
  expect(await Promise.all(runs.map((r) => r.result()))).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
  expect(await Promise.all(more.map((r) => r.result()))).toEqual([104, 105, 106, 107, 108]);
  expect(counts.size).toBe(100);
  expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
});

it('refuses to start a memory-broker runtime beside a durable-broker one on the same store; a durable one may start', async () => {
  const { counts, c } = counted();
  const store = sqliteStore(database());
  const hub = memoryBroker();
  const first = runtimeOn(durable(hub), store, c);
  await first.start();
  const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => first.run(c, i)));
  await inFlight(counts, 1);
  const memory = runtimeOn(memoryBroker(), store, c);
  const refused = await memory.start().catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(RuntimeStateError);
  expect((refused as Error).message).toContain('another runtime of this process is started on this store with a durable broker');
  const second = runtimeOn(durable(hub), store, c);
  await second.start();
  expect(await Promise.all(runs.map((r) => r.result()))).toEqual(Array.from({ length: 10 }, (_, i) => i + 4));
  expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
});
