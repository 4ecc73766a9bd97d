import { chain, NonRetryableError, RunFailedError, task, TaskTimeoutError, type RunInfo } from '@taskchart/core';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);

describe('retries as configured', () => {
  it("runs Celery's schedule 4, 8, 16 … 512, 600, 600 s, then the failure path (11 attempts)", async () => {
    const attemptsAt: number[] = [];
    const retry = { maxRetries: 10, backoff: { initial: '4s', max: '10m', jitter: 'none' } } as const;
    const flaky = task(
      'riskCheck',
      () => {
        attemptsAt.push(h?.clock.now() ?? 0);
        throw new Error('third-party risk API: 503');
      },
      { retry },
    );
    const c = chain('referral', flaky);
    h = await harness([c]);
    const run = await h.runtime.run(c, {});
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    const info = await h.runtime.getRun(run.id);
    const gaps = attemptsAt.slice(1).map((t, i) => (t - (attemptsAt[i] ?? 0)) / 1000);
    expect(gaps).toEqual([4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
    expect(info?.history.filter((e) => e.type === 'step.retrying').map((e) => (e.delayMs ?? 0) / 1000)).toEqual([4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
    expect(info).toMatchObject({ status: 'failed', failedTask: 'riskCheck', error: { message: 'third-party risk API: 503' } });
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toMatchObject({ task: 'riskCheck', attempts: 11 });
    await expect(h.runtime.result(run.id)).rejects.toBeInstanceOf(RunFailedError);
  });

  it('full jitter draws each delay from the injected random source', async () => {
    const randoms = [0.5, 0.25, 0];
    let fails = 3;
    const t = task(
      'jittery',
      () => {
        if (fails-- > 0) throw new Error('again');
        return 'ok';
      },
      { retry: { maxRetries: 3, backoff: { initial: '4s', jitter: 'full' } } },
    );
    const c = chain('jitter', t);
    h = await harness([c], { random: () => randoms.shift() ?? 0 });
    const run = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    const info = await h.runtime.getRun(run.id);
    // floor(r * (delay + 1)) for delays 4000, 8000, 16000
    expect(info?.history.filter((e) => e.type === 'step.retrying').map((e) => e.delayMs)).toEqual([2000, 2000, 0]);
    expect(info?.status).toBe('completed');
  });

  it('fails at once on NonRetryableError and on errors retryOn does not match', async () => {
    class ValidationError extends Error {}
    let calls = 0;
    const strict = task('strict', () => {
      calls++;
      throw new NonRetryableError('tenant does not exist');
    });
    const picky = task(
      'picky',
      () => {
        calls++;
        throw new ValidationError('bad postcode');
      },
      { retry: { retryOn: [TypeError] } },
    );
    const c1 = chain('strict-chain', strict);
    const c2 = chain('picky-chain', picky);
    h = await harness([c1, c2]);
    const r1 = await h.runtime.run(c1, null);
    const r2 = await h.runtime.run(c2, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(r1.id)) && terminal(await h?.runtime.getRun(r2.id)));
    expect(calls).toBe(2);
    expect(await h.runtime.getRun(r1.id)).toMatchObject({ status: 'failed', error: { name: 'NonRetryableError', retryable: false } });
    expect(await h.runtime.getRun(r2.id)).toMatchObject({ status: 'failed', error: { message: 'bad postcode', retryable: false } });
  });

  it('aborts a step through ctx.signal at its timeout and counts it as a failed attempt', async () => {
    const aborted: unknown[] = [];
    let attempt = 0;
    const slow = task(
      'slow',
      (_: null, ctx) =>
        new Promise<string>((resolve, reject) => {
          attempt = ctx.attempt;
          if (ctx.attempt === 2) return resolve('fast enough');
          ctx.signal.addEventListener('abort', () => {
            aborted.push(ctx.signal.reason);
            reject(ctx.signal.reason as Error);
          });
        }),
      { timeout: '30s', retry: { maxRetries: 1, backoff: { initial: '1s', jitter: 'none' } } },
    );
    const c = chain('timeouts', slow);
    h = await harness([c]);
    const run = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(attempt).toBe(2);
    expect(aborted[0]).toBeInstanceOf(TaskTimeoutError);
    const info = await h.runtime.getRun(run.id);
    expect(info?.history.find((e) => e.type === 'step.failed')?.error).toMatchObject({ name: 'TaskTimeoutError', message: 'task "slow" timed out after 30000 ms' });
    expect(info?.status).toBe('completed');
  });

  it('re-delays a timer hop by hop when the broker caps delays, never retrying early', async () => {
    const attemptsAt: number[] = [];
    const t = task(
      'capped',
      (_: null, ctx) => {
        attemptsAt.push(h?.clock.now() ?? 0);
        if (ctx.attempt === 1) throw new Error('once');
        return 'ok';
      },
      { retry: { maxRetries: 1, backoff: { initial: '10s', jitter: 'none' } } },
    );
    const c = chain('capped-delays', t);
    let publishedDelays: number[] = [];
    // A broker that holds at most 3 s per message, like SQS's 15-minute cap scaled down.
    h = await harness([c], {}, (broker) => ({
      name: 'capped',
      capabilities: { ...broker.capabilities, maxDelayMs: 3000 },
      publish: (queue, body, options) => {
        publishedDelays.push(options?.delayMs ?? 0);
        return broker.publish(queue, body, options);
      },
      consume: (queue, handler, options) => broker.consume(queue, handler, options),
      close: () => broker.close(),
    }));
    const run = await h.runtime.run(c, null);
    publishedDelays = [];
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(attemptsAt[1]! - attemptsAt[0]!).toBe(10_000);
    // 10 s as hops of at most 3 s: 3 + 3 + 3 + 1; then the retry runs here at once (eager dispatch), unpublished.
    expect(publishedDelays).toEqual([3000, 3000, 3000, 1000]);
    expect(await run.result()).toBe('ok');
  });
});

