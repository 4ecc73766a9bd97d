/**
 * Delays and timeouts longer than Node's 2^31-1 ms timer limit (about 24.8 days), on the system
 * clock: they must wait, not fire at once (Node's TimeoutOverflowWarning) and loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chain, createRuntime, task, type Broker, type Runtime } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { memoryBroker } from '../src/index.js';

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
const overflowWarnings = () => warnings.filter((w) => w.name === 'TimeoutOverflowWarning');
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  warnings.length = 0;
  process.on('warning', onWarning);
});
afterEach(async () => {
  process.off('warning', onWarning);
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A memory broker that counts what is published and delivered. */
function countingBroker() {
  const inner = memoryBroker();
  const counts = { published: 0, delivered: 0 };
  const broker: Broker = {
    name: inner.name,
    capabilities: inner.capabilities,
    publish: (queue, body, options) => {
      counts.published++;
      return inner.publish(queue, body, options);
    },
    consume: (queue, handler, options) =>
      inner.consume(
        queue,
        (delivery) => {
          counts.delivered++;
          return handler(delivery);
        },
        options,
      ),
    close: () => inner.close(),
  };
  return { broker, counts };
}

function startRuntime(broker: Broker, chains: Parameters<typeof createRuntime>[0]['chains']): Runtime {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-long-'));
  const runtime = createRuntime({ broker, store: sqliteStore(join(dir, 'runs.db')), chains, logger: silentLogger });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => runtime.close());
  return runtime;
}

describe('memory broker: delays over 2^31-1 ms', () => {
  it('holds a 25-day delayed message instead of delivering it at once', async () => {
    const broker = memoryBroker();
    cleanups.push(() => broker.close());
    let delivered = 0;
    await broker.consume('long', async (d) => {
      delivered++;
      await d.ack();
    });
    await broker.publish('long', 'later', { delayMs: 25 * DAY });
    await broker.publish('long', 'now');
    await waitFor(() => delivered === 1, 2_000, 'the undelayed message');
    await sleep(100);
    expect(delivered).toBe(1);
    expect(overflowWarnings()).toEqual([]);
  });

  it('a run waiting out a 25-day backoff does not re-publish its timer in a loop', async () => {
    const { broker, counts } = countingBroker();
    let attempts = 0;
    const flaky = task(
      'flaky-long',
      () => {
        attempts++;
        throw new Error('down for a while');
      },
      { retry: { maxRetries: 1, backoff: { initial: '25d', max: '30d', jitter: 'none' } } },
    );
    const c = chain('long-backoff', flaky);
    const runtime = startRuntime(broker, [c]);
    await runtime.start();
    const run = await runtime.run(c, undefined);
    for (let i = 0; i < 500 && (await runtime.getRun(run.id))?.status !== 'retrying'; i++) await sleep(10);
    expect((await runtime.getRun(run.id))?.status).toBe('retrying');
    const before = { ...counts };
    await sleep(300);
    // Overflowing, the timer came back every millisecond and was re-published (~800 a second).
    expect(counts.published - before.published).toBeLessThanOrEqual(1);
    expect(counts.delivered - before.delivered).toBeLessThanOrEqual(1);
    expect(attempts).toBe(1);
    expect((await runtime.getRun(run.id))?.status).toBe('retrying');
    expect(overflowWarnings()).toEqual([]);
  });

  it('a 25-day step timeout does not fire at once: the step completes', async () => {
    const { broker } = countingBroker();
    const slowish = task(
      'slowish',
      async (x: number) => {
        await sleep(30);
        return x + 1;
      },
      { timeout: '25d', retry: { maxRetries: 0 } },
    );
    const c = chain('long-timeout', slowish);
    const runtime = startRuntime(broker, [c]);
    await runtime.start();
    const run = await runtime.run(c, 1);
    await expect(run.result()).resolves.toBe(2);
    expect(overflowWarnings()).toEqual([]);
  });
});
