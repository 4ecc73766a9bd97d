/**
 * The store port: keeps run snapshots durably, with their outbox.
 *
 * Every write is compare-and-swap on the run's `version`, and commits the run, its history
 * entries and its outbox messages atomically (the transactional outbox). SQLite (WAL) is the
 * embedded default; see `sqliteStore`.
 */
import type { SerializedError } from '../errors.js';
import type { PublishOptions } from './broker.js';

/**
 * A run's status. `running`, `retrying` and `compensating` are active; `completed`, `failed` and
 * `compensated` are terminal. `parked` is neither: the loaded definition could not continue the
 * run's stored state (a deploy renamed or removed its step), so the runtime stopped advancing it,
 * kept its snapshot untouched and dead-letters its messages until it is re-driven.
 */
export type RunStatus = 'running' | 'retrying' | 'completed' | 'failed' | 'compensating' | 'compensated' | 'parked';
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'compensated'];
export const isTerminal = (status: RunStatus) => TERMINAL_STATUSES.includes(status);

/** A message the run is waiting on (a dispatched step, a pending timer). Kept so a runtime on a
 * non-durable broker can re-dispatch it after a crash. */
export interface PendingMessage {
  readonly queue: string;
  readonly body: string;
  readonly options: PublishOptions;
  /** For timers: when the timer is due (epoch ms). */
  readonly dueAt?: number;
}

export interface RunRecord {
  readonly id: string;
  readonly chain: string;
  readonly status: RunStatus;
  /** Incremented by every write; the compare-and-swap token. Starts at 1. */
  readonly version: number;
  /** The current step (or the step being compensated); undefined once terminal. */
  readonly step: string | undefined;
  /** Attempt number of the current step. */
  readonly attempt: number;
  /** The persisted XState snapshot (plain JSON). */
  readonly snapshot: unknown;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: SerializedError;
  /** The failed step's task name, when the run took its failure path. */
  readonly failedTask?: string;
  readonly pending: readonly PendingMessage[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type HistoryType =
  | 'run.started'
  | 'step.started'
  | 'step.completed'
  | 'step.failed'
  | 'step.retrying'
  | 'compensation.started'
  | 'compensation.completed'
  | 'compensation.failed'
  | 'compensation.retrying'
  | 'run.completed'
  | 'run.failed'
  | 'run.compensated'
  | 'run.parked';

export interface HistoryEntry {
  readonly at: number;
  readonly type: HistoryType;
  readonly step?: string;
  readonly attempt?: number;
  /** For `*.retrying`: the backoff delay before the next attempt. */
  readonly delayMs?: number;
  readonly error?: SerializedError;
}

/** A message to publish once the write commits. `queue: null` marks a hook call (onFailure). */
export interface NewOutboxEntry {
  readonly queue: string | null;
  readonly body: string;
  readonly options?: PublishOptions;
}

export interface OutboxEntry extends NewOutboxEntry {
  readonly id: number;
  readonly runId: string;
}

export interface RunWrite {
  /** The run as it is after the write; `record.version` must be `expectedVersion + 1` (or 1 on create). */
  readonly record: RunRecord;
  /** `null` creates the run (fails with `exists` if the id is taken). */
  readonly expectedVersion: number | null;
  readonly history: readonly HistoryEntry[];
  readonly outbox: readonly NewOutboxEntry[];
}

export type WriteResult = { readonly ok: true; readonly outbox: readonly OutboxEntry[] } | { readonly ok: false; readonly reason: 'conflict' | 'exists' };

export interface RunQuery {
  readonly status?: readonly RunStatus[];
  readonly chain?: string;
  /** @defaultValue 100 */
  readonly limit?: number;
}

export interface Store {
  /**
   * Applies each write atomically and independently (a conflict fails only its own write). A
   * store may commit a whole batch in one transaction; the result at index i answers write i.
   */
  commit(writes: readonly RunWrite[]): Promise<WriteResult[]>;
  load(id: string): Promise<RunRecord | undefined>;
  history(id: string): Promise<HistoryEntry[]>;
  /** Newest first. */
  list(query?: RunQuery): Promise<RunRecord[]>;
  /** Outbox entries not yet published, oldest first. */
  outbox(limit: number): Promise<OutboxEntry[]>;
  /** Marks outbox entries as published. */
  deleteOutbox(ids: readonly number[]): Promise<void>;
  close(): Promise<void>;
}
