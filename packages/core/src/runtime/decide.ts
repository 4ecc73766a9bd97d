/**
 * The decider: runs XState's pure `initialTransition`/`transition` on a chain machine and turns
 * the resulting snapshot and actions into what the store keeps (record, history, outbox).
 * Nothing here performs I/O.
 */
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import type { AnyChain } from '../chain.js';
import { CANCEL_EVENT, type ChainContext, type ChainEvent } from '../machine/chain-context.js';
import { compensationActorId, INVOKE, REPORT_FAILURE, stepActorId, type InvokeParams, type StepDef } from '../machine/compile-machine.js';
import { deciderMachine, onDecider, resolveOnDecider, storedValue } from '../machine/decider-machine.js';
import { START_EVENT, type TaskMessage, type TimerMessage } from '../messages.js';
import type { PublishOptions } from '../ports/broker.js';
import { isTerminal, type HistoryEntry, type NewOutboxEntry, type RunRecord, type RunStatus, type WaitingFor } from '../ports/store.js';
import { RunCancelledError, type SerializedError } from '../errors.js';
import type { FailureReport } from './failure-report.js';
import type { RunDefinition } from './chain-versions.js';
import { outcomeTransition } from './outcome-template.js';
import { startTransition } from './start-template.js';
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

/** The key of a state value object: a chain's states are never parallel, so its only one. */
function onlyKey(value: object): string | undefined {
  for (const key in value) return key;
  return undefined;
}

/**
 * The phases of the state values {@link storedValue} gives (made once per chain state and frozen,
 * so a phase can be worked out once per value too), and of the plain string ones.
 */
const phaseByValue = new WeakMap<object, Phase>();
const phaseByName = new Map<string, Phase>();

/** Where a run stands, read from `chain.machine`'s state value (see {@link storedValue}). */
export function phaseOf(stateValue: StateValue): Phase {
  // The key is the value itself or its text; a value made anew (not one of storedValue's) is not kept.
  const known = typeof stateValue === 'string' ? phaseByName.get(stateValue) : phaseByValue.get(stateValue);
  if (known) return known;
  const phase = readPhase(stateValue);
  if (typeof stateValue === 'string') {
    if (phaseByName.size < 1_000) phaseByName.set(stateValue, phase);
  } else if (Object.isFrozen(stateValue)) {
    phaseByValue.set(stateValue, phase);
  }
  return phase;
}

function readPhase(stateValue: StateValue): Phase {
  const value = stateValue as string | Record<string, unknown>;
  if (typeof value === 'string') {
    const status = value as RunStatus;
    return { status, step: undefined, substate: undefined, compensation: false };
  }
  const top = onlyKey(value);
  const inner = top === undefined ? undefined : value[top];
  if (top === 'compensating' && inner && typeof inner === 'object') {
    const step = onlyKey(inner);
    const sub = step === undefined ? undefined : (inner as Record<string, string>)[step];
    return { status: 'compensating', step, substate: sub as Phase['substate'], compensation: true };
  }
  const substate = inner as Phase['substate'];
  return { status: substate === 'retrying' ? 'retrying' : 'running', step: top, substate, compensation: false };
}

interface ActorInfo {
  readonly step: StepDef;
  readonly compensation: boolean;
}

/** An `xstate.done.actor.*`/`xstate.error.actor.*` event's invocation. */
interface Outcome {
  readonly info: ActorInfo;
  readonly done: boolean;
}

/**
 * A chain's steps by key, by actor id, and by outcome event type, built once per chain: an
 * event's outcome is one lookup of its type instead of parsing it on every transition.
 */
interface ChainIndex {
  readonly actors: Map<string, ActorInfo>;
  readonly steps: Map<string, StepDef>;
  readonly outcomes: Map<string, Outcome>;
}

const DONE_PREFIX = 'xstate.done.actor.';
const ERROR_PREFIX = 'xstate.error.actor.';

const chainIndex = new WeakMap<AnyChain, ChainIndex>();
function indexOf(chain: AnyChain): ChainIndex {
  let index = chainIndex.get(chain);
  if (!index) {
    index = { actors: new Map(), steps: new Map(), outcomes: new Map() };
    for (const step of chain.steps) {
      index.steps.set(step.key, step);
      index.actors.set(stepActorId(step.key), { step, compensation: false });
      index.actors.set(compensationActorId(step.key), { step, compensation: true });
    }
    for (const [id, info] of index.actors) {
      index.outcomes.set(`${DONE_PREFIX}${id}`, { info, done: true });
      index.outcomes.set(`${ERROR_PREFIX}${id}`, { info, done: false });
    }
    chainIndex.set(chain, index);
  }
  return index;
}

export function actorInfo(chain: AnyChain, actorId: string): ActorInfo | undefined {
  return indexOf(chain).actors.get(actorId);
}

export function stepByKey(chain: AnyChain, key: string | undefined): StepDef | undefined {
  return key === undefined ? undefined : indexOf(chain).steps.get(key);
}

function outcomeOf(chain: AnyChain, event: ChainEvent): Outcome | undefined {
  return indexOf(chain).outcomes.get(event.type);
}

/** Builds the readonly shapes below field by field, in their usual key order, instead of spreading. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface RawAction {
  readonly type: string;
  readonly params?: unknown;
}

function toOutbox(chain: AnyChain, runId: string, next: AnyMachineSnapshot, phase: Phase, actions: readonly RawAction[], now: number, keepMessages: boolean, headers: DecideOptions['headers']) {
  const context = next.context as ChainContext;
  const outbox: NewOutboxEntry[] = [];
  const waiting: WaitingFor[] = [];
  let started = 0;
  for (const action of actions) {
    if (action.type === INVOKE) {
      const params = action.params as InvokeParams;
      const info = actorInfo(chain, params.id);
      if (!info) continue;
      const message: Mutable<TaskMessage> = {
        v: 1,
        kind: 'task',
        runId,
        chain: chain.name,
        step: info.step.key,
        task: info.step.task.name,
        attempt: params.input.attempt,
        compensation: info.compensation,
        input: params.input.input,
      };
      if (info.compensation) message.output = params.input.output;
      if (chain.version !== 1) message.chainVersion = chain.version;
      const options: PublishOptions = { deduplicationId: `${runId}:${params.id}:${params.input.attempt}`, groupId: runId };
      const queue = info.step.task.queue;
      if (headers) withHeaders(options, headers, { kind: 'task', runId, chain: chain.name, step: message.step, task: message.task, queue, attempt: message.attempt, compensation: message.compensation, delayMs: 0, cause: headers.cause });
      const entry = { queue, body: JSON.stringify(message), options };
      outbox.push(entry);
      started++;
      const awaited: Mutable<WaitingFor> = { kind: info.compensation ? 'compensation' : 'step', step: info.step.key, attempt: message.attempt };
      if (keepMessages) awaited.message = entry;
      waiting.push(awaited);
    } else if (action.type === 'xstate.raise') {
      const params = action.params as { event: { type: string }; delay?: number };
      if (params.delay === undefined) continue;
      const step = stepByKey(chain, phase.step);
      const message: Mutable<TimerMessage> = {
        v: 1,
        kind: 'timer',
        runId,
        chain: chain.name,
        event: params.event.type,
        attempt: context.attempt,
        dueAt: now + params.delay,
      };
      if (chain.version !== 1) message.chainVersion = chain.version;
      const options: PublishOptions = { delayMs: params.delay, deduplicationId: `${runId}:${params.event.type}:${context.attempt}`, groupId: runId };
      const queue = step?.task.queue ?? chain.steps[0]?.task.queue ?? 'taskchart';
      if (headers) {
        withHeaders(options, headers, { kind: 'timer', runId, chain: chain.name, step: phase.step ?? '', task: step?.task.name ?? '', queue, attempt: context.attempt, compensation: phase.compensation, delayMs: params.delay, cause: headers.cause });
      }
      const entry = { queue, body: JSON.stringify(message), options };
      outbox.push(entry);
      const awaited: Mutable<WaitingFor> = { kind: 'timer', step: phase.step ?? '', attempt: context.attempt, dueAt: message.dueAt };
      if (keepMessages) awaited.message = entry;
      waiting.push(awaited);
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

/** `entry` with the cancellation's reason, when it has one. */
function withReason(entry: Mutable<HistoryEntry>, reason: string | null): HistoryEntry {
  if (reason !== null) entry.reason = reason;
  return entry;
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
  // A loop, not `some()`: no closure per call (asked two or three times a step), and small enough
  // to inline, so the caller's `invocation` literal need not be built either.
  const { kind, step, attempt } = invocation;
  for (const w of record.waiting) if (w.kind === kind && w.step === step && w.attempt === attempt) return true;
  return false;
}

function historyOf(
  chain: AnyChain,
  before: Phase | undefined,
  beforeAttempt: number,
  next: AnyMachineSnapshot,
  after: Phase,
  event: ChainEvent | undefined,
  outcome: Outcome | undefined,
  now: number,
  worker: string | undefined,
): HistoryEntry[] {
  const history: HistoryEntry[] = [];
  const context = next.context as ChainContext;
  if (!before) history.push({ at: now, type: 'run.started' });
  if (event && outcome) {
    const { info, done } = outcome;
    const attempt = ('attempt' in event ? event.attempt : undefined) ?? beforeAttempt;
    const type = info.compensation ? (done ? 'compensation.completed' : 'compensation.failed') : done ? 'step.completed' : 'step.failed';
    const entry: Mutable<HistoryEntry> = { at: now, type, step: info.step.key, task: info.step.task.name, attempt };
    if (!done && 'error' in event) entry.error = event.error;
    if (worker !== undefined) entry.worker = worker;
    history.push(entry);
  }
  const cancelled = event?.type === CANCEL_EVENT;
  const reason = context.cancel?.reason ?? null;
  if (after.status === 'cancelled') {
    history.push(withReason({ at: now, type: 'run.cancelled' }, reason));
    return history;
  }
  if (after.status === 'completed' || after.status === 'failed' || after.status === 'compensated') {
    history.push({ at: now, type: after.status === 'completed' ? 'run.completed' : after.status === 'failed' ? 'run.failed' : 'run.compensated' });
    return history;
  }
  if (cancelled) history.push(withReason({ at: now, type: 'run.cancelling' }, reason));
  const retrying = after.substate === 'retrying';
  if (
    retrying ||
    !before ||
    before.step !== after.step ||
    before.compensation !== after.compensation ||
    before.substate !== after.substate ||
    beforeAttempt !== context.attempt
  ) {
    // Whole literals rather than a template: no string made per entry.
    const type = after.compensation ? (retrying ? 'compensation.retrying' : 'compensation.started') : retrying ? 'step.retrying' : 'step.started';
    const entry: Mutable<HistoryEntry> = { at: now, type };
    const task = stepByKey(chain, after.step)?.task.name;
    if (after.step !== undefined) entry.step = after.step;
    if (task !== undefined) entry.task = task;
    entry.attempt = context.attempt;
    if (retrying) {
      entry.delayMs = context.retryDelayMs;
      entry.dueAt = now + context.retryDelayMs;
    }
    history.push(entry);
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
  /**
   * The worker that ran the attempt whose outcome the event is (`<hostname>:<pid>`): the
   * outcome's history entry names it. Without it the entry names none.
   */
  readonly worker?: string;
}

interface RecordBase {
  readonly id: string;
  readonly input: unknown;
  readonly createdAt: number;
  readonly version: number;
  readonly waiting: readonly WaitingFor[];
  readonly totalAttempts: number;
}

function buildRecord(chain: AnyChain, base: RecordBase, next: AnyMachineSnapshot, value: StateValue, phase: Phase, dispatched: { waiting: WaitingFor[]; started: number }, now: number): RunRecord {
  const context = next.context as ChainContext;
  const terminal = isTerminal(phase.status);
  const failure = context.failure;
  const record = {
    id: base.id,
    chain: chain.name,
    status: phase.status,
    version: base.version,
    step: phase.step,
    attempt: context.attempt,
    totalAttempts: base.totalAttempts + dispatched.started,
    // A transition that dispatches nothing new keeps waiting on what it waited on.
    waiting: terminal ? [] : dispatched.waiting.length > 0 ? dispatched.waiting : base.waiting,
    snapshot: { value, context, definition: definitionRecord(chain) } satisfies PersistedChainSnapshot,
    input: base.input,
  } as Mutable<RunRecord>;
  if (phase.status === 'completed') record.output = next.output;
  if (failure && phase.status !== 'completed') {
    record.error = failure.error;
    record.failedTask = failure.task;
  }
  if (phase.status === 'cancelled') record.error = cancelledError(base.id, chain.name, context.cancel?.reason ?? null);
  // Last, as they always were in a record's keys.
  record.createdAt = base.createdAt;
  record.updatedAt = now;
  return record;
}

/** The `definition` a chain's snapshots keep: one frozen object per chain, not one per transition. */
const definitions = new WeakMap<AnyChain, RunDefinition>();
function definitionRecord(chain: AnyChain): RunDefinition {
  let definition = definitions.get(chain);
  if (!definition) {
    definition = Object.freeze({ version: chain.version, fingerprint: chain.fingerprint });
    definitions.set(chain, definition);
  }
  return definition;
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
  const [next, actions] = startTransition(deciderMachine(chain), input);
  const value = storedValue(chain, next);
  const after = phaseOf(value);
  const dispatched = toOutbox(chain, runId, next, after, actions, now, keepMessages, headers);
  const base = { id: runId, input, createdAt: scheduled?.createdAt ?? now, version: scheduled ? scheduled.version + 1 : 1, waiting: [], totalAttempts: 0 };
  return {
    record: buildRecord(chain, base, next, value, after, dispatched, now),
    history: historyOf(chain, undefined, 0, next, after, undefined, undefined, now, undefined),
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
  return resolveOnDecider(chain, persisted.value, persisted.context);
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
  { keepMessages = true, headers, worker }: DecideOptions = {},
): Decision | undefined {
  // The outcome of an invocation the run no longer waits for (a cancel moved it on while the
  // attempt ran) changes nothing, even where the machine would record it.
  const outcome = outcomeOf(chain, event);
  if (outcome) {
    const attempt = ('attempt' in event ? event.attempt : undefined) ?? record.attempt;
    if (!awaits(record, { kind: outcome.info.compensation ? 'compensation' : 'step', step: outcome.info.step.key, attempt })) return undefined;
  }
  const snapshot = onDecider(chain, given);
  const [next, actions] = outcomeTransition(deciderMachine(chain), snapshot, event);
  // No transition: XState hands back the same snapshot, or (an `xstate.error.actor.*` event no
  // transition takes, e.g. a stale attempt's) a copy with status `error` and nothing else changed.
  if (next === snapshot || next.status === 'error' || (next.value === snapshot.value && next.context === snapshot.context)) {
    return undefined;
  }
  const before = phaseOf(storedValue(chain, snapshot));
  const value = storedValue(chain, next);
  const after = phaseOf(value);
  const dispatched = toOutbox(chain, record.id, next, after, actions, now, keepMessages, headers);
  const base: RecordBase = { id: record.id, input: record.input, createdAt: record.createdAt, version: record.version + 1, waiting: record.waiting, totalAttempts: record.totalAttempts };
  return {
    record: buildRecord(chain, base, next, value, after, dispatched, now),
    history: historyOf(chain, before, record.attempt, next, after, event, outcome, now, worker),
    outbox: dispatched.outbox,
    snapshot: next,
  };
}
