import type { Clock } from '../clock.js';
import { serializeError, TaskTimeoutError } from '../errors.js';
import type { ChainEvent } from '../machine/chain-context.js';
import { compensationActorId, stepActorId, type StepDef } from '../machine/compile-machine.js';
import type { TaskMessage } from '../messages.js';
import type { TaskContext } from '../task.js';
import { asStored, jsonProblem } from './json-value.js';

export interface ExecuteOptions {
  readonly clock: Clock;
  readonly random: () => number;
  /** Aborted when the runtime shuts down hard. */
  readonly shutdown: AbortSignal;
  /** Registers the attempt so a cancel of its run can abort it; returns the function that unregisters it. */
  readonly register?: (abort: (reason: unknown) => void) => () => void;
}

/**
 * Runs one attempt of a step (or of its compensation) and returns the machine event that
 * reports its outcome. Never throws: every failure becomes an `xstate.error.actor.*` event.
 */
export async function executeTask(step: StepDef, message: TaskMessage, options: ExecuteOptions): Promise<ChainEvent> {
  const { task } = step;
  const actorId = message.compensation ? compensationActorId(step.key) : stepActorId(step.key);
  const policy = message.compensation ? task.compensateRetry : task.retry;
  const timeoutMs = message.compensation ? task.compensateTimeoutMs : task.timeoutMs;
  const controller = new AbortController();
  const onShutdown = () => controller.abort(options.shutdown.reason);
  options.shutdown.addEventListener('abort', onShutdown, { once: true });
  const unregister = options.register?.((reason) => controller.abort(reason));
  let timer: ReturnType<Clock['setTimeout']> | undefined;

  const ctx: TaskContext = {
    runId: message.runId,
    chain: message.chain,
    task: task.name,
    step: step.key,
    idempotencyKey: `${message.runId}:${step.key}`,
    attempt: message.attempt,
    signal: controller.signal,
  };
  const fail = (error: unknown, retryable: boolean): ChainEvent => ({
    type: `xstate.error.actor.${actorId}`,
    error: serializeError(error, retryable),
    attempt: message.attempt,
    random: options.random(),
  });

  try {
    const work = Promise.resolve().then((): unknown =>
      message.compensation ? task.compensate?.(message.output, { ...ctx, input: message.input }) : task.run(message.input, ctx),
    );
    const timeout =
      timeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = options.clock.setTimeout(() => {
              const error = new TaskTimeoutError(task.name, timeoutMs);
              controller.abort(error);
              reject(error);
            }, timeoutMs);
          });
    const output: unknown = await (timeout ? Promise.race([work, timeout]) : work);
    if (message.compensation) return { type: `xstate.done.actor.${actorId}`, output: null, attempt: message.attempt };
    const problem = jsonProblem(output);
    if (problem) {
      const error = new Error(`task "${task.name}" returned a result that is not JSON-serialisable: ${problem}`);
      error.name = 'SerializationError';
      return fail(error, false);
    }
    return { type: `xstate.done.actor.${actorId}`, output: asStored(output), attempt: message.attempt };
  } catch (error) {
    return fail(error, policy.isRetryable(error));
  } finally {
    if (timer !== undefined) options.clock.clearTimeout(timer);
    options.shutdown.removeEventListener('abort', onShutdown);
    unregister?.();
  }
}
