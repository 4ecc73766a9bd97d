import { describe, expect, it } from 'vitest';
import { compileRetryPolicy } from '../src/adapter.js';
import { InvalidOptionError, NonRetryableError } from '../src/index.js';

describe('retry policy', () => {
  it("follows Celery's min(max, initial * 2^retry) schedule with jitter off", () => {
    const policy = compileRetryPolicy({ maxRetries: 10, backoff: { initial: '4s', max: '10m', jitter: 'none' } }, 'task "t"');
    const delays = Array.from({ length: policy.maxRetries }, (_, retry) => policy.delayFor(retry, 0.5) / 1000);
    expect(delays).toEqual([4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
  });

  it("full jitter draws uniformly from [0, delay] like Celery's randrange(delay + 1)", () => {
    const policy = compileRetryPolicy({ backoff: { initial: 1000, max: 60_000, jitter: 'full' } }, 't');
    expect(policy.delayFor(2, 0)).toBe(0);
    expect(policy.delayFor(2, 0.5)).toBe(2000);
    expect(policy.delayFor(2, 0.9999999999)).toBe(4000);
  });

  it('equal jitter keeps at least half the delay', () => {
    const policy = compileRetryPolicy({ backoff: { initial: 1000, jitter: 'equal' } }, 't');
    expect(policy.delayFor(1, 0)).toBe(1000);
    expect(policy.delayFor(1, 0.9999999999)).toBe(2000);
  });

  it('uses a custom factor and defaults to 3 retries, 1 s, 10 min, full jitter', () => {
    const policy = compileRetryPolicy({ backoff: { initial: 100, factor: 3, jitter: 'none' } }, 't');
    expect([0, 1, 2].map((r) => policy.delayFor(r, 0))).toEqual([100, 300, 900]);
    const defaults = compileRetryPolicy(undefined, 't');
    expect(defaults).toMatchObject({ maxRetries: 3, initialMs: 1000, maxMs: 600_000, factor: 2, jitter: 'full' });
  });

  it('retries every error by default, never a NonRetryableError', () => {
    const policy = compileRetryPolicy({}, 't');
    expect(policy.isRetryable(new Error('x'))).toBe(true);
    expect(policy.isRetryable('a string')).toBe(true);
    expect(policy.isRetryable(new NonRetryableError('stop'))).toBe(false);
  });

  it('retryOn takes error classes or a predicate', () => {
    class HttpError extends Error {
      constructor(readonly status: number) {
        super(`HTTP ${status}`);
      }
    }
    const byClass = compileRetryPolicy({ retryOn: [HttpError] }, 't');
    expect(byClass.isRetryable(new HttpError(503))).toBe(true);
    expect(byClass.isRetryable(new TypeError('bug'))).toBe(false);
    const byPredicate = compileRetryPolicy({ retryOn: (e) => e instanceof HttpError && e.status >= 500 }, 't');
    expect(byPredicate.isRetryable(new HttpError(503))).toBe(true);
    expect(byPredicate.isRetryable(new HttpError(400))).toBe(false);
  });

  it.each([
    [{ maxRetries: -1 }, 'task "t": retry.maxRetries: must be a whole number >= 0, got -1'],
    [{ maxRetries: 1.5 }, 'retry.maxRetries: must be a whole number >= 0, got 1.5'],
    [{ backoff: { factor: 0 } }, 'retry.backoff.factor: must be a finite number >= 1, got 0'],
    [{ backoff: { initial: '4 parsecs' } }, `retry.backoff.initial: "4 parsecs" is not a duration`],
    [{ backoff: { initial: 0 } }, 'retry.backoff.initial: must be a finite duration > 0, got 0'],
    [{ backoff: { initial: '10s', max: '1s' } }, 'retry.backoff.max: must be >= backoff.initial (10000 ms), got 1000 ms'],
    [{ backoff: { jitter: 'sometimes' } }, "retry.backoff.jitter: must be one of 'none', 'full', 'equal', got sometimes"],
    [{ retryOn: ['TypeError'] }, 'retry.retryOn: must be an array of error classes or a predicate function'],
  ])('rejects %j naming the option', (options, message) => {
    expect(() => compileRetryPolicy(options as never, 'task "t"')).toThrow(InvalidOptionError);
    expect(() => compileRetryPolicy(options as never, 'task "t"')).toThrow(message);
  });
});
