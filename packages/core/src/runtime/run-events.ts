/**
 * Run events: one typed event per thing that happened to a run, derived from the history
 * entries the decider wrote for one committed transition (in process) or read back from the
 * store's event log (across processes). Never from a second source.
 */
import type { SerializedError } from '../errors.js';
import type { HistoryEntry, RunEventType, StoredEvent } from '../ports/store.js';

interface EventBase<T extends RunEventType> {
  readonly type: T;
  readonly runId: string;
  readonly chain: string;
  /** When the transition was committed (epoch ms, the runtime's clock). */
  readonly at: number;
  /** The event's position in the store's event log: pass it as `after` to resume after it. */
  readonly cursor: string;
}

interface StepFields {
  readonly step: string;
  readonly task: string;
  readonly attempt: number;
}

/** A run recorded with a delayed start: it starts at `dueAt` (epoch ms). */
export type RunScheduledEvent = EventBase<'run.scheduled'> & { readonly dueAt: number };
export type RunStartedEvent = EventBase<'run.started'>;
export type StepStartedEvent = EventBase<'step.started'> & StepFields;
export type StepCompletedEvent = EventBase<'step.completed'> & StepFields;
export type StepFailedEvent = EventBase<'step.failed'> & StepFields & { readonly error: SerializedError };
export type StepRetryingEvent = EventBase<'step.retrying'> & StepFields & { readonly delayMs: number; readonly dueAt: number };
export type CompensationStartedEvent = EventBase<'compensation.started'> & StepFields;
export type CompensationCompletedEvent = EventBase<'compensation.completed'> & StepFields;
export type CompensationFailedEvent = EventBase<'compensation.failed'> & StepFields & { readonly error: SerializedError };
export type CompensationRetryingEvent = EventBase<'compensation.retrying'> & StepFields & { readonly delayMs: number; readonly dueAt: number };
/** `output` is present when the event comes from this process's commit (not read back from the log). */
export type RunCompletedEvent = EventBase<'run.completed'> & { readonly output?: unknown };
export type RunFailedEvent = EventBase<'run.failed'>;
export type RunCompensatedEvent = EventBase<'run.compensated'>;
/** A cancel was committed and the completed steps are being compensated; `run.cancelled` follows. */
/** Who or what asked for an action (`CancelOptions.by`, `RetryRunOptions.by`), when given. */
type ActedBy = { readonly by?: string };
export type RunCancellingEvent = EventBase<'run.cancelling'> & { readonly reason?: string } & ActedBy;
export type RunCancelledEvent = EventBase<'run.cancelled'> & { readonly reason?: string } & ActedBy;
/** A finished run was started again (`client.retry`) at `step`; its earlier history stays before this event. */
export type RunRedrivenEvent = EventBase<'run.redriven'> & { readonly step?: string } & ActedBy;
/** A run of an older chain version was migrated (its `migrate` functions) and continues on `toVersion`. */
export type RunMigratedEvent = EventBase<'run.migrated'> & { readonly step?: string; readonly fromVersion: number; readonly toVersion: number };
/** A dead-lettered message of the run (of `step`, for a task message) was sent back to its queue (`redriveDeadLetters`); `reason` is why it had been dead-lettered. */
export type DeadLetterRedrivenEvent = EventBase<'dead-letter.redriven'> & { readonly step?: string; readonly reason: string } & ActedBy;
export type RunParkedEvent = EventBase<'run.parked'> & { readonly step?: string; readonly error: SerializedError };

export type RunEvent =
  | RunScheduledEvent
  | RunStartedEvent
  | StepStartedEvent
  | StepCompletedEvent
  | StepFailedEvent
  | StepRetryingEvent
  | CompensationStartedEvent
  | CompensationCompletedEvent
  | CompensationFailedEvent
  | CompensationRetryingEvent
  | RunCompletedEvent
  | RunFailedEvent
  | RunCompensatedEvent
  | RunCancellingEvent
  | RunCancelledEvent
  | RunRedrivenEvent
  | RunMigratedEvent
  | RunParkedEvent
  | DeadLetterRedrivenEvent;

/** The event of `type`. */
export type RunEventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;

const UNKNOWN_ERROR: SerializedError = { name: 'Error', message: '(no error recorded)', retryable: false };

/** The typed event of one history entry. */
export function toRunEvent(stored: StoredEvent, output?: { value: unknown }): RunEvent {
  const { entry } = stored;
  const base = { runId: stored.runId, chain: stored.chain, at: entry.at, cursor: stored.cursor };
  const by = entry.by === undefined ? {} : { by: entry.by };
  const step = () => ({ step: entry.step ?? '', task: entry.task ?? entry.step ?? '', attempt: entry.attempt ?? 0 });
  switch (entry.type) {
    case 'run.scheduled':
      return { type: entry.type, ...base, dueAt: entry.dueAt ?? entry.at };
    case 'run.started':
    case 'run.failed':
    case 'run.compensated':
      return { type: entry.type, ...base };
    case 'run.completed':
      return { type: entry.type, ...base, ...(output ? { output: output.value } : {}) };
    case 'run.redriven':
      return { type: entry.type, ...base, ...(entry.step === undefined ? {} : { step: entry.step }), ...by };
    case 'run.migrated':
      return { type: entry.type, ...base, ...(entry.step === undefined ? {} : { step: entry.step }), fromVersion: entry.fromVersion ?? 0, toVersion: entry.toVersion ?? 0 };
    case 'run.cancelling':
    case 'run.cancelled':
      return { type: entry.type, ...base, ...(entry.reason === undefined ? {} : { reason: entry.reason }), ...by };
    case 'dead-letter.redriven':
      return { type: entry.type, ...base, ...(entry.step === undefined ? {} : { step: entry.step }), reason: entry.reason ?? '', ...by };
    case 'run.parked':
      return { type: entry.type, ...base, ...(entry.step === undefined ? {} : { step: entry.step }), error: entry.error ?? UNKNOWN_ERROR };
    case 'step.started':
    case 'step.completed':
    case 'compensation.started':
    case 'compensation.completed':
      return { type: entry.type, ...base, ...step() };
    case 'step.failed':
    case 'compensation.failed':
      return { type: entry.type, ...base, ...step(), error: entry.error ?? UNKNOWN_ERROR };
    case 'step.retrying':
    case 'compensation.retrying':
      return { type: entry.type, ...base, ...step(), delayMs: entry.delayMs ?? 0, dueAt: entry.dueAt ?? entry.at + (entry.delayMs ?? 0) };
  }
}

/** The events of one committed write: its history entries with the cursors the store gave them. */
export function eventsOf(runId: string, chain: string, history: readonly HistoryEntry[], cursors: readonly string[], output?: { value: unknown }): RunEvent[] {
  return history.map((entry, i) => toRunEvent({ cursor: cursors[i] ?? '', runId, chain, entry }, entry.type === 'run.completed' ? output : undefined));
}
