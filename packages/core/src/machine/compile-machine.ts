import { assign, fromPromise, setup } from 'xstate';
import { serializeError, type SerializedError } from '../errors.js';
import type { AnyTask } from '../task.js';
import { CANCEL_EVENT, type ChainContext, type ChainEvent, type FailureInfo, type StepInvocation } from './chain-context.js';
import { flattenStates } from './flat-states.js';

/** One step of a compiled chain. */
export interface StepDef {
  /** Unique state name inside the chain: the task name, suffixed `_2`, `_3` when repeated. */
  readonly key: string;
  readonly index: number;
  readonly task: AnyTask;
}

/** Invoke id (and actor source) of a step's task, and of its compensation. */
export const stepActorId = (key: string) => key;
export const compensationActorId = (key: string) => `compensate-${key}`;
/** Name of the `after` delay used by every retrying state. */
export const RETRY_DELAY = 'retryDelay';
/** Name of the custom action that reports a failure (the runtime turns it into an `onFailure` call). */
export const REPORT_FAILURE = 'reportFailure';
/** Name of the custom action that marks a cancellation (it makes the transition visible even from a state with no actions of its own). */
export const CANCELLED = 'cancelled';
/**
 * Name of the custom action by which the decider machine asks for a task to run: the same
 * `{ id, input }` as the `xstate.spawnChild` params of the live machine's `invoke`.
 */
export const INVOKE = 'taskchart.invoke';

/** The `INVOKE` action's params (the fields of `xstate.spawnChild`'s params the runtime reads). */
export interface InvokeParams {
  readonly id: string;
  readonly input: StepInvocation;
}

/**
 * How a compiled machine starts a step's (or compensation's) task in its `running` state.
 *
 * - `live`: XState's `invoke` of the task's promise actor: what `chain.machine` holds, what the
 *   Stately editor draws and what `createActor` runs.
 * - `decider`: the same statechart, but `running` announces the invocation with the custom action
 *   {@link INVOKE} and takes the same `xstate.done.actor.<id>`/`xstate.error.actor.<id>` events with
 *   the same transitions. XState resolves an `invoke` by constructing a child actor (which the
 *   pure decider never starts) and copying the snapshot twice (spawn, then stop on exit); a custom
 *   action costs neither. The chart is flattened (one top-level state per leaf, see
 *   `flat-states.ts`) and carries no tags. Only the runtime's decider uses it; its state values
 *   map to `chain.machine`'s through `decider-machine.ts`.
 */
export type MachineMode = 'live' | 'decider';

type StepParams = { step: string };

function stepInput(context: ChainContext, steps: readonly StepDef[], index: number): unknown {
  if (index === 0) return context.input;
  const previous = steps[index - 1];
  return previous ? context.outputs[previous.key] : undefined;
}

/**
 * `outputs` with step `step`'s output set: a copy, as `{ ...outputs, [step]: output }` makes, but
 * built by `Object.assign` and a set, since a spread that adds a key the source lacks takes V8's
 * slow path on Node 20 (1.4-2.9 µs against ~50 ns; this runs on every completed step). No step
 * is keyed `__proto__` (task names refuse it), which a set would take for the copy's prototype.
 */
function withOutput(outputs: Readonly<Record<string, unknown>>, step: string, output: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = Object.assign({}, outputs);
  copy[step] = output;
  return copy;
}

function isCurrentAttempt(context: ChainContext, event: { attempt?: number }): boolean {
  return event.attempt === undefined || event.attempt === context.attempt;
}

/**
 * Compiles a chain into a plain XState v5 machine:
 *
 * ```
 * <step>           running (invokes the task) ⇄ retrying (after: retryDelay)
 * compensating.<s> running (invokes the compensation) ⇄ retrying, in reverse step order
 * completed | compensated | failed | cancelled   (final)
 *
 * `taskchart.cancel` in a step goes to the compensation of the completed steps before it (or
 * straight to `cancelled` with `compensate: false`, or when there is nothing to undo); the
 * compensations then end `cancelled` instead of `compensated`.
 * ```
 *
 * The runtime drives this statechart with XState's pure `transition`, compiled in `decider` mode
 * (see {@link MachineMode}); the `live` machine's actors let it run live (`createActor`) for the
 * Stately inspector and for experiments.
 */
export function compileChainMachine(chainName: string, steps: readonly StepDef[], mode: MachineMode = 'live') {
  const byKey = new Map(steps.map((s) => [s.key, s]));
  const byActorId = new Map<string, { step: StepDef; compensation: boolean }>();
  for (const step of steps) {
    byActorId.set(stepActorId(step.key), { step, compensation: false });
    if (step.task.compensate) byActorId.set(compensationActorId(step.key), { step, compensation: true });
  }
  const policyOf = (key: string, compensation: boolean) => {
    const step = byKey.get(key);
    if (!step) throw new Error(`chain "${chainName}": no step "${key}"`);
    return compensation ? step.task.compensateRetry : step.task.retry;
  };
  const lastKey = steps[steps.length - 1]?.key;

  const actors: Record<string, ReturnType<typeof liveActor>> = {};
  if (mode === 'live') for (const [id, { step, compensation }] of byActorId) actors[id] = liveActor(chainName, step, compensation);
  const running = mode === 'live' ? invoking : announcing;
  // Tags are for whoever reads a live snapshot (the inspector, `hasTag`); XState rebuilds a
  // snapshot's tag set on every copy, so the decider machine, whose snapshots only the runtime
  // reads, has none.
  const tagged = (...tags: string[]) => (mode === 'live' ? { tags } : {});

  const canRetry = (compensation: boolean) => ({ context, event }: { context: ChainContext; event: ChainEvent }, params: unknown) => {
    if (!('error' in event) || !isCurrentAttempt(context, event)) return false;
    return event.error.retryable && context.attempt <= policyOf((params as StepParams).step, compensation).maxRetries;
  };
  const failureOf = (context: ChainContext, event: ChainEvent, key: string, compensation: boolean): FailureInfo => {
    const step = byKey.get(key);
    const index = step?.index ?? 0;
    return {
      step: key,
      task: step?.task.name ?? key,
      input: compensation ? context.outputs[key] : stepInput(context, steps, index),
      attempts: context.attempt,
      error: 'error' in event ? event.error : serializeError(new Error('unknown failure'), false),
      compensation,
    };
  };
  const retryUpdate = (context: ChainContext, event: ChainEvent, params: unknown, compensation: boolean) => {
    const random = 'random' in event && typeof event.random === 'number' ? event.random : Math.random();
    const policy = policyOf((params as StepParams).step, compensation);
    // A RetryAfterError names the delay: capped by the policy's max unless it said otherwise.
    const asked = 'error' in event ? event.error.retryAfterMs : undefined;
    const delay = asked === undefined ? policy.delayFor(context.attempt - 1, random) : 'error' in event && event.error.retryAfterIgnoresMax ? asked : Math.min(asked, policy.maxMs);
    return { attempt: context.attempt + 1, retryDelayMs: delay };
  };

  const machineSetup = setup({
    types: {
      context: {} as ChainContext,
      events: {} as ChainEvent,
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- XState infers the machine's input type from this
      input: {} as unknown,
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- XState infers the machine's output type from this
      output: {} as unknown,
    },
    actors,
    guards: {
      currentAttempt: ({ context, event }) => isCurrentAttempt(context, event as { attempt?: number }),
      canRetryStep: canRetry(false),
      canRetryCompensation: canRetry(true),
      cancelCompensates: ({ event }) => event.type === CANCEL_EVENT && event.compensate,
      cancelSkipsCompensation: ({ event }) => event.type === CANCEL_EVENT && !event.compensate,
      wasCancelled: ({ context }) => context.cancel != null,
    },
    delays: {
      [RETRY_DELAY]: ({ context }) => context.retryDelayMs,
    },
    actions: {
      recordOutput: assign(({ context, event }, params: unknown) => ({
        outputs: withOutput(context.outputs, (params as StepParams).step, 'output' in event ? event.output : undefined),
        attempt: 1,
        retryDelayMs: 0,
      })),
      resetAttempt: assign({ attempt: 1, retryDelayMs: 0 }),
      scheduleStepRetry: assign(({ context, event }, params: unknown) => retryUpdate(context, event, params, false)),
      scheduleCompensationRetry: assign(({ context, event }, params: unknown) => retryUpdate(context, event, params, true)),
      recordFailure: assign(({ context, event }, params: unknown) => ({
        failure: failureOf(context, event, (params as StepParams).step, false),
        attempt: 1,
        retryDelayMs: 0,
      })),
      recordCompensationFailure: assign(({ context, event }, params: unknown) => ({
        compensationFailure: failureOf(context, event, (params as StepParams).step, true),
      })),
      recordCancel: assign(({ event }) => (event.type === CANCEL_EVENT ? { cancel: { reason: event.reason, compensate: event.compensate }, attempt: 1, retryDelayMs: 0 } : {})),
      // Executed by the runtime (as an outbox entry), never inside the pure transition.
      [REPORT_FAILURE]: () => undefined,
      [CANCELLED]: () => undefined,
      [INVOKE]: () => undefined,
    },
  });

  const id = chainName;
  const compensable = (below: number) => [...steps.slice(0, below)].reverse().filter((s) => s.task.compensate);
  const failTarget = (index: number) => {
    const first = compensable(index)[0];
    return first ? `#${id}.compensating.${first.key}` : `#${id}.failed`;
  };

  const states: Record<string, unknown> = {};
  // A cancel in a step compensates the completed steps before it (unless told not to), then ends `cancelled`.
  const cancelled = ['recordCancel', CANCELLED];
  const onCancel = (index: number) => {
    const first = compensable(index)[0];
    const end = { target: `#${id}.cancelled`, actions: cancelled };
    return first ? [{ guard: 'cancelCompensates', target: `#${id}.compensating.${first.key}`, actions: cancelled }, end] : [end];
  };
  steps.forEach((step, index) => {
    const next = steps[index + 1];
    states[step.key] = {
      initial: 'running',
      on: { [CANCEL_EVENT]: onCancel(index) },
      states: {
        running: {
          ...tagged('running'),
          ...running({
            id: stepActorId(step.key),
            input: ({ context }: { context: ChainContext }): StepInvocation => ({
              input: stepInput(context, steps, index),
              attempt: context.attempt,
              compensation: false,
            }),
            onDone: { target: next ? `#${id}.${next.key}` : `#${id}.completed`, actions: { type: 'recordOutput', params: { step: step.key } } },
            onError: [
              { guard: { type: 'canRetryStep', params: { step: step.key } }, target: 'retrying', actions: { type: 'scheduleStepRetry', params: { step: step.key } } },
              { guard: 'currentAttempt', target: failTarget(index), actions: [{ type: 'recordFailure', params: { step: step.key } }, REPORT_FAILURE] },
            ],
          }),
        },
        retrying: {
          ...tagged('retrying'),
          after: { [RETRY_DELAY]: { guard: 'currentAttempt', target: 'running' } },
        },
      },
    };
  });

  const compensationStates: Record<string, unknown> = {};
  const allCompensable = compensable(steps.length);
  allCompensable.forEach((step, i) => {
    const next = allCompensable[i + 1];
    compensationStates[step.key] = {
      initial: 'running',
      states: {
        running: {
          ...tagged('compensating'),
          ...running({
            id: compensationActorId(step.key),
            input: ({ context }: { context: ChainContext }): StepInvocation => ({
              input: stepInput(context, steps, step.index),
              output: context.outputs[step.key],
              attempt: context.attempt,
              compensation: true,
            }),
            onDone: next
              ? { target: `#${id}.compensating.${next.key}`, actions: 'resetAttempt' }
              : [
                  { guard: 'wasCancelled', target: `#${id}.cancelled`, actions: 'resetAttempt' },
                  { target: `#${id}.compensated`, actions: 'resetAttempt' },
                ],
            onError: [
              {
                guard: { type: 'canRetryCompensation', params: { step: step.key } },
                target: 'retrying',
                actions: { type: 'scheduleCompensationRetry', params: { step: step.key } },
              },
              { guard: 'currentAttempt', target: `#${id}.failed`, actions: [{ type: 'recordCompensationFailure', params: { step: step.key } }, REPORT_FAILURE] },
            ],
          }),
        },
        retrying: {
          ...tagged('compensating', 'retrying'),
          after: { [RETRY_DELAY]: { guard: 'currentAttempt', target: 'running' } },
        },
      },
    };
  });
  if (allCompensable.length > 0) {
    // A cancel while compensating a failure stops the compensations only when told not to compensate.
    states['compensating'] = {
      states: compensationStates,
      initial: allCompensable[0]?.key,
      on: { [CANCEL_EVENT]: { guard: 'cancelSkipsCompensation', target: `#${id}.cancelled`, actions: cancelled } },
    };
  }
  states['completed'] = { type: 'final' };
  states['cancelled'] = { type: 'final' };
  states['compensated'] = { type: 'final' };
  states['failed'] = { type: 'final' };

  // The decider drives the same chart flattened (see flat-states.ts): fewer states to exit and enter per transition.
  const chart = mode === 'decider' ? flattenStates(id, { initial: steps[0]?.key, states: states as Record<string, Record<string, unknown>> }) : { initial: steps[0]?.key, states };
  const config = {
    id,
    initial: chart.initial,
    context: ({ input }: { input: unknown }): ChainContext => ({
      input,
      outputs: {},
      attempt: 1,
      retryDelayMs: 0,
      failure: null,
      compensationFailure: null,
    }),
    states: chart.states,
    output: ({ context }: { context: ChainContext }) => (lastKey ? context.outputs[lastKey] : undefined),
  };
  return machineSetup.createMachine(config as unknown as Parameters<typeof machineSetup.createMachine>[0]);
}

export type ChainMachine = ReturnType<typeof compileChainMachine>;

/** What a `running` state starts: its invocation's id, input and outcome transitions. */
interface Invocation {
  readonly id: string;
  readonly input: (args: { context: ChainContext }) => StepInvocation;
  readonly onDone: unknown;
  readonly onError: unknown;
}

/** `live`: XState's own `invoke` (src named after the id, as the live actors are). */
function invoking({ id, input, onDone, onError }: Invocation): Record<string, unknown> {
  return { invoke: { id, src: id, input, onDone, onError } };
}

/**
 * `decider`: announces the invocation with {@link INVOKE} on entry, and takes its outcome
 * events exactly as XState turns an `invoke`'s `onDone`/`onError` into transitions.
 */
function announcing({ id, input, onDone, onError }: Invocation): Record<string, unknown> {
  return {
    entry: { type: INVOKE, params: ({ context }: { context: ChainContext }): InvokeParams => ({ id, input: input({ context }) }) },
    on: { [`xstate.done.actor.${id}`]: onDone, [`xstate.error.actor.${id}`]: onError },
  };
}

/** The actor a live (createActor) run of the machine invokes: runs the task in this process. */
function liveActor(chainName: string, step: StepDef, compensation: boolean) {
  return fromPromise<unknown, StepInvocation>(async ({ input, signal, self }) => {
    const runId = self._parent?.id ?? 'live';
    const ctx = {
      runId,
      chain: chainName,
      task: step.task.name,
      step: step.key,
      idempotencyKey: `${runId}:${step.key}`,
      attempt: input.attempt,
      signal,
    };
    try {
      if (compensation) {
        await step.task.compensate?.(input.output, { ...ctx, input: input.input });
        return null;
      }
      return (await step.task.run(input.input, ctx)) as unknown;
    } catch (error) {
      const policy = compensation ? step.task.compensateRetry : step.task.retry;
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- XState hands the thrown value to the machine as the error event's payload, which must be the plain, serialisable SerializedError
      throw serializeError(error, policy.isRetryable(error)) satisfies SerializedError;
    }
  });
}
