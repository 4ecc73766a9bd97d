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

/** What the store and `onFailure` keep of an error: plain data that survives JSON. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Whether the retry policy allowed retrying this error. */
  readonly retryable: boolean;
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
    return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), retryable };
  }
  let message: string;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { name: 'Error', message, retryable };
}
