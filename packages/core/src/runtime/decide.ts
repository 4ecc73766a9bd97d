/**
 * The decider: runs XState's pure `initialTransition`/`transition` on a chain machine and turns
 * the resulting snapshot and actions into what the store keeps (record, history, outbox).
 * Nothing here performs I/O.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { AnyChain } from '../chain.js';
import { CANCEL_EVENT, type ChainContext, type ChainEvent } from '../machine/chain-context.js';
import { compensationActorId, INVOKE, REPORT_FAILURE, stepActorId, type InvokeParams, type StepDef } from '../machine/compile-machine.js';
import { deciderMachine, onDecider } from '../machine/decider-machine.js';
import { pureInitialTransition, pureTransition } from '../machine/pure-transition.js';
import { START_EVENT, type TaskMessage, type TimerMessage } from '../messages.js';
import type { PublishOptions } from '../ports/broker.js';
import { isTerminal, type HistoryEntry, type NewOutboxEntry, type RunRecord, type RunStatus, type WaitingFor } from '../ports/store.js';
import { RunCancelledError, type SerializedError } from '../errors.js';
import type { FailureReport } from './failure-report.js';
import type { RunDefinition } from './chain-versions.js';
import type { HeaderHook, MessageCause, OutgoingMessage } from './plugins.js';

export interface Decision {
  readonly record: RunRecord;
  readonly history: HistoryEntry[];
  readonly outbox: NewOutboxEntry[];
  /** The resolved snapshot, kept in memory so the next transition can skip re-resolving. */
  readonly snapshot: AnyMachineSnapshot;
}

/** Persisted form of a chain machine snapshot. */
export interface PersistedChainSnapshot {
  readonly value: unknown;
  readonly context: ChainContext;
  /** The chain version the run is on, and its steps' fingerprint (absent in runs stored before versions). */
  readonly definition?: RunDefinition;
}

interface Phase {
  readonly status: RunStatus;
  readonly step: string | undefined;
  readonly substate: 'running' | 'retrying' | undefined;
  readonly compensation: boolean;
}

export function phaseOf(snapshot: AnyMachineSnapshot): Phase {
  const value = snapshot.value as string | Record<string, unknown>;
  if (typeof value === 'string') {
    const status = value as RunStatus;
    return { status, step: undefined, substate: undefined, compensation: false };
  }
  const [top, inner] = Object.entries(value)[0] ?? [];
  if (top === 'compensating' && inner && typeof inner === 'object') {
    const [step, sub] = Object.entries(inner as Record<string, string>)[0] ?? [];
    return { status: 'compensating', step, substate: sub as Phase['substate'], compensation: true };
  }
  const substate = inner as Phase['substate'];
  return { status: substate === 'retrying' ? 'retrying' : 'running', step: top, substate, compensation: false };
}

interface ActorInfo {
  readonly step: StepDef;
  readonly compensation: boolean;
}

const actorIndex = new WeakMap<AnyChain, Map<string, ActorInfo>>();
export function actorInfo(chain: AnyChain, actorId: string): ActorInfo | undefined {
  let index = actorIndex.get(chain);
  if (!index) {
    index = new Map();
    for (const step of chain.steps) {
      index.set(stepActorId(step.key), { step, compensation: false });
      index.set(compensationActorId(step.key), { step, compensation: true });
    }
    actorIndex.set(chain, index);
  }
  return index.get(actorId);
}

export function stepByKey(chain: AnyChain, key: string | undefined): StepDef | undefined {
  return key === undefined ? undefined : chain.steps.find((s) => s.key === key);
}

interface RawAction {
  readonly type: string;
  readonly params?: unknown;
}

function toOutbox(chain: AnyChain, runId: string, next: AnyMachineSnapshot, actions: readonly RawAction[], now: number, keepMessages: boolean, headers: DecideOptions['headers']) {
  const context = next.context as ChainContext;
  const outbox: NewOutboxEntry[] = [];
  const waiting: WaitingFor[] = [];
  let started = 0;
  for (const action of actions) {
    if (action.type === INVOKE) {
      const params = action.params as InvokeParams;
      const info = actorInfo(chain, params.id);
      if (!info) continue;
      const message: TaskMessage = {
        v: 1,
        kind: 'task',
        runId,
        chain: chain.name,
        step: info.step.key,
        task: info.step.task.name,
        attempt: params.input.attempt,
        compensation: info.compensation,
        input: params.input.input,
        ...(info.compensation ? { output: params.input.output } : {}),
        ...(chain.version === 1 ? {} : { chainVersion: chain.version }),
      };
      const options: PublishOptions = { deduplicationId: `${runId}:${params.id}:${params.input.attempt}`, groupId: runId };
      const queue = info.step.task.queue;
      if (headers) withHeaders(options, headers, { kind: 'task', runId, chain: chain.name, step: message.step, task: message.task, queue, attempt: message.attempt, compensation: message.compensation, delayMs: 0, cause: headers.cause });
      const entry = { queue, body: JSON.stringify(message), options };
      outbox.push(entry);
      started++;
      waiting.push({ kind: info.compensation ? 'compensation' : 'step', step: info.step.key, attempt: message.attempt, ...(keepMessages ? { message: entry } : {}) });
    } else if (action.type === 'xstate.raise') {
      const params = action.params as { event: { type: string }; delay?: number };
      if (params.delay === undefined) continue;
      const phase = phaseOf(next);
      const step = stepByKey(chain, phase.step);
      const message: TimerMessage = {
        v: 1,
        kind: 'timer',
        runId,
        chain: chain.name,
        event: params.event.type,
        attempt: context.attempt,
        dueAt: now + params.delay,
        ...(chain.version === 1 ? {} : { chainVersion: chain.version }),
      };
      const options: PublishOptions = { delayMs: params.delay, deduplicationId: `${runId}:${params.event.type}:${context.attempt}`, groupId: runId };
      const queue = step?.task.queue ?? chain.steps[0]?.task.queue ?? 'taskchart';
      if (headers) {
        withHeaders(options, headers, { kind: 'timer', runId, chain: chain.name, step: phase.step ?? '', task: step?.task.name ?? '', queue, attempt: context.attempt, compensation: phase.compensation, delayMs: params.delay, cause: headers.cause });
      }
      const entry = { queue, body: JSON.stringify(message), options };
      outbox.push(entry);
      waiting.push({ kind: 'timer', step: phase.step ?? '', attempt: context.attempt, dueAt: message.dueAt, ...(keepMessages ? { message: entry } : {}) });
    } else if (action.type === REPORT_FAILURE) {
      const failure = context.compensationFailure ?? context.failure;
      if (!failure) continue;
      const report: FailureReport = { runId, chain: chain.name, queue: stepByKey(chain, failure.step)?.task.queue, ...failure };
      outbox.push({ queue: null, body: JSON.stringify(report) });
    }
  }
  return { outbox, waiting, started };
}

/** Sets the headers the plugins give `message` on `options` (nothing when they give none). */
function withHeaders(options: PublishOptions, headers: NonNullable<DecideOptions['headers']>, message: OutgoingMessage): void {
  const given = headers.hook(message);
  if (given) options.headers = given;
}

/** What a task message asks for: the invocation it is (kind, step, attempt). */
export interface Invocation {
  readonly kind: WaitingFor['kind'];
  readonly step: string;
  readonly attempt: number;
}

/**
 * Whether run `record` is waiting for `invocation` right now: the one answer to "is this message
 * still what the run waits for?" (a duplicate, or an old attempt's message, is not).
 */
export function awaits(record: RunRecord, invocation: Invocation): boolean {
  if (isTerminal(record.status) || record.status === 'parked') return false;
  return record.waiting.some((w) => w.kind === invocation.kind && w.step === invocation.step && w.attempt === invocation.attempt);
}

function historyOf(chain: AnyChain, before: Phase | undefined, beforeAttempt: number, next: AnyMachineSnapshot, event: ChainEvent | undefined, now: number): HistoryEntry[] {
  const history: HistoryEntry[] = [];
  const context = next.context as ChainContext;
  const after = phaseOf(next);
  if (!before) history.push({ at: now, type: 'run.started' });
  if (event && (event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.'))) {
    const done = event.type.startsWith('xstate.done.actor.');
    const info = actorInfo(chain, event.type.slice(done ? 'xstate.done.actor.'.length : 'xstate.error.actor.'.length));
    if (info) {
      const attempt = ('attempt' in event ? event.attempt : undefined) ?? beforeAttempt;
      const prefix = info.compensation ? 'compensation' : 'step';
      history.push(
        done
          ? { at: now, type: `${prefix}.completed`, step: info.step.key, task: info.step.task.name, attempt }
          : { at: now, type: `${prefix}.failed`, step: info.step.key, task: info.step.task.name, attempt, ...('error' in event ? { error: event.error } : {}) },
      );
    }
  }
  const cancelled = event?.type === CANCEL_EVENT;
  const reason = (context.cancel?.reason ?? null) === null ? {} : { reason: context.cancel?.reason as string };
  if (after.status === 'cancelled') {
    history.push({ at: now, type: 'run.cancelled', ...reason });
    return history;
  }
  if (after.status === 'completed' || after.status === 'failed' || after.status === 'compensated') {
    history.push({ at: now, type: `run.${after.status}` });
    return history;
  }
  if (cancelled) history.push({ at: now, type: 'run.cancelling', ...reason });
  const prefix = after.compensation ? 'compensation' : 'step';
  const task = stepByKey(chain, after.step)?.task.name;
  const named = { ...(after.step === undefined ? {} : { step: after.step }), ...(task === undefined ? {} : { task }) };
  if (after.substate === 'retrying') {
    history.push({ at: now, type: `${prefix}.retrying`, ...named, attempt: context.attempt, delayMs: context.retryDelayMs, dueAt: now + context.retryDelayMs });
  } else if (
    !before ||
    before.step !== after.step ||
    before.compensation !== after.compensation ||
    before.substate !== after.substate ||
    beforeAttempt !== context.attempt
  ) {
    history.push({ at: now, type: `${prefix}.started`, ...named, attempt: context.attempt });
  }
  return history;
}

export interface DecideOptions {
  /**
   * Whether `waiting` keeps copies of the messages the run waits for. Only a runtime on a
   * non-durable broker needs them: it re-dispatches from them on start.
   * @defaultValue true
   */
  readonly keepMessages?: boolean;
  /**
   * The plugins' `messageHeaders` hook and what caused this transition: each message it writes
   * carries the headers the hook gives. Without it (no plugin has the hook) nothing is built.
   */
  readonly headers?: { readonly hook: HeaderHook; readonly cause: MessageCause };
}

interface RecordBase {
  readonly id: string;
  readonly input: unknown;
  readonly createdAt: number;
  readonly version: number;
  readonly waiting: readonly WaitingFor[];
  readonly totalAttempts: number;
}

function buildRecord(chain: AnyChain, base: RecordBase, next: AnyMachineSnapshot, dispatched: { waiting: WaitingFor[]; started: number }, now: number): RunRecord {
  const context = next.context as ChainContext;
  const phase = phaseOf(next);
  const terminal = isTerminal(phase.status);
  const failure = context.failure;
  return {
    id: base.id,
    chain: chain.name,
    status: phase.status,
    version: base.version,
    step: phase.step,
    attempt: context.attempt,
    totalAttempts: base.totalAttempts + dispatched.started,
    // A transition that dispatches nothing new keeps waiting on what it waited on.
    waiting: terminal ? [] : dispatched.waiting.length > 0 ? dispatched.waiting : base.waiting,
    snapshot: { value: next.value, context, definition: { version: chain.version, fingerprint: chain.fingerprint } } satisfies PersistedChainSnapshot,
    input: base.input,
    ...(phase.status === 'completed' ? { output: next.output } : {}),
    ...(failure && phase.status !== 'completed' ? { error: failure.error, failedTask: failure.task } : {}),
    ...(phase.status === 'cancelled' ? { error: cancelledError(base.id, chain.name, context.cancel?.reason ?? null) } : {}),
    createdAt: base.createdAt,
    updatedAt: now,
  };
}

/** What a cancelled run keeps as its `error`: its `RunCancelledError`. */
export function cancelledError(runId: string, chain: string, reason: string | null): SerializedError {
  const error = new RunCancelledError(runId, chain, reason);
  return { name: error.name, message: error.message, retryable: false };
}

/**
 * The first transition of a run: a new run, or (`scheduled`) the run recorded by
 * {@link decideSchedule} whose start time has come.
 */
export function decideStart(chain: AnyChain, runId: string, input: unknown, now: number, { keepMessages = true, headers }: DecideOptions = {}, scheduled?: RunRecord): Decision {
  const [next, actions] = pureInitialTransition(deciderMachine(chain), input);
  const dispatched = toOutbox(chain, runId, next, actions, now, keepMessages, headers);
  const base = { id: runId, input, createdAt: scheduled?.createdAt ?? now, version: scheduled ? scheduled.version + 1 : 1, waiting: [], totalAttempts: 0 };
  return {
    record: buildRecord(chain, base, next, dispatched, now),
    history: historyOf(chain, undefined, 0, next, undefined, now),
    outbox: dispatched.outbox,
    snapshot: next,
  };
}

/**
 * A run recorded now that starts at `dueAt`: status `scheduled`, no machine snapshot yet, and a
 * durable start timer (a delayed message, re-delayed hop by hop where the broker caps delays).
 */
export function decideSchedule(chain: AnyChain, runId: string, input: unknown, now: number, dueAt: number, { keepMessages = true, headers }: DecideOptions = {}): Omit<Decision, 'snapshot'> {
  const message: TimerMessage = { v: 1, kind: 'timer', runId, chain: chain.name, event: START_EVENT, attempt: 1, dueAt };
  const first = chain.steps[0];
  const queue = first?.task.queue ?? 'taskchart';
  const delayMs = Math.max(0, dueAt - now);
  const options: PublishOptions = { delayMs, deduplicationId: `${runId}:${START_EVENT}`, groupId: runId };
  if (headers) withHeaders(options, headers, { kind: 'timer', runId, chain: chain.name, step: first?.key ?? '', task: first?.task.name ?? '', queue, attempt: 1, compensation: false, delayMs, cause: headers.cause });
  const entry = { queue, body: JSON.stringify(message), options };
  return {
    record: {
      id: runId,
      chain: chain.name,
      status: 'scheduled',
      version: 1,
      step: undefined,
      attempt: 0,
      totalAttempts: 0,
      waiting: [{ kind: 'timer', step: '', attempt: 1, dueAt, ...(keepMessages ? { message: entry } : {}) }],
      snapshot: null,
      input,
      createdAt: now,
      updatedAt: now,
    },
    history: [{ at: now, type: 'run.scheduled', dueAt }],
    outbox: [entry],
  };
}

/** Restores the machine snapshot of a stored run. */
export function restoreSnapshot(chain: AnyChain, record: RunRecord): AnyMachineSnapshot {
  const persisted = record.snapshot as PersistedChainSnapshot;
  return deciderMachine(chain).resolveState({ value: persisted.value as never, context: persisted.context });
}

/**
 * Applies `event` to a stored run. Returns `undefined` when the machine ignores the event (a
 * duplicate, a stale attempt's result, a superseded timer): exactly-once transitions.
 */
export function decideEvent(
  chain: AnyChain,
  record: RunRecord,
  given: AnyMachineSnapshot,
  event: ChainEvent,
  now: number,
  { keepMessages = true, headers }: DecideOptions = {},
): Decision | undefined {
  // The outcome of an invocation the run no longer waits for (a cancel moved it on while the
  // attempt ran) changes nothing, even where the machine would record it.
  if (event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.')) {
    const done = event.type.startsWith('xstate.done.actor.');
    const info = actorInfo(chain, event.type.slice(done ? 'xstate.done.actor.'.length : 'xstate.error.actor.'.length));
    const attempt = ('attempt' in event ? event.attempt : undefined) ?? record.attempt;
    if (info && !awaits(record, { kind: info.compensation ? 'compensation' : 'step', step: info.step.key, attempt })) return undefined;
  }
  const snapshot = onDecider(chain, given);
  const [next, actions] = pureTransition(deciderMachine(chain), snapshot, event);
  // No transition: XState hands back the same snapshot, or (an `xstate.error.actor.*` event no
  // transition takes, e.g. a stale attempt's) a copy with status `error` and nothing else changed.
  if (next === snapshot || next.status === 'error' || (next.value === snapshot.value && next.context === snapshot.context)) {
    return undefined;
  }
  const before = phaseOf(snapshot);
  const dispatched = toOutbox(chain, record.id, next, actions, now, keepMessages, headers);
  return {
    record: buildRecord(chain, { ...record, version: record.version + 1 }, next, dispatched, now),
    history: historyOf(chain, before, record.attempt, next, event, now),
    outbox: dispatched.outbox,
    snapshot: next,
  };
}
