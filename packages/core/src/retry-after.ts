/**
 * A task that knows when its next attempt should run (an API answered 429 or 503 with a
 * `Retry-After`, a rate limit resets at a known time) throws a {@link RetryAfterError}: that
 * delay replaces the retry policy's backoff for the next attempt. It still counts against
 * `maxRetries`, and is capped by the policy's `backoff.max` unless `ignoreMax` is set.
 */
import { formatDuration, parseDuration, type Duration } from './duration.js';
import { TaskchartError } from './errors.js';

export interface RetryAfterOptions {
  /** The error's message. @defaultValue `retry requested in <delay>` */
  readonly message?: string;
  /** The error that made the task ask (kept as `cause`). */
  readonly cause?: unknown;
  /**
   * Wait the whole delay even when it is longer than the policy's `backoff.max` (it is still
   * at most 365 days). @defaultValue false: the delay is capped at `backoff.max`
   */
  readonly ignoreMax?: boolean;
}

export interface RetryAfterHeaderOptions extends RetryAfterOptions {
  /** The delay when the header is absent or unreadable. @defaultValue no delay of its own: the policy's backoff applies */
  readonly fallback?: Duration;
  /** Now, epoch ms, for a header that names a date. @defaultValue `Date.now()` */
  readonly now?: number;
}

/**
 * Thrown by a task: "retry me after `delay`" (a duration: `'30s'`, `1500`, `'2m'`; 0 retries at
 * once). Always retried while attempts remain, even when `retryOn` would not retry it.
 */
export class RetryAfterError extends TaskchartError {
  override readonly name = 'RetryAfterError';
  /** The delay asked for, in milliseconds; `undefined` lets the policy's backoff decide. */
  readonly delayMs: number | undefined;
  readonly ignoreMax: boolean;

  constructor(delay: Duration | undefined, options: RetryAfterOptions = {}) {
    const delayMs = delay === undefined ? undefined : parseDuration(delay, 'RetryAfterError: delay');
    super(options.message ?? (delayMs === undefined ? 'retry requested' : `retry requested in ${formatDuration(delayMs)}`), options.cause === undefined ? undefined : { cause: options.cause });
    this.delayMs = delayMs;
    this.ignoreMax = options.ignoreMax === true;
  }

  /**
   * From an HTTP `Retry-After` header value (`res.headers.get('retry-after')`): whole seconds, or
   * an HTTP date. An absent or unreadable header gives `fallback` (or the policy's backoff).
   */
  static fromHeader(value: string | null | undefined, options: RetryAfterHeaderOptions = {}): RetryAfterError {
    const { fallback, now, ...rest } = options;
    const ms = parseRetryAfter(value, now);
    return new RetryAfterError(ms ?? fallback, { ...rest, message: rest.message ?? `the server asked to retry after ${value === null || value === undefined ? '(no Retry-After header)' : JSON.stringify(value)}` });
  }
}

const MAX_MS = 365 * 24 * 3_600_000;

/**
 * Reads an HTTP `Retry-After` value (RFC 9110 §10.2.3): a whole number of seconds, or an HTTP
 * date (a date in the past is 0). `undefined` when absent or unreadable; at most 365 days.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_MS);
  // IMF-fixdate and the obsolete formats all name a weekday or month in letters.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(at - now, 0), MAX_MS);
}
