/**
 * The SDK retry strategy the adapter installs on clients it creates: exponential backoff with
 * full jitter (`random() * min(cap, base * 2^retry)`) on throttling, 5xx and network errors,
 * up to `maxAttempts` tries. Unlike the SDK's standard strategy it keeps no retry quota, so a
 * few seconds of outage does not exhaust retries for every call in flight at once.
 *
 * Structurally an `@smithy/types` `RetryStrategyV2`; the SDK checks the shape where the client
 * is built.
 */
import { backoffDelay as coreBackoff, type RandomSource } from '@taskchart/core/adapter';

export interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

export interface RetryErrorInfo {
  readonly errorType: 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';
  readonly retryAfterHint?: Date;
}

export interface JitteredRetryOptions {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly random: RandomSource;
}

/** Full-jitter exponential backoff: the delay before retry number `retry` (0-based). */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: RandomSource): number {
  // Core's one formula; its full jitter is uniform in [0, ceiling] (Celery's randrange(delay + 1)).
  return coreBackoff({ initialMs: baseDelayMs, maxMs: maxDelayMs, factor: 2, jitter: 'full' }, Math.min(retry, 30), random());
}

const token = (retryCount: number, retryDelay: number): RetryToken => ({
  getRetryCount: () => retryCount,
  getRetryDelay: () => retryDelay,
});

export class JitteredRetryStrategy {
  readonly mode = 'taskchart-jittered';

  constructor(private readonly options: JitteredRetryOptions) {}

  async acquireInitialRetryToken(_scope: string): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const retries = previous.getRetryCount();
    if (info.errorType === 'CLIENT_ERROR' || retries + 1 >= this.options.maxAttempts) {
      throw new Error(`not retrying: ${info.errorType === 'CLIENT_ERROR' ? 'client error' : `${this.options.maxAttempts} attempts made`}`);
    }
    let delay = backoffDelay(retries, this.options.baseDelayMs, this.options.maxDelayMs, this.options.random);
    if (info.retryAfterHint) delay = Math.max(delay, Math.min(this.options.maxDelayMs, info.retryAfterHint.getTime() - Date.now()));
    return token(retries + 1, delay);
  }

  recordSuccess(_token: RetryToken): void {}
}
