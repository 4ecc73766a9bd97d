import { parseDuration, type Duration } from './duration.js';
import { InvalidOptionError } from './errors.js';
import { assertKnownKeys } from './known-keys.js';
import { compileRetryPolicy, type RetryOptions, type RetryPolicy } from './retry-policy.js';

/** What a task receives beside its input. */
export interface TaskContext {
  readonly runId: string;
  readonly chain: string;
  readonly task: string;
  /** The step's name inside its chain (the task name, suffixed when a chain repeats a task). */
  readonly step: string;
  /**
   * `runId:step`: the same for every attempt of this step. A task whose side effect must happen
   * once passes it to the system it writes to (an `Idempotency-Key` header, a unique column).
   */
  readonly idempotencyKey: string;
  /** 1 on the first attempt, `maxRetries + 1` on the last. */
  readonly attempt: number;
  /**
   * Aborted when the step's `timeout` elapses (`TaskTimeoutError`), its run is cancelled
   * (`RunCancelledError`: at once in the process that cancelled, within about a second elsewhere)
   * or the worker shuts down hard.
   */
  readonly signal: AbortSignal;
}

/** What a compensation receives beside the output of the step it undoes. */
export interface CompensationContext<I = unknown> extends TaskContext {
  /** The input the compensated step ran with. */
  readonly input: I;
}

export type TaskFn<I, O> = (input: I, ctx: TaskContext) => Promise<O> | O;
export type CompensateFn<I, O> = (output: O, ctx: CompensationContext<I>) => Promise<void> | void;

export interface TaskOptions<I, O> {
  /** @defaultValue `{ maxRetries: 3, backoff: { initial: '1s', max: '10m', factor: 2, jitter: 'full' } }` */
  retry?: RetryOptions;
  /**
   * A hard limit on one attempt: when it elapses, `ctx.signal` aborts and the attempt counts as
   * failed at once with a `TaskTimeoutError` (retried like any other error), even if the task
   * ignores the signal; its late result is ignored (its promise keeps running in the process).
   * From 1 ms to 365 days (longer is an `InvalidOptionError`). @defaultValue no timeout
   */
  timeout?: Duration;
  /** The broker queue this task's messages go to. @defaultValue 'taskchart' */
  queue?: string;
  /** Undo this step's effect when a later step fails for good. Runs with its own retry policy. */
  compensate?: CompensateFn<I, O>;
  /** Retry policy of `compensate`. @defaultValue the task's `retry` */
  compensateRetry?: RetryOptions;
  /** Timeout of one `compensate` attempt, from 1 ms to 365 days. @defaultValue the task's `timeout` */
  compensateTimeout?: Duration;
}

export const DEFAULT_QUEUE = 'taskchart';
const TASK_OPTION_KEYS = ['retry', 'timeout', 'queue', 'compensate', 'compensateRetry', 'compensateTimeout'] as const satisfies ReadonlyArray<keyof TaskOptions<unknown, unknown>>;
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$/;
const QUEUE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/;

/** A defined task. Create with {@link task}. */
export interface Task<I, O> {
  readonly name: string;
  readonly run: TaskFn<I, O>;
  readonly queue: string;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
  /** Declared method-style so a task that never returns (`Task<I, never>`) still fits `AnyTask`. */
  readonly compensate: { bivariant(output: O, ctx: CompensationContext<I>): Promise<void> | void }['bivariant'] | undefined;
  readonly compensateRetry: RetryPolicy;
  readonly compensateTimeoutMs: number | undefined;
  /** Type-level only: never set. */
  readonly __types?: { input: I; output: O };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest task, for constraints
export type AnyTask = Task<any, any>;
export type TaskInput<T> = T extends { readonly __types?: { input: infer I } } ? I : never;
export type TaskOutput<T> = T extends { readonly __types?: { output: infer O } } ? O : never;

export function validateName(value: unknown, option: string, pattern = NAME_PATTERN): string {
  const allowed = pattern === NAME_PATTERN ? "letters, digits, '_' or '-'" : "letters, digits, '_', '.' or '-'";
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidOptionError(option, `must be made of ${allowed} (not starting with '.' or '-'), got ${JSON.stringify(value)}`);
  }
  // Names become object keys (a chain's states, its context's outputs), where this one is the prototype.
  if (value === '__proto__') throw new InvalidOptionError(option, 'must not be "__proto__" (JavaScript reads it as an object\'s prototype)');
  return value;
}

/**
 * Defines a task: a named async step with a retry policy, an optional timeout, queue and
 * compensation. Options are validated here; an invalid one throws an `InvalidOptionError`
 * naming it.
 */
export function task<I, O>(name: string, run: TaskFn<I, O>, options: TaskOptions<I, Awaited<O>> = {}): Task<I, Awaited<O>> {
  validateName(name, 'task name');
  const owner = `task "${name}"`;
  if (typeof run !== 'function') throw new InvalidOptionError(`${owner}: run`, 'must be a function');
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`${owner}: options`, 'must be an object');
  assertKnownKeys(options, TASK_OPTION_KEYS, owner);
  const queue = validateName(options.queue ?? DEFAULT_QUEUE, `${owner}: queue`, QUEUE_PATTERN);
  if (queue.endsWith('.dead')) throw new InvalidOptionError(`${owner}: queue`, `must not end with '.dead' (reserved for dead letters), got "${queue}"`);
  const retry = compileRetryPolicy(options.retry, owner);
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, `${owner}: timeout`, { allowZero: false });
  if (options.compensate !== undefined && typeof options.compensate !== 'function') {
    throw new InvalidOptionError(`${owner}: compensate`, 'must be a function');
  }
  const compensateRetry = options.compensateRetry === undefined ? retry : compileRetryPolicy(options.compensateRetry, `${owner} compensation`);
  const compensateTimeoutMs =
    options.compensateTimeout === undefined ? timeoutMs : parseDuration(options.compensateTimeout, `${owner}: compensateTimeout`, { allowZero: false });
  return Object.freeze({
    name,
    run: run as TaskFn<I, Awaited<O>>,
    queue,
    retry,
    timeoutMs,
    compensate: options.compensate,
    compensateRetry,
    compensateTimeoutMs,
  });
}
