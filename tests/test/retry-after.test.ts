/**
 * Issue 11, items 4 and 6: a task names its next delay (`RetryAfterError`, an HTTP
 * `Retry-After`), and `timeout` is a hard limit: a task that ignores its signal is counted
 * failed at the limit and its late result is ignored.
 */
import { chain, parseRetryAfter, RetryAfterError, task, TaskTimeoutError, type RunInfo } from '@taskchart/core';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);
const retryDelays = (info: RunInfo | undefined) => info?.history.filter((e) => e.type === 'step.retrying').map((e) => e.delayMs);

describe('RetryAfterError', () => {
  it('replaces the backoff for that retry, counts against maxRetries, is capped by backoff.max unless ignoreMax', async () => {
    const attemptsAt: number[] = [];
    const asks = [new RetryAfterError('90s'), new RetryAfterError('20m'), new RetryAfterError('20m', { ignoreMax: true }), new Error('plain')];
    const limited = task(
      'rateLimited',
      () => {
        attemptsAt.push(h?.clock.now() ?? 0);
        throw asks.shift() ?? new Error('exhausted');
      },
      { retry: { maxRetries: 3, backoff: { initial: '4s', max: '10m', jitter: 'none' } } },
    );
    const c = chain('limits', limited);
    h = await harness([c]);
    const run = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    const info = await h.runtime.getRun(run.id);
    // 90 s as asked; 20 min capped at the 10 min max; 20 min with ignoreMax. Then attempt 4 fails for good.
    const gaps = attemptsAt.slice(1).map((t, i) => t - (attemptsAt[i] ?? 0));
    expect(gaps).toEqual([90_000, 600_000, 1_200_000]);
    expect(retryDelays(info)).toEqual([90_000, 600_000, 1_200_000]);
    expect(info).toMatchObject({ status: 'failed', error: { message: 'plain' } });
    // Recorded in history: the failed attempt says what it asked for.
    const failed = info?.history.filter((e) => e.type === 'step.failed').map((e) => e.error);
    expect(failed?.[0]).toMatchObject({ name: 'RetryAfterError', retryAfterMs: 90_000, retryable: true });
    expect(failed?.[2]).toMatchObject({ retryAfterMs: 1_200_000, retryAfterIgnoresMax: true });
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toMatchObject({ attempts: 4 });
  });

  it('is retried even when retryOn would not retry it, and fails for good once attempts run out', async () => {
    class Unrelated extends Error {}
    let calls = 0;
    const t = task(
      'picky',
      () => {
        calls++;
        throw new RetryAfterError('1s', { cause: new Error('429') });
      },
      { retry: { maxRetries: 2, retryOn: [Unrelated], backoff: { initial: '1m', jitter: 'none' } } },
    );
    const c = chain('picky-limits', t);
    h = await harness([c]);
    const run = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(calls).toBe(3);
    const info = await h.runtime.getRun(run.id);
    expect(retryDelays(info)).toEqual([1000, 1000]);
    expect(info).toMatchObject({ status: 'failed', error: { name: 'RetryAfterError' } });
  });

  it('reads an HTTP Retry-After: seconds, a date, nothing (the policy decides) or a fallback', async () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 29 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(RetryAfterError.fromHeader('7', { now }).delayMs).toBe(7000);
    expect(RetryAfterError.fromHeader(null, { now }).delayMs).toBeUndefined();
    expect(RetryAfterError.fromHeader('garbage', { now, fallback: '5s' }).delayMs).toBe(5000);
    expect(() => new RetryAfterError('400d')).toThrow(/RetryAfterError: delay/);

    // No delay of its own: the policy's backoff applies (and the error is still retried).
    const seen: number[] = [];
    const t = task(
      'headerless',
      (_: null, ctx) => {
        seen.push(h?.clock.now() ?? 0);
        if (ctx.attempt === 1) throw RetryAfterError.fromHeader(undefined);
        return 'ok';
      },
      { retry: { backoff: { initial: '3s', jitter: 'none' } } },
    );
    const c = chain('headerless', t);
    h = await harness([c]);
    const run = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect((seen[1] ?? 0) - (seen[0] ?? 0)).toBe(3000);
    expect((await h.runtime.getRun(run.id))?.status).toBe('completed');
  });
});

describe('timeout is a hard limit', () => {
  it('counts an attempt that ignores its signal as failed at the limit and ignores its late result', async () => {
    const late: Array<() => void> = [];
    let calls = 0;
    const stubborn = task(
      'stubborn',
      (_: null, ctx) => {
        calls++;
        // Ignores ctx.signal; settles only when the test says so, long after the limit.
        return new Promise<string>((resolve) => late.push(() => resolve(`late ${ctx.attempt}`)));
      },
      { timeout: '10s', retry: { maxRetries: 1, backoff: { initial: '1s', jitter: 'none' } } },
    );
    const c = chain('stubborn', stubborn);
    h = await harness([c]);
    const run = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    const info = await h.runtime.getRun(run.id);
    expect(calls).toBe(2);
    expect(info?.status).toBe('failed');
    expect(info?.error).toMatchObject({ name: 'TaskTimeoutError' });
    expect(info?.history.filter((e) => e.type === 'step.failed').map((e) => e.error?.name)).toEqual(['TaskTimeoutError', 'TaskTimeoutError']);
    // The promises settle now: nothing changes.
    for (const settle of late) settle();
    await h.drive(async () => true);
    const after = await h.runtime.getRun(run.id);
    expect(after?.status).toBe('failed');
    expect(after?.history).toHaveLength(info?.history.length ?? -1);
    expect(new TaskTimeoutError('stubborn', 10_000).message).toMatch(/timed out after 10000 ms/);
  });
});
