/**
 * A message the broker refuses for good (`MessageRefusedError`) fails what it was for, through
 * the run's normal failure path, and is never published again; a transient publish error is
 * retried per entry with backoff (100 ms doubling).
 */
import { chain, MessageRefusedError, RunFailedError, task, type Broker, type RunInfo } from '@taskchart/core';
import type { MemoryBroker } from '@taskchart/broker-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);

/** A memory broker that refuses for good every message whose body matches `refuse`, as SQS refuses one over 256 KiB. */
function refusing(refuse: (body: string) => boolean, published: string[]): (broker: MemoryBroker) => Broker {
  return (broker) => ({
    name: broker.name,
    capabilities: broker.capabilities,
    publish: async (queue, body, options) => {
      published.push(body);
      if (refuse(body)) throw new MessageRefusedError('memory', queue, "message of 300000 bytes is over the broker's limit of 262144 bytes");
      return broker.publish(queue, body, options);
    },
    // As a real adapter tells its limits before sending: such a step is never run here at once.
    refusal: (queue, body) => (refuse(body) ? new MessageRefusedError('memory', queue, "message of 300000 bytes is over the broker's limit of 262144 bytes") : undefined),
    consume: (queue, handler, options) => broker.consume(queue, handler, options),
    close: () => broker.close(),
  });
}

const isMessage = (body: string, kind: 'task' | 'timer', step?: string, compensation = false) => {
  const m = JSON.parse(body) as { kind: string; step?: string; compensation?: boolean; input?: unknown };
  return m.kind === kind && (step === undefined || m.step === step) && (m.compensation ?? false) === compensation;
};

describe('a message the broker refuses for good', () => {
  it('fails its step with the reason (run, task, step, size and limit), reports it, compensates, and leaves other runs alone', async () => {
    const undone: string[] = [];
    const reserve = task('reserve', (x: { order: string; blob: string }) => x, { compensate: (o) => void undone.push(o.order) });
    const upload = task('upload', (x: { order: string; blob: string }) => ({ order: x.order, stored: x.blob.length }));
    const c = chain('uploads', reserve, upload);
    const published: string[] = [];
    // The "upload" step's input of order "big" is too large for the broker.
    const refuse = (body: string) => isMessage(body, 'task', 'upload') && body.includes('"order":"big"');
    h = await harness([c], {}, refusing(refuse, published));
    const big = await h.runtime.run(c, { order: 'big', blob: 'x'.repeat(10) }, { id: 'run-big' });
    const small = await Promise.all(['s1', 's2', 's3'].map((order) => h!.runtime.run(c, { order, blob: 'y' }, { id: `run-${order}` })));
    await h.drive(async () => (await Promise.all([big, ...small].map((r) => h!.runtime.getRun(r.id)))).every(terminal), 200);

    const info = await h.runtime.getRun('run-big');
    expect(info).toMatchObject({ status: 'compensated', failedTask: 'upload', error: { name: 'MessageRefusedError', retryable: false } });
    expect(info?.error?.message).toBe(
      'run "run-big": step "upload" (task "upload", attempt 1) cannot be dispatched: memory refused a message for queue "taskchart" for good: message of 300000 bytes is over the broker\'s limit of 262144 bytes',
    );
    expect(info?.history.map((e) => e.type)).toContain('step.failed');
    expect(undone).toEqual(['big']);
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toMatchObject({ runId: 'run-big', task: 'upload', step: 'upload', attempts: 1, compensation: false, error: { name: 'MessageRefusedError' } });
    const error = await big.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).failure.error.message).toContain('over the broker\'s limit of 262144 bytes');
    // Published once, never retried.
    expect(published.filter(refuse)).toHaveLength(1);
    // The other runs did not notice.
    expect(await Promise.all(small.map((r) => r.result()))).toEqual([
      { order: 's1', stored: 1 },
      { order: 's2', stored: 1 },
      { order: 's3', stored: 1 },
    ]);
  });

  it('fails a compensation whose message is refused: the run ends failed and onFailure hears of both', async () => {
    const book = task('book', (x: string) => x, { compensate: () => undefined });
    const pay = task('pay', (_: string): string => {
      throw new Error('card declined');
    }, { retry: { maxRetries: 0 } });
    const c = chain('trip', book, pay);
    const published: string[] = [];
    h = await harness([c], {}, refusing((body) => isMessage(body, 'task', 'book', true), published));
    const run = await h.runtime.run(c, 'trip-1', { id: 'trip-1' });
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)), 200);
    expect(await h.runtime.getRun(run.id)).toMatchObject({ status: 'failed', failedTask: 'pay' });
    expect(h.reports.map((r) => [r.task, r.compensation, r.error.name])).toEqual([
      ['pay', false, 'Error'],
      ['book', true, 'MessageRefusedError'],
    ]);
    expect(h.reports[1]?.error.message).toContain('run "trip-1": the compensation of step "book" (task "book", attempt 1) cannot be dispatched: memory refused');
    await expect(run.result()).rejects.toMatchObject({ name: 'RunFailedError', status: 'failed' });
  });
});

describe('a transient publish error', () => {
  it('is retried per entry with exponential backoff (100 ms doubling), then the run goes on', async () => {
    const echo = task('echo', (x: number) => x);
    const c = chain('echo-chain', echo);
    const attempts: number[] = [];
    let failuresLeft = 4;
    let clockNow = () => 0;
    // Every step through the broker (not run here at once), so each one is published.
    h = await harness([c], { eagerDispatch: false }, (broker) => ({
      name: broker.name,
      capabilities: broker.capabilities,
      publish: async (queue, body, options) => {
        attempts.push(clockNow());
        if (failuresLeft-- > 0) throw new Error('broker unreachable');
        return broker.publish(queue, body, options);
      },
      consume: (queue, handler, options) => broker.consume(queue, handler, options),
      close: () => broker.close(),
    }));
    const clock = h.clock;
    clockNow = () => clock.now();
    const start = clock.now();
    const run = await h.runtime.run(c, 7);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)), 50);
    expect(await run.result()).toBe(7);
    expect(attempts.map((t) => t - start)).toEqual([0, 100, 300, 700, 1500]);
  });
});
