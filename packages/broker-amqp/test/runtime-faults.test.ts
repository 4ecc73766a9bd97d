/**
 * End to end on RabbitMQ with faults: runs keep going through a connection RabbitMQ force-closes
 * mid-flight — every run completes, each step's side effect counted once per idempotency key
 * (a step may run again after a redelivery; it must not be skipped, and the chain must not stall).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chain, createRuntime, task, type Runtime } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupPrefix, forceCloseConnections, trackedBroker } from './helpers.js';

const runtimes: Runtime[] = [];
const prefixes: string[] = [];
const dirs: string[] = [];

describe('runtime on amqp: faults', () => {
  afterEach(async () => {
    await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
    for (const p of prefixes.splice(0)) await cleanupPrefix(p);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('completes every run through a forced connection close, with retries in flight', { timeout: 60_000 }, async () => {
    const prefix = `tc-${randomUUID().slice(0, 8)}-`;
    prefixes.push(prefix);
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-amqp-faults-'));
    dirs.push(dir);
    const connectionName = `taskchart-runtime-faults-${prefix}`;
    const broker = trackedBroker(prefix, { connectionName, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });

    const effects = new Map<string, number>();
    const record = (key: string) => effects.set(key, (effects.get(key) ?? 0) + 1);
    const reserve = task('reserve', (x: number, ctx) => {
      record(ctx.idempotencyKey);
      return x + 1;
    });
    // Fails its first attempt for every run: the retry goes through the delay ladder.
    const flaky = task(
      'flaky',
      (x: number, ctx) => {
        record(`${ctx.idempotencyKey}#${ctx.attempt}`);
        if (ctx.attempt === 1) throw new Error('transient');
        return x * 2;
      },
      // 8 s: longer than `rabbitmqctl close_connection` takes on a loaded machine (an Erlang VM starts
      // for each call), so the connection dies while every retry is still waiting.
      { retry: { maxRetries: 3, backoff: { initial: 8_000, jitter: 'none' } } },
    );
    const notify = task('notify', (x: number, ctx) => {
      record(ctx.idempotencyKey);
      return `done ${x}`;
    });
    const c = chain('faulty', reserve, flaky, notify);
    const runtime = createRuntime({ broker, store: sqliteStore(join(dir, 'runs.db')), chains: [c], logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();

    const runs = await Promise.all(Array.from({ length: 40 }, (_, i) => runtime.run(c, i)));
    let finished = 0;
    const results = Promise.all(runs.map((r) => r.result().finally(() => void finished++)));
    // Kill the connection once some runs are past their first step; their retries (8 s) are then
    // waiting in the delay ladder, and other steps are in flight.
    await waitFor(() => effects.size >= 10, 10_000, 'the first steps');
    expect(await forceCloseConnections(connectionName)).toBe(1);
    expect(finished).toBe(0);
    expect(await results).toEqual(Array.from({ length: 40 }, (_, i) => `done ${(i + 1) * 2}`));
    for (const run of runs) expect((await runtime.getRun(run.id))?.status).toBe('completed');
  });
});
