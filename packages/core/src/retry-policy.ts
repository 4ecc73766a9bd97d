import { parseDuration, type Duration } from './duration.js';
import { InvalidOptionError, NonRetryableError } from './errors.js';
import { assertKnownKeys } from './known-keys.js';
import { RetryAfterError } from './retry-after.js';

/** How retry delays are randomised. */
export type Jitter =
  /** Exactly `min(max, initial * factor^retry)`. */
  | 'none'
  /** Uniform in `[0, delay]` (Celery's `randrange(delay + 1)`, AWS "full jitter"). */
  | 'full'
  /** `delay / 2` plus uniform in `[0, delay / 2]` (AWS "equal jitter"). */
  | 'equal';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- error classes take any constructor arguments
export type ErrorClass = abstract new (...args: any[]) => Error;

export interface BackoffOptions {
  /** The delay before the first retry, from 1 ms to 365 days. @defaultValue '1s' */
  initial?: Duration;
  /**
   * No delay exceeds this; from `initial` to 365 days.
   * @defaultValue '10m' (Celery's `retry_backoff_max` of 600 s)
   */
  max?: Duration;
  /** Each retry's delay is the previous one times this. Must be >= 1. @defaultValue 2 */
  factor?: number;
  /** @defaultValue 'full' (as Celery's `retry_jitter=True`) */
  jitter?: Jitter;
}

export interface RetryOptions {
  /**
   * How many times a failed attempt is retried; a step runs at most `maxRetries + 1` times.
   * `0` disables retries. @defaultValue 3 (Celery's `max_retries`)
   */
  maxRetries?: number;
  backoff?: BackoffOptions;
  /**
   * Which errors are retried: a list of error classes (an error is retried when it is an
   * instance of one) or a predicate. A {@link NonRetryableError} is never retried; a
   * `RetryAfterError` always is (while attempts remain).
   * @defaultValue every error
   */
  retryOn?: readonly ErrorClass[] | ((error: unknown) => boolean);
}

/** Validated, normalised retry options (compiled once, at definition time). */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: Jitter;
  /** Whether `error` may be retried (ignoring how many attempts were made). */
  isRetryable(error: unknown): boolean;
  /**
   * The delay before retry number `retry` (0 for the first retry), given a uniform random
   * number in [0, 1) for jitter.
   */
  delayFor(retry: number, random: number): number;
}

const JITTERS: readonly Jitter[] = ['none', 'full', 'equal'];

/** The shape of an exponential backoff, in milliseconds (a {@link RetryPolicy} is one). */
export interface BackoffShape {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: Jitter;
}

/**
 * The one exponential backoff formula of Taskchart: Celery's `min(max, initial * factor^retry)`
 * for retry number `retry` (0 for the first), randomised by `jitter` with a uniform `random` in
 * [0, 1). Step retries use it through {@link RetryPolicy.delayFor}; the runtime uses it for
 * failed publishes, store commits and redeliveries.
 */
export function backoffDelay(shape: BackoffShape, retry: number, random = 0): number {
  const exact = Math.min(shape.maxMs, shape.initialMs * shape.factor ** retry);
  const r = Math.min(Math.max(random, 0), 0.999_999_999);
  switch (shape.jitter) {
    case 'none':
      return exact;
    case 'full':
      return Math.floor(r * (exact + 1));
    case 'equal': {
      const half = Math.floor(exact / 2);
      return exact - half + Math.floor(r * (half + 1));
    }
  }
}

export function compileRetryPolicy(options: RetryOptions | undefined, owner: string): RetryPolicy {
  const opt = (name: string) => `${owner}: retry.${name}`;
  const raw = options ?? {};
  if (typeof raw !== 'object' || raw === null) {
    throw new InvalidOptionError(`${owner}: retry`, 'must be an object');
  }
  assertKnownKeys(raw, ['maxRetries', 'backoff', 'retryOn'] satisfies Array<keyof RetryOptions>, `${owner}: retry`);
  const maxRetries = raw.maxRetries ?? 3;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new InvalidOptionError(opt('maxRetries'), `must be a whole number >= 0, got ${String(maxRetries)}`);
  }
  const backoff = raw.backoff ?? {};
  if (typeof backoff !== 'object' || backoff === null) throw new InvalidOptionError(opt('backoff'), 'must be an object');
  assertKnownKeys(backoff, ['initial', 'max', 'factor', 'jitter'] satisfies Array<keyof BackoffOptions>, `${owner}: retry.backoff`);
  const initialMs = parseDuration(backoff.initial ?? '1s', opt('backoff.initial'), { allowZero: false });
  const maxMs = parseDuration(backoff.max ?? '10m', opt('backoff.max'), { allowZero: false });
  if (maxMs < initialMs) {
    throw new InvalidOptionError(opt('backoff.max'), `must be >= backoff.initial (${initialMs} ms), got ${maxMs} ms`);
  }
  const factor = backoff.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new InvalidOptionError(opt('backoff.factor'), `must be a finite number >= 1, got ${String(factor)}`);
  }
  const jitter = backoff.jitter ?? 'full';
  if (!JITTERS.includes(jitter)) {
    throw new InvalidOptionError(opt('backoff.jitter'), `must be one of ${JITTERS.map((j) => `'${j}'`).join(', ')}, got ${String(jitter)}`);
  }
  const retryOn = raw.retryOn;
  let matches: (error: unknown) => boolean;
  if (retryOn === undefined) {
    matches = () => true;
  } else if (typeof retryOn === 'function') {
    matches = retryOn;
  } else if (Array.isArray(retryOn) && retryOn.every((c) => typeof c === 'function')) {
    matches = (error) => retryOn.some((cls) => error instanceof cls);
  } else {
    throw new InvalidOptionError(opt('retryOn'), 'must be an array of error classes or a predicate function');
  }

  const shape: BackoffShape = { initialMs, maxMs, factor, jitter };
  return {
    maxRetries,
    initialMs,
    maxMs,
    factor,
    jitter,
    // A task that names its next delay asks to be retried, whatever `retryOn` says.
    isRetryable: (error) => error instanceof RetryAfterError || (!(error instanceof NonRetryableError) && matches(error)),
    delayFor(retry, random) {
      return backoffDelay(shape, retry, random);
    },
  };
}
