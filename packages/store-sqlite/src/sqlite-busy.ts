/**
 * Waiting for another connection's lock without blocking the event loop. SQLite's own busy
 * handler sleeps inside the call, so it is kept to a few milliseconds; past that the call fails
 * with SQLITE_BUSY and is tried again after an asynchronous pause, until the store's
 * `busyTimeoutMs`.
 */
import Database from 'better-sqlite3';
import { backoffDelay, type BackoffShape } from '@taskchart/core/adapter';

/** SQLite's own busy wait per try: the longest the event loop is blocked by one try. */
export const NATIVE_BUSY_TIMEOUT_MS = 5;

/** The pauses between tries, on the one backoff formula: 1 ms doubling to 25 ms, equal jitter. */
const PAUSES: BackoffShape = { initialMs: 1, maxMs: 25, factor: 2, jitter: 'equal' };

export function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}

export interface BusyWait {
  /** Milliseconds after which the wait gives up. */
  readonly timeoutMs: number;
  /** Called before every try; throws to stop waiting (the store was closed or lost its file). */
  readonly beforeTry: () => void;
  /** The error to reject with when `timeoutMs` has passed. */
  readonly timedOut: () => Error;
}

/**
 * Runs `op` until it does not fail with SQLITE_BUSY, pausing between tries. `triedOnce`: the
 * caller already tried once, so the first try comes after a pause.
 */
export async function whileBusy<T>(op: () => T, wait: BusyWait, triedOnce: boolean): Promise<T> {
  const deadline = performance.now() + wait.timeoutMs;
  for (let retry = 0; ; retry++) {
    if (!triedOnce || retry > 0) {
      wait.beforeTry();
      try {
        return op();
      } catch (error) {
        if (!isBusy(error)) throw error;
      }
    }
    const left = deadline - performance.now();
    if (left <= 0) throw wait.timedOut();
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, backoffDelay(PAUSES, retry, Math.random()))));
  }
}
