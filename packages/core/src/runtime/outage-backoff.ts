/**
 * How the runtime waits out a transient store or broker failure: a failed publish, a commit the
 * store refused, a message it could not load. One shape, on the one backoff formula of
 * `retry-policy.ts`: 100 ms, doubling, to at most 30 s.
 */
import type { Clock } from '../clock.js';
import { backoffDelay, type BackoffShape } from '../retry-policy.js';

export const OUTAGE_BACKOFF: BackoffShape = { initialMs: 100, maxMs: 30_000, factor: 2, jitter: 'none' };

/** The wait after `failures` consecutive failures (0 after the first), at most `maxMs`. */
export function outageDelay(failures: number, maxMs: number = OUTAGE_BACKOFF.maxMs): number {
  const cap = Math.min(maxMs, OUTAGE_BACKOFF.maxMs);
  return backoffDelay({ ...OUTAGE_BACKOFF, initialMs: Math.min(OUTAGE_BACKOFF.initialMs, cap), maxMs: cap }, failures);
}

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts. Never rejects. */
export function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * How a message of a chain version this runtime does not know is given back: 1 s, doubling, to
 * at most 1 min, on the same formula.
 */
export const UNKNOWN_VERSION_BACKOFF: BackoffShape = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 'none' };

/** The delay of the `redeliveries + 1`-th give-back of a message of an unknown chain version. */
export function unknownVersionDelay(redeliveries: number): number {
  return backoffDelay(UNKNOWN_VERSION_BACKOFF, redeliveries);
}

/** How long a message given back `redeliveries` times (with {@link unknownVersionDelay}) has been held: the sum of those delays. */
export function heldFor(redeliveries: number): number {
  let total = 0;
  for (let i = 0; i < redeliveries; i++) {
    total += unknownVersionDelay(i);
    if (i > 64) return Number.POSITIVE_INFINITY; // Past any grace: the delays are at their cap long before.
  }
  return total;
}
