/**
 * Postgres refusing connections for 10 s while runs are in flight: the store reaches the server
 * through a TCP proxy the test controls (it drops every connection and refuses new ones, then
 * accepts again); the runtime runs on the real RabbitMQ. Every run completes, every step's effect
 * happens once, nothing is lost, the process does not crash on the dropped connections, and the
 * logs say what is happening.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { chain, createRuntime, task, type Logger, type Runtime } from '@taskchart/core';
import { waitFor } from '@taskchart/core/testing';
import { cleanupPrefix, trackedBroker } from '../../broker-amqp/test/helpers.js';
import { TcpProxy } from '../../broker-amqp/test/tcp-proxy.js';
import { PostgresUnavailableError, postgresStore } from '../src/index.js';
import { PG_URL, pgTestScope } from './pg-test.js';

const scope = pgTestScope('outage');
const prefix = `tc-pgoutage-${randomBytes(4).toString('hex')}-`;
const RUNS = 50;
const OUTAGE_MS = 10_000;

/** Each step's side effect, counted by run and step. */
const effects = new Map<string, number>();
const effect = (name: string) =>
  task(name, async (input: { id: string; n: number }) => {
    await new Promise((r) => setTimeout(r, 20 + (input.n % 7) * 30));
    effects.set(`${input.id}:${name}`, (effects.get(`${input.id}:${name}`) ?? 0) + 1);
    return input;
  });
const flow = chain('outage-flow', effect('reserve'), effect('charge'), effect('notify'));

const logs: { message: string; details: string }[] = [];
const record = (message: string, details?: Record<string, unknown>) => logs.push({ message, details: JSON.stringify(details ?? {}) });
const logger: Logger = { warn: record, error: record };

const proxyUrl = (proxy: TcpProxy) => PG_URL.replace(/@[^/]+\//, `@127.0.0.1:${proxy.port}/`);

describe('postgres store: an outage of the server', () => {
  let runtime: Runtime | undefined;
  const proxy = new TcpProxy('127.0.0.1', 5432);
  const late = new TcpProxy('127.0.0.1', 5432);
  afterAll(async () => {
    await runtime?.close();
    await proxy.down();
    await late.down();
    await cleanupPrefix(prefix);
    await scope.cleanup();
  });

  it('rejects calls with PostgresUnavailableError while the server is unreachable, and creates its schema once it is back', async () => {
    await late.up();
    await late.down(); // a port nobody listens on, until up() again
    const store = postgresStore({ connectionString: proxyUrl(late), schema: scope.schema(), applicationName: scope.applicationName, poolSize: 2, logger });
    try {
      await expect(store.ready()).rejects.toThrow(/cannot reach the server \(connect ECONNREFUSED/);
      const error: unknown = await store.load('r1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PostgresUnavailableError);
      expect((error as PostgresUnavailableError).message).toMatch(/^postgresStore: schema "tc_test_outage_\w+": cannot reach the server \(connect ECONNREFUSED .*\); the call may not have been applied, retry it$/);
      await late.up();
      expect(await store.load('r1')).toBeUndefined();
      expect((await store.list()).runs).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('loses nothing when Postgres refuses connections for 10 s with 50 runs in flight: every run completes, each step once', { timeout: 180_000 }, async () => {
    await proxy.up();
    const store = postgresStore({ connectionString: proxyUrl(proxy), schema: scope.schema(), applicationName: scope.applicationName, poolSize: 4, logger });
    await store.ready();
    runtime = createRuntime({ broker: trackedBroker(prefix), store, chains: [flow], logger, prefetch: 16 });
    await runtime.start();
    const handles = await Promise.all(Array.from({ length: RUNS }, (_, n) => runtime!.run(flow, { id: `run-${n}`, n }, { id: `run-${n}` })));
    const results = handles.map((h) => h.result());
    for (const r of results) r.catch(() => undefined);

    // Cut the server off mid-flight: some steps done, most runs still going.
    await waitFor(() => effects.size >= 20, 30_000, 'the first steps to run');
    const doneBefore = effects.size;
    expect(doneBefore).toBeLessThan(RUNS * 3);
    await proxy.down();
    const downAt = Date.now();
    // Steps finishing now cannot commit; messages cannot be loaded: the logs say so.
    await waitFor(() => logs.some((l) => l.details.includes('PostgresUnavailableError') || l.details.includes('cannot reach the server')), 20_000, 'a log line naming the outage');
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    await proxy.up();

    const outputs = await Promise.all(results);
    expect(outputs).toEqual(handles.map((_, n) => ({ id: `run-${n}`, n })));
    // Every step of every run took effect exactly once (nothing re-ran a finished step).
    expect(effects.size).toBe(RUNS * 3);
    const twice = [...effects].filter(([, count]) => count !== 1);
    expect(twice).toEqual([]);
    const page = await store.list({ limit: 100 });
    expect(page.runs.map((r) => r.status)).toEqual(Array.from({ length: RUNS }, () => 'completed'));
    // What the logs said while the server was away.
    const said = logs.map((l) => `${l.message} ${l.details}`);
    expect(said.some((l) => /cannot reach the server/.test(l))).toBe(true);
    expect(said.some((l) => /could not (commit a step outcome|handle a message)/.test(l))).toBe(true);
  });
});
