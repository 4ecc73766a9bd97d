import type { Clock } from '../clock.js';
import { ChainVersionUnknownError, UnknownChainError } from '../errors.js';
import type { ChainEvent } from '../machine/chain-context.js';
import { parseMessage, START_EVENT, verifySignature, type TaskMessage, type TimerMessage } from '../messages.js';
import type { Delivery } from '../ports/broker.js';
import { isTerminal, type RunRecord } from '../ports/store.js';
import { definitionOf, type ChainVersions } from './chain-versions.js';
import { awaits, stepByKey } from './decide.js';
import { executeTask, type ExecuteOptions } from './execute-task.js';
import { heldFor, outageDelay, pause, unknownVersionDelay } from './outage-backoff.js';
import { formatDuration } from '../duration.js';
import type { OutboxRelay } from './outbox-relay.js';
import { isRefusal } from './refusal.js';
import type { ApplyResult, RunEngine } from './run-engine.js';
import type { RunningAttempts } from './running-attempts.js';
import { wrapAttempt, type AttemptContext, type AttemptOutcome, type MessageCause, type Plugin } from './plugins.js';
import type { Logger } from './runtime-options.js';

/** Also the `ExecuteOptions` of every attempt (clock, random, shutdown, attempts): one object for all. */
export interface HandlerDeps extends ExecuteOptions {
  readonly engine: RunEngine;
  /** Publishes (signed, delay capped to the broker's) the re-delayed hop of an early timer. */
  readonly relay: OutboxRelay;
  readonly chains: ChainVersions;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signingKey: string | undefined;
  readonly shutdown: AbortSignal;
  /**
   * Aborted as soon as `close()` begins: a step outcome whose commit keeps failing stops being
   * retried, and its delivery is nacked.
   */
  readonly closing: AbortSignal;
  /** Called when the store is lost for good (`StoreLostError`): the runtime stops consuming. */
  readonly onStoreLost: (error: Error) => void;
  readonly logger: Logger;
  /** Their `wrapAttempt` hooks wrap each attempt. */
  readonly plugins: readonly Plugin[];
  /**
   * Which plugin hooks there are (`pluginHooks(plugins)`): asked on every step, so worked out
   * once.
   */
  readonly hooks: PluginHooks;
  /**
   * Steps executing in this process, by run, step, attempt and kind. A copy of a message that
   * is being handled (a broker redelivery racing a start-up republish of the outbox, say) waits
   * for the first to be committed, then finds the run moved on, instead of running the step a
   * second time side by side.
   */
  readonly executing: ExecutingSteps;
  /** The attempts running in this process, so a cancel of their run aborts them. */
  readonly attempts: RunningAttempts;
  /** How long a message of an unknown chain version is given back before its run is parked. */
  readonly unknownVersionGraceMs: number;
}

/** Which hooks the plugins have, for the handler's per-step checks. */
export interface PluginHooks {
  /** Some plugin wraps attempts (`wrapAttempt`). */
  readonly wrapAttempt: boolean;
  /** Some plugin adds headers to the messages a commit writes (`messageHeaders`). */
  readonly messageHeaders: boolean;
}

export function pluginHooks(plugins: readonly Plugin[]): PluginHooks {
  return { wrapAttempt: plugins.some((p) => p.wrapAttempt), messageHeaders: plugins.some((p) => p.messageHeaders) };
}

/** A step being handled in this process (see {@link ExecutingSteps}); a node of its run's list. */
interface Executing {
  readonly step: string;
  readonly attempt: number;
  readonly compensation: boolean;
  next: Executing | undefined;
  /** Copies of the same message waiting for this one to be committed (rare: made only then). */
  waiters: Array<() => void> | undefined;
}

/**
 * The steps being handled in this process, by run (a short list each), so a copy of a message
 * being handled waits for the first. No key string, promise or closure per step: a waiter's
 * promise is made only when a copy actually comes.
 */
export class ExecutingSteps {
  private readonly byRun = new Map<string, Executing>();

  /** The handling of `message`'s invocation under way, if any. */
  find(message: TaskMessage): Executing | undefined {
    for (let e = this.byRun.get(message.runId); e; e = e.next) {
      if (e.step === message.step && e.attempt === message.attempt && e.compensation === message.compensation) return e;
    }
    return undefined;
  }

  /** Resolves once `executing` has ended. */
  wait(executing: Executing): Promise<void> {
    return new Promise<void>((resolve) => (executing.waiters ??= []).push(resolve));
  }

  /** Records that `message` is being handled now; `end()` it when done. */
  begin(message: TaskMessage): Executing {
    const executing: Executing = { step: message.step, attempt: message.attempt, compensation: message.compensation, next: this.byRun.get(message.runId), waiters: undefined };
    this.byRun.set(message.runId, executing);
    return executing;
  }

  /** `executing` (of run `runId`) has ended: the copies waiting for it go on. */
  end(runId: string, executing: Executing): void {
    const head = this.byRun.get(runId);
    if (head === executing) {
      if (executing.next) this.byRun.set(runId, executing.next);
      else this.byRun.delete(runId);
    } else {
      for (let e = head; e; e = e.next) {
        if (e.next === executing) {
          e.next = executing.next;
          break;
        }
      }
    }
    if (executing.waiters) for (const wake of executing.waiters) wake();
  }
}

/** Dead-letters `delivery` with `reason`, and says so. */
async function deadLetterWith(delivery: Delivery, logger: Logger, reason: string): Promise<void> {
  logger.warn(`dead-lettered a message: ${reason}`);
  await delivery.deadLetter(reason);
}

/** Whether `message` is what run `record` is waiting for right now (the decider's `waiting` set answers). */
function isCurrent(record: RunRecord, message: TaskMessage): boolean {
  return awaits(record, { kind: message.compensation ? 'compensation' : 'step', step: message.step, attempt: message.attempt });
}

/** The store can keep nothing any more (by name: an adapter may bundle another copy of core). */
function isStoreLost(error: unknown): error is Error {
  return error instanceof Error && error.name === 'StoreLostError';
}

/** Why a parked run's messages are dead-lettered: its `RunParkedError`, naming run, chain and state. */
function parkedReason(record: RunRecord): string {
  return record.error?.message ?? `run "${record.id}" (chain "${record.chain}") is parked`;
}

/**
 * A delivery that is an outbox entry this process committed and runs itself (eager dispatch),
 * not a broker message: its signature is not checked, and the commit of the step's outcome
 * deletes the entry (`settled()` is then called, so the ack deletes nothing).
 */
export interface FromOutbox {
  /** Its outbox row, deleted by the commit of the outcome; `undefined` for a message published without one. */
  readonly settles: number | undefined;
  settled(): void;
  /** The attempt has run (its outcome is being committed): the slot it held is free. Called again (harmless) when handling ends. */
  attempted(): void;
}

/**
 * Handles one delivery from a task queue: validates it (dead-lettering what cannot be handled,
 * with the reason), runs the step, applies its outcome to the run, and acks only after the
 * transition is committed. Never throws.
 */
export async function handleDelivery(queue: string, delivery: Delivery, deps: HandlerDeps, outbox?: FromOutbox): Promise<void> {
  try {
    if (deps.signingKey && !outbox) {
      const problem = verifySignature(delivery.body, delivery.headers, deps.signingKey);
      if (problem) return await deadLetterWith(delivery, deps.logger, problem);
    }
    const parsed = parseMessage(delivery.body);
    if (!parsed.ok) return await deadLetterWith(delivery, deps.logger, parsed.reason);
    const message = parsed.message;
    if (!deps.chains.latest(message.chain)) return await deadLetterWith(delivery, deps.logger, `unknown chain "${message.chain}" (run ${message.runId}): this runtime was not given it in createRuntime({ chains })`);
    const chain = message.kind === 'timer' && message.event === START_EVENT ? deps.chains.latest(message.chain) : deps.chains.get(message.chain, message.chainVersion ?? 1);
    if (!chain) return await handleOtherVersion(delivery, message, deps);
    if (message.kind === 'task') {
      const step = stepByKey(chain, message.step);
      if (!step || step.task.name !== message.task) {
        // The run may wait at a step this definition no longer has (a deploy renamed it): loading it parks it.
        const loaded = await deps.engine.load(message.runId);
        if (loaded?.record.status === 'parked' && loaded.record.chain === message.chain) return await deadLetterWith(delivery, deps.logger, parkedReason(loaded.record));
        return await deadLetterWith(delivery, deps.logger, `unknown task "${message.task}" for step "${message.step}" of chain "${message.chain}" (run ${message.runId})`);
      }
      if (message.compensation && !step.task.compensate) return await deadLetterWith(delivery, deps.logger, `task "${message.task}" has no compensate function (run ${message.runId})`);
      await handleTask(delivery, message, step, deps, outbox);
    } else {
      await handleTimer(queue, delivery, message, deps);
    }
  } catch (error) {
    // The message names a chain this runtime knows, but its run belongs to another one.
    if (error instanceof UnknownChainError) return await deadLetterWith(delivery, deps.logger, error.message).catch(() => undefined);
    // Its run is on a chain version this runtime lacks: leave it for one that has it, for a while.
    if (error instanceof ChainVersionUnknownError) return await waitForVersion(error, delivery, deps).catch(() => undefined);
    if (isStoreLost(error)) {
      // Nothing committed now would be kept: stop, loudly, and give the message back at once.
      deps.onStoreLost(error);
      await delivery.nack().catch(() => undefined);
      return;
    }
    // The store or broker failed: give the message back; it is redelivered and retried, a
    // little later each time it comes back.
    const delayMs = outageDelay(delivery.redeliveries);
    deps.logger.warn('could not handle a message; it will be redelivered', { delayMs, error: String(error) });
    await delivery.nack({ delayMs }).catch(() => undefined);
  } finally {
    // An eager step's slot is free by now at the latest (a message it never ran, say).
    outbox?.attempted();
  }
}

/** What the plugins are told about this attempt; `undefined` (nothing built) when no plugin wraps attempts or adds headers. */
function attemptContext(step: NonNullable<ReturnType<typeof stepByKey>>, message: TaskMessage, delivery: Delivery, deps: HandlerDeps): AttemptContext | undefined {
  if (!deps.hooks.wrapAttempt && !deps.hooks.messageHeaders) return undefined;
  const { runId, chain, task, attempt, compensation } = message;
  return { runId, chain, step: message.step, task, queue: step.task.queue, attempt, compensation, headers: delivery.headers, messageId: delivery.id };
}

/**
 * Runs one attempt of `step` inside the plugins' `wrapAttempt` hooks; resolves with its outcome
 * event. `deps` are the attempt's `ExecuteOptions` (clock, random, shutdown, attempts): one
 * object for every attempt.
 */
function runAttempt(step: NonNullable<ReturnType<typeof stepByKey>>, message: TaskMessage, ctx: AttemptContext | undefined, deps: HandlerDeps): Promise<ChainEvent> {
  // Not an async function: returning the attempt's own promise spares a wrapping one (and its resolve job).
  if (!ctx || !deps.hooks.wrapAttempt) return executeTask(step, message, deps);
  return runWrapped(step, message, ctx, deps);
}

/** Runs one attempt inside the plugins' `wrapAttempt` hooks. */
async function runWrapped(step: NonNullable<ReturnType<typeof stepByKey>>, message: TaskMessage, ctx: AttemptContext, deps: HandlerDeps): Promise<ChainEvent> {
  const execute = () => executeTask(step, message, deps);
  let event: Promise<ChainEvent> | undefined;
  const attempt = async (): Promise<AttemptOutcome> => {
    const outcome = await (event ??= execute());
    return 'error' in outcome ? { ok: false, error: { name: outcome.error.name, message: outcome.error.message } } : { ok: true };
  };
  await wrapAttempt(deps.plugins, ctx, attempt, deps.logger);
  // A wrapper that never called next(): the attempt still runs, once.
  return (event ??= execute());
}

/**
 * Commits a finished attempt's outcome after its first commit failed with `error` ({@link handleTask}
 * makes the first try itself: no frame or closure of its own on the path nearly every step takes).
 * The outcome is kept and its commit retried with backoff while the delivery stays unacknowledged,
 * instead of running the task again; it gives up (rejects, and the delivery is nacked) only when
 * the runtime closes or the store is lost.
 */
async function retryCommit(runId: string, event: ChainEvent, deps: HandlerDeps, cause: MessageCause | undefined, settles: readonly number[] | undefined, error: unknown): Promise<ApplyResult> {
  for (let failures = 0; ; failures++) {
    if (deps.closing.aborted || isStoreLost(error)) throw error;
    const delayMs = outageDelay(failures);
    deps.logger.warn('could not commit a step outcome; retrying the commit, not the step', { runId, event: event.type, delayMs, error: String(error) });
    await pause(deps.clock, delayMs, deps.closing);
    if (deps.closing.aborted) throw error;
    try {
      return await deps.engine.apply(runId, event, cause, undefined, settles);
    } catch (next) {
      error = next;
    }
  }
}

async function handleTask(
  delivery: Delivery,
  message: TaskMessage,
  step: NonNullable<ReturnType<typeof stepByKey>>,
  deps: HandlerDeps,
  outbox: FromOutbox | undefined,
): Promise<void> {
  for (let first = deps.executing.find(message); first; first = deps.executing.find(message)) await deps.executing.wait(first);
  const executing = deps.executing.begin(message);
  try {
    // The cached copy without `load()`'s promise (awaited all the same: the task still starts on a later turn).
    let loaded = await (deps.engine.cached(message.runId) ?? deps.engine.load(message.runId));
    if (loaded && !isCurrent(loaded.record, message)) loaded = await deps.engine.load(message.runId, true);
    if (!loaded) return await deadLetterWith(delivery, deps.logger, `unknown run "${message.runId}" (chain "${message.chain}"): not in the store`);
    if (loaded.record.chain !== message.chain) return await deadLetterWith(delivery, deps.logger, `run "${message.runId}" belongs to chain "${loaded.record.chain}", not "${message.chain}"`);
    if (loaded.record.status === 'parked') return await deadLetterWith(delivery, deps.logger, parkedReason(loaded.record));
    if (!isCurrent(loaded.record, message) || definitionOf(loaded.record).version !== (message.chainVersion ?? 1)) {
      // A duplicate or an old attempt's message: the run has moved on. Nothing to do.
      await delivery.ack();
      return;
    }
    const ctx = attemptContext(step, message, delivery, deps);
    const event = await runAttempt(step, message, ctx, deps);
    outbox?.attempted();
    const cause = ctx && deps.hooks.messageHeaders ? ({ kind: 'attempt', attempt: ctx } as const) : undefined;
    const settles = outbox?.settles === undefined ? undefined : [outbox.settles];
    let result: ApplyResult;
    try {
      result = await deps.engine.apply(message.runId, event, cause, undefined, settles);
    } catch (error) {
      result = await retryCommit(message.runId, event, deps, cause, settles, error);
    }
    if (result === 'parked') return await deadLetterParked(message.runId, delivery, deps);
    if (result === 'applied') outbox?.settled();
    await delivery.ack();
  } finally {
    deps.executing.end(message.runId, executing);
  }
}

async function handleTimer(
  queue: string,
  delivery: Delivery,
  message: TimerMessage,
  deps: HandlerDeps,
): Promise<void> {
  const remaining = message.dueAt - deps.clock.now();
  if (remaining > 0) {
    // Delivered early (the broker caps delays, e.g. SQS at 15 minutes): delay another hop.
    try {
      // The same message, re-delayed: it keeps its headers (a trace context, say).
      await deps.relay.send(message.runId, queue, delivery.body, { delayMs: remaining, groupId: message.runId, headers: delivery.headers });
    } catch (error) {
      if (!isRefusal(error)) throw error;
      // Cannot happen with bounded ids, but must never loop: the run cannot wait any longer.
      await deps.engine.park(message.runId, `the broker refused its timer message (${message.event}) for good: ${error.message}`);
      return deadLetterParked(message.runId, delivery, deps);
    }
    await delivery.ack();
    return;
  }
  const cause = deps.hooks.messageHeaders ? ({ kind: 'timer', headers: delivery.headers } as const) : undefined;
  const result =
    message.event === START_EVENT
      ? await deps.engine.startScheduled(message.runId, cause)
      : await deps.engine.apply(message.runId, { type: message.event as `xstate.after.${string}`, attempt: message.attempt }, cause, message.chainVersion ?? 1);
  if (result === 'unknown-run') return deadLetterWith(delivery, deps.logger, `unknown run "${message.runId}" (chain "${message.chain}"): not in the store`);
  if (result === 'parked') return deadLetterParked(message.runId, delivery, deps);
  await delivery.ack();
}

/** Dead-letters a message of a parked run, with the reason the run was parked (acks it if the run is not parked). */
async function deadLetterParked(runId: string, delivery: Delivery, deps: HandlerDeps): Promise<void> {
  const loaded = await deps.engine.load(runId, true);
  if (loaded?.record.status === 'parked') await deadLetterWith(delivery, deps.logger, parkedReason(loaded.record));
  else await delivery.ack();
}

/**
 * A message for a chain version this runtime does not hold. Loading its run migrates it when
 * `migrate` functions lead from its version to a loaded one (the message is then stale: the
 * migration dispatched the run again), or throws `ChainVersionUnknownError` (see
 * {@link waitForVersion}).
 */
async function handleOtherVersion(delivery: Delivery, message: TaskMessage | TimerMessage, deps: HandlerDeps): Promise<void> {
  const loaded = await deps.engine.load(message.runId, true);
  if (!loaded) return deadLetterWith(delivery, deps.logger, `unknown run "${message.runId}" (chain "${message.chain}"): not in the store`);
  if (loaded.record.status === 'parked') return deadLetterWith(delivery, deps.logger, parkedReason(loaded.record));
  if (!isTerminal(loaded.record.status) && definitionOf(loaded.record).version === (message.chainVersion ?? 1)) {
    // The run is on the message's version, which this runtime lacks: as for a version it cannot load.
    const step = message.kind === 'task' ? message.step : (loaded.record.step ?? '(none)');
    const error = new ChainVersionUnknownError(message.runId, message.chain, message.chainVersion ?? 1, `version ${message.chainVersion ?? 1} is not loaded here (loaded: ${deps.chains.versionsOf(message.chain)}) (the run waits at step "${step}")`);
    return waitForVersion(error, delivery, deps);
  }
  await delivery.ack();
}

/**
 * Gives the message back with a growing delay (1 s, doubling, at most 1 min: the one backoff
 * formula) so a runtime that knows the version can take it; once it has been given back for
 * `unknownVersionGrace`, parks the run (`onFailure` is told) and dead-letters the message.
 */
async function waitForVersion(error: ChainVersionUnknownError, delivery: Delivery, deps: HandlerDeps): Promise<void> {
  if (heldFor(delivery.redeliveries) < deps.unknownVersionGraceMs) {
    await delivery.nack({ delayMs: unknownVersionDelay(delivery.redeliveries) });
    return;
  }
  await deps.engine.park(error.runId, `${error.message}; no runtime that knows version ${error.version} took its message within ${formatDuration(deps.unknownVersionGraceMs)}`);
  return deadLetterParked(error.runId, delivery, deps);
}
