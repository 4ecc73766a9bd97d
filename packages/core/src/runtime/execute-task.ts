import type { Clock } from '../clock.js';
import { serializeError, TaskTimeoutError } from '../errors.js';
import type { ChainEvent } from '../machine/chain-context.js';
import { compensationActorId, stepActorId, type StepDef } from '../machine/compile-machine.js';
import type { TaskMessage } from '../messages.js';
import type { CompensationContext, TaskContext } from '../task.js';
import { storedForm } from './json-value.js';
import type { Abortable, Registration } from './running-attempts.js';

export interface ExecuteOptions {
  readonly clock: Clock;
  readonly random: () => number;
  /** Aborted when the runtime shuts down hard. */
  readonly shutdown: AbortSignal;
  /** Registers the attempt so a cancel of its run can abort it; returns the function that unregisters it. */
  readonly register?: (abort: (reason: unknown) => void) => () => void;
  /**
   * Or: the registry the attempt is added to, by its run (no closure per attempt: the worker's
   * handler passes the same options object to every attempt). Not used when `register` is given.
   */
  readonly attempts?: AttemptRegistry;
}

/** Where an attempt is registered by its run id (`RunningAttempts`), so a cancel of the run aborts it. */
export interface AttemptRegistry {
  add(runId: string, target: Abortable): Registration;
}

/** The outcome event types of a step's attempts and of its compensation's, built once per step. */
interface OutcomeTypes {
  readonly done: `xstate.done.actor.${string}`;
  readonly error: `xstate.error.actor.${string}`;
  readonly undone: `xstate.done.actor.${string}`;
  readonly undoError: `xstate.error.actor.${string}`;
}
const outcomeTypes = new WeakMap<StepDef, OutcomeTypes>();

function outcomeTypesOf(step: StepDef): OutcomeTypes {
  let types = outcomeTypes.get(step);
  if (!types) {
    const id = stepActorId(step.key);
    const undo = compensationActorId(step.key);
    types = { done: `xstate.done.actor.${id}`, error: `xstate.error.actor.${id}`, undone: `xstate.done.actor.${undo}`, undoError: `xstate.error.actor.${undo}` };
    outcomeTypes.set(step, types);
  }
  return types;
}

/**
 * The attempt's `ctx.signal`, made when the task first reads it: most tasks never do, and an
 * `AbortController` plus a listener on the shutdown signal per attempt was a measurable share of a
 * step's CPU. Aborts that come before the signal exists are remembered, so a task that reads it
 * late sees exactly what an eager signal would show: aborted, with the first abort's reason.
 */
class AttemptSignal implements Abortable {
  private controller: AbortController | undefined;
  /** The listener on the shutdown signal, once the signal exists and listens. */
  private onShutdown: (() => void) | undefined;
  /** The first abort requested before the signal existed. */
  private early: { readonly reason: unknown } | undefined;
  /** A shutdown signal already aborted when the attempt began never aborts it (as an `abort` listener added then never fires). */
  private readonly shutdownBefore: boolean;

  constructor(private readonly shutdown: AbortSignal) {
    this.shutdownBefore = shutdown.aborted;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      const first = this.early ?? this.shutdownDuring();
      if (first) controller.abort(first.reason);
      else if (!this.shutdownBefore) {
        const onShutdown = () => controller.abort(this.shutdown.reason);
        this.shutdown.addEventListener('abort', onShutdown, { once: true });
        this.onShutdown = onShutdown;
      }
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.controller) this.controller.abort(reason);
    else this.early ??= this.shutdownDuring() ?? { reason };
  }

  /** Removes the shutdown listener, if the signal was made and listens. */
  dispose(): void {
    if (this.onShutdown) this.shutdown.removeEventListener('abort', this.onShutdown);
  }

  /** The shutdown, when it came during the attempt (and so came first, as nothing aborted before). */
  private shutdownDuring(): { readonly reason: unknown } | undefined {
    return !this.shutdownBefore && this.shutdown.aborted ? { reason: this.shutdown.reason as unknown } : undefined;
  }
}

/**
 * The `ctx` a task receives: the own enumerable properties a plain object would have, in the same
 * order, `signal` an accessor made on first read. A class with one shared getter rather than an
 * object literal with `get signal()`: such a literal is built through the runtime's slow path
 * each time (about 2 µs, a closure and an accessor pair per attempt). The attempt's signal is a
 * private field: not a key anybody sees or copies.
 */
class TaskAttemptContext implements TaskContext {
  readonly runId: string;
  readonly chain: string;
  readonly task: string;
  readonly step: string;
  readonly idempotencyKey: string;
  readonly attempt: number;
  declare readonly signal: AbortSignal;
  readonly #abort: AttemptSignal;

  constructor(message: TaskMessage, task: string, step: string, abort: AttemptSignal) {
    this.runId = message.runId;
    this.chain = message.chain;
    this.task = task;
    this.step = step;
    this.idempotencyKey = `${message.runId}:${step}`;
    this.attempt = message.attempt;
    this.#abort = abort;
    Object.defineProperty(this, 'signal', TaskAttemptContext.#signal);
  }

  /** One getter for every context (so they all share one hidden class). */
  static readonly #signal: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: TaskAttemptContext): AbortSignal {
      return this.#abort.signal;
    },
  };
}

/**
 * Runs one attempt of a step (or of its compensation) and returns the machine event that
 * reports its outcome. Never throws: every failure becomes an `xstate.error.actor.*` event.
 */
export async function executeTask(step: StepDef, message: TaskMessage, options: ExecuteOptions): Promise<ChainEvent> {
  const { task } = step;
  const types = outcomeTypesOf(step);
  const errorType = message.compensation ? types.undoError : types.error;
  const policy = message.compensation ? task.compensateRetry : task.retry;
  const timeoutMs = message.compensation ? task.compensateTimeoutMs : task.timeoutMs;
  const abort = new AttemptSignal(options.shutdown);
  const unregister = options.register?.((reason) => abort.abort(reason));
  const registration = options.register ? undefined : options.attempts?.add(message.runId, abort);
  let timer: ReturnType<Clock['setTimeout']> | undefined;

  // `signal` is a getter (made on first read): build the compensation's context with its input
  // here rather than by spreading this one, which would read it.
  const ctx: TaskContext = new TaskAttemptContext(message, task.name, step.key, abort);
  if (message.compensation) Object.assign(ctx, { input: message.input });

  try {
    // The timeout runs from before the task starts; a task that throws at once rejects as one that fails later.
    const timeout =
      timeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = options.clock.setTimeout(() => {
              const error = new TaskTimeoutError(task.name, timeoutMs);
              abort.abort(error);
              reject(error);
            }, timeoutMs);
          });
    const work: unknown = message.compensation ? task.compensate?.(message.output, ctx as CompensationContext) : task.run(message.input, ctx);
    const output: unknown = await (timeout ? Promise.race([work, timeout]) : work);
    if (message.compensation) return { type: types.undone, output: null, attempt: message.attempt };
    const stored = storedForm(output);
    if (!stored.ok) {
      const error = new Error(`task "${task.name}" returned a result that is not JSON-serialisable: ${stored.problem}`);
      error.name = 'SerializationError';
      return failed(errorType, message, error, false, options);
    }
    return { type: types.done, output: stored.value, attempt: message.attempt };
  } catch (error) {
    return failed(errorType, message, error, policy.isRetryable(error), options);
  } finally {
    if (timer !== undefined) options.clock.clearTimeout(timer);
    abort.dispose();
    unregister?.();
    registration?.unregister();
  }
}

/** The outcome event of an attempt that failed (no closure per attempt: this runs on every step). */
function failed(type: `xstate.error.actor.${string}`, message: TaskMessage, error: unknown, retryable: boolean, options: ExecuteOptions): ChainEvent {
  return { type, error: serializeError(error, retryable), attempt: message.attempt, random: options.random() };
}
