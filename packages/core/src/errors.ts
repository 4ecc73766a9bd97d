/**
 * Error classes with stable `name`s. Names survive serialisation (they are what the store and
 * the wire keep), so code may branch on `error.name` as well as on `instanceof`.
 */

export class TaskchartError extends Error {
  override readonly name: string = 'TaskchartError';
}

/** An option is invalid. Thrown at definition time; the message names the option and the allowed range. */
export class InvalidOptionError extends TaskchartError {
  override readonly name = 'InvalidOptionError';
  constructor(
    /** The option's path, e.g. `task "riskCheck": retry.maxRetries`. */
    readonly option: string,
    detail: string,
  ) {
    super(`${option}: ${detail}`);
  }
}

/**
 * Thrown by a task to fail its step at once, without retrying (Temporal's `nonRetryable`,
 * BullMQ's `UnrecoverableError`).
 */
export class NonRetryableError extends TaskchartError {
  override readonly name = 'NonRetryableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A step ran longer than its `timeout`; counts as a failed attempt (retried by the policy). */
export class TaskTimeoutError extends TaskchartError {
  override readonly name = 'TaskTimeoutError';
  constructor(
    readonly task: string,
    readonly timeoutMs: number,
  ) {
    super(`task "${task}" timed out after ${timeoutMs} ms`);
  }
}

/** A value crossing a durable boundary (a run's input, a step's output) is not JSON-serialisable. */
export class SerializationError extends TaskchartError {
  override readonly name = 'SerializationError';
}

/** A run name or chain is not known to this runtime. */
export class UnknownChainError extends TaskchartError {
  override readonly name = 'UnknownChainError';
}

/** The runtime was used in a state that does not allow the call (not started, closed). */
export class RuntimeStateError extends TaskchartError {
  override readonly name = 'RuntimeStateError';
}

/**
 * The store can no longer keep what is committed to it (SQLite: the file it opened was deleted or
 * replaced under it). The store refuses this call and every later one; a runtime that meets it
 * stops consuming and logs it as an error, instead of acknowledging work that would be lost.
 */
export class StoreLostError extends TaskchartError {
  override readonly name = 'StoreLostError';
  constructor(
    /** Where the store kept its data (SQLite: the file's path, as resolved when it opened it). */
    readonly path: string,
    detail: string,
    /** The store's name in the message (`sqliteStore`). */
    store = 'sqliteStore',
  ) {
    super(`${store}: ${path}: ${detail}; the store refuses every further call (nothing more would be kept)`);
  }
}

/**
 * Another connection held the store's write lock for longer than the store's `busyTimeoutMs`;
 * nothing of the call was written. Transient: the same call may succeed later.
 */
export class StoreBusyError extends TaskchartError {
  override readonly name = 'StoreBusyError';
  constructor(
    readonly path: string,
    readonly busyTimeoutMs: number,
  ) {
    super(`sqliteStore: ${path}: another connection held the lock for more than busyTimeoutMs (${busyTimeoutMs} ms); nothing was written`);
  }
}

/**
 * A broker refused a message for good: publishing the same message again can never succeed (it
 * is over the broker's size limit, or holds a character or an id the broker cannot carry).
 * Adapters throw it from `publish()` instead of a plain error; the runtime then fails the step
 * the message was for, through the normal failure path (`onFailure`, compensation), instead of
 * retrying the publish forever. Transient failures (a dropped connection, throttling) must stay
 * plain errors: the runtime retries those.
 */
export class MessageRefusedError extends TaskchartError {
  override readonly name = 'MessageRefusedError';
  constructor(
    /** The broker's name (`memory`, `amqp`, `sqs`). */
    readonly broker: string,
    /** The queue the message was published to, as the runtime names it. */
    readonly queue: string,
    /** Why, naming the size, character or id and the broker's limit. */
    readonly reason: string,
  ) {
    super(`${broker} refused a message for queue "${queue}" for good: ${reason}`);
  }
}

/**
 * A run the loaded definition cannot continue (its stored state names a step a deploy renamed or
 * removed, say) was parked instead of retried forever: it keeps its snapshot untouched, its
 * status is `parked`, its messages are dead-lettered with this error's message, and `onFailure`
 * hears of it. `result()` of a parked run rejects with it. Deploy a definition that can continue
 * the stored state, then re-drive the run.
 */
export class RunParkedError extends TaskchartError {
  override readonly name = 'RunParkedError';
  constructor(
    readonly runId: string,
    readonly chain: string,
    /** Why: the stored state, the definition's steps, and what failed. */
    readonly reason: string,
  ) {
    super(`run "${runId}" (chain "${chain}") is parked: ${reason}`);
  }
}

/**
 * The run's chain version is not loaded here and no `migrate` functions lead from it to a loaded
 * version: the runtime leaves its messages for a runtime that knows the version (nacked with a
 * growing delay), and parks the run after `unknownVersionGrace`.
 */
export class ChainVersionUnknownError extends TaskchartError {
  override readonly name = 'ChainVersionUnknownError';
  constructor(
    readonly runId: string,
    readonly chain: string,
    readonly version: number,
    reason: string,
  ) {
    super(`run "${runId}" (chain "${chain}", version ${version}): ${reason}`);
  }
}

/** `run.result()` rejects with this when the run was cancelled (`client.cancel`). */
export class RunCancelledError extends TaskchartError {
  override readonly name = 'RunCancelledError';
  constructor(
    readonly runId: string,
    readonly chain: string,
    /** The reason given to `cancel()`, or `null`. */
    readonly reason: string | null,
  ) {
    super(`run "${runId}" (chain "${chain}") was cancelled${reason === null ? '' : `: ${reason}`}`);
  }
}

/** What the store and `onFailure` keep of an error: plain data that survives JSON. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Whether the retry policy allowed retrying this error. */
  readonly retryable: boolean;
  /** A `RetryAfterError`'s delay: the next attempt's delay instead of the policy's backoff. */
  readonly retryAfterMs?: number;
  /** With `retryAfterMs`: not capped by the policy's `backoff.max`. */
  readonly retryAfterIgnoresMax?: boolean;
}

/** `run.result()` rejects with this when a run ends `failed` or `compensated`. */
export class RunFailedError extends TaskchartError {
  override readonly name = 'RunFailedError';
  constructor(
    readonly runId: string,
    readonly status: 'failed' | 'compensated',
    /** The step that failed for good, and its last error. */
    readonly failure: { readonly task: string; readonly step: string; readonly attempts: number; readonly error: SerializedError },
  ) {
    super(`run ${runId} ${status}: task "${failure.task}" failed after ${failure.attempts} attempt(s): ${failure.error.name}: ${failure.error.message}`);
  }
}

export function serializeError(error: unknown, retryable: boolean): SerializedError {
  if (error instanceof Error) {
    // A RetryAfterError (by name and shape: a task may bundle another copy of core).
    const asked = error.name === 'RetryAfterError' ? (error as { delayMs?: unknown; ignoreMax?: unknown }) : undefined;
    const retryAfter =
      typeof asked?.delayMs === 'number' ? { retryAfterMs: asked.delayMs, ...(asked.ignoreMax === true ? { retryAfterIgnoresMax: true } : {}) } : {};
    return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), retryable, ...retryAfter };
  }
  let message: string;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { name: 'Error', message, retryable };
}
