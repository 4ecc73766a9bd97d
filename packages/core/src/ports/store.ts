/**
 * The store port (v2): keeps runs durably, with their outbox and an ordered event log.
 *
 * Every write is compare-and-swap on the run's `version`, and commits the run, its events and
 * its outbox messages atomically (the transactional outbox). Many processes may share one store:
 * outbox entries are claimed with a lease, so two processes never publish one entry in parallel
 * and a dead claimer's entries are taken over when its lease runs out. Every store package runs
 * the `storeContract` suite from `@taskchart/core/contract` against its real backend.
 */
import type { SerializedError } from '../errors.js';
import type { PublishOptions } from './broker.js';

/**
 * A run's status. `scheduled` (recorded, waiting for its start time), `running`, `retrying` and
 * `compensating` are active; `completed`, `failed`, `compensated` and `cancelled` are terminal. `parked` is
 * neither: the loaded definition could not continue the run's stored state (a deploy renamed or
 * removed its step), so the runtime stopped advancing it, kept its snapshot untouched and
 * dead-letters its messages until it is re-driven.
 */
export type RunStatus = 'scheduled' | 'running' | 'retrying' | 'compensating' | 'completed' | 'failed' | 'compensated' | 'cancelled' | 'parked';
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'compensated', 'cancelled'];
export const ACTIVE_STATUSES: readonly RunStatus[] = ['scheduled', 'running', 'retrying', 'compensating'];
export const isTerminal = (status: RunStatus) => TERMINAL_STATUSES.includes(status);

/**
 * One invocation a run waits for, keyed by (kind, step, attempt): a dispatched step or
 * compensation attempt, or a pending retry timer. The decider owns this set; "is this message
 * still what the run waits for?" is `waiting.some(sameInvocation)`. A run may wait for several at
 * once (parallel steps later) without a format change.
 */
export interface WaitingFor {
  readonly kind: 'step' | 'compensation' | 'timer';
  readonly step: string;
  readonly attempt: number;
  /** For timers: when the timer is due (epoch ms). */
  readonly dueAt?: number;
  /**
   * A copy of the message, kept only when the broker does not survive a crash (memory): a
   * starting runtime re-dispatches from it.
   */
  readonly message?: { readonly queue: string; readonly body: string; readonly options: PublishOptions };
}

export interface RunRecord {
  readonly id: string;
  readonly chain: string;
  readonly status: RunStatus;
  /** Incremented by every write; the compare-and-swap token. Starts at 1. */
  readonly version: number;
  /** For display and listing only: the step running, retrying or being compensated. Decisions use `waiting`. */
  readonly step: string | undefined;
  /** For display only: the attempt of `step`. */
  readonly attempt: number;
  /** Attempts made in the whole run, across all steps and compensations. */
  readonly totalAttempts: number;
  readonly waiting: readonly WaitingFor[];
  /** The persisted XState snapshot (plain JSON). */
  readonly snapshot: unknown;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: SerializedError;
  readonly failedTask?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What happened to a run, as the decider derived it from one committed transition. */
export type RunEventType =
  | 'run.scheduled'
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
  | 'run.cancelling'
  | 'run.cancelled'
  | 'run.redriven'
  | 'run.migrated'
  | 'run.parked'
  | 'dead-letter.redriven';
/** One entry of a run's history, as the store keeps it. */
export interface HistoryEntry {
  readonly at: number;
  readonly type: RunEventType;
  readonly step?: string;
  readonly task?: string;
  readonly attempt?: number;
  /** For `*.retrying`: the backoff delay before the next attempt, and when it is due; for `run.scheduled`: when the run starts. */
  readonly delayMs?: number;
  readonly dueAt?: number;
  readonly error?: SerializedError;
  /** For `run.cancelling` / `run.cancelled`: the reason given to `cancel()`, if any; for `dead-letter.redriven`: why the message had been dead-lettered. */
  readonly reason?: string;
  /** For `run.cancelling`, `run.cancelled`, `run.redriven` and `dead-letter.redriven`: who or what asked (`CancelOptions.by`), if given. */
  readonly by?: string;
  /** For an attempt's outcome (`step.completed`, `step.failed`, `compensation.*`): the worker that ran it, `<hostname>:<pid>`. */
  readonly worker?: string;
  /** For `run.migrated`: the chain version the run was on, and the version it continues on. */
  readonly fromVersion?: number;
  readonly toVersion?: number;
}

/** A history entry in the store's ordered event log. */
export interface StoredEvent {
  /** Opaque, ordered: pass it as `after` to read what came next. */
  readonly cursor: string;
  readonly runId: string;
  readonly chain: string;
  readonly entry: HistoryEntry;
}

export interface EventQuery {
  /** Only events after this cursor. @defaultValue from the beginning */
  readonly after?: string;
  readonly runId?: string;
  readonly chain?: string;
  /** @defaultValue 100 (at most 1000) */
  readonly limit?: number;
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

/** Who writes or claims, and for how long a claim holds. */
export interface Claimant {
  /** A process-unique id (e.g. a random UUID per runtime). */
  readonly owner: string;
  /** Now, epoch ms (the runtime's clock). */
  readonly now: number;
  /** How long a claim holds before another process may take the entry over. */
  readonly leaseMs: number;
  /** Whether this process calls hooks (`queue: null` entries); only such processes claim them. */
  readonly hooks: boolean;
}

export interface RunWrite {
  /** The run as it is after the write; `record.version` must be `expectedVersion + 1` (or 1 on create). */
  readonly record: RunRecord;
  /** `null` creates the run (fails with `exists` if the id is taken). */
  readonly expectedVersion: number | null;
  readonly history: readonly HistoryEntry[];
  readonly outbox: readonly NewOutboxEntry[];
  /**
   * Outbox entries this write settles (the message of the step whose outcome it commits, run by
   * this process without going through the broker): deleted in the write's transaction when the
   * write applies, left alone when it does not (a conflict). @defaultValue none
   */
  readonly settles?: readonly number[];
}

export type WriteResult =
  | {
      readonly ok: true;
      /** The outbox entries written, already claimed by the committer (hook entries only if it has hooks). */
      readonly outbox: readonly OutboxEntry[];
      /** The cursors of the history entries written, in order. */
      readonly cursors: readonly string[];
    }
  | { readonly ok: false; readonly reason: 'conflict' | 'exists' };

export interface RunQuery {
  readonly status?: readonly RunStatus[];
  readonly chain?: string;
  /** Only runs created at or after / before these times (epoch ms). */
  readonly createdAfter?: number;
  readonly createdBefore?: number;
  /** @defaultValue 100 (at most 1000) */
  readonly limit?: number;
  /** From a previous page's `next`. */
  readonly cursor?: string;
}

export interface RunPage {
  /** Newest first. */
  readonly runs: readonly RunRecord[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly next?: string;
}

/**
 * What `Store.watch` tells its listeners: a run changed (a commit, by this or any other process,
 * added to its events). A hint, not data: read the log to see what changed. A hint without
 * `runId` means "anything may have changed" (sent after the store could not watch for a while).
 */
export interface StoreChange {
  readonly runId?: string;
  readonly chain?: string;
}

/**
 * A chain version's machine definition, recorded the first time a process holding the chain
 * starts (or starts a run), so tools can draw a run without the chain's code.
 */
export interface ChainDefinitionRecord {
  readonly chain: string;
  readonly version: number;
  /** The chain's structural fingerprint (`chain.fingerprint`). */
  readonly fingerprint: string;
  /** Plain JSON: the machine's config and its steps (see `ChainDefinition` in `@taskchart/core`). */
  readonly definition: unknown;
  /** When it was first recorded (epoch ms). */
  readonly recordedAt: number;
}

export interface DefinitionQuery {
  /** Only this chain's definitions. @defaultValue every chain */
  readonly chain?: string;
}

export interface Store {
  /**
   * Optional: calls `listener` soon after any process commits events to the log (e.g. Postgres
   * LISTEN/NOTIFY), so followers wake instead of polling fast. Best effort: hints may be late,
   * lost while the store cannot watch, or duplicated; followers keep a slow poll as the safety
   * net. Returns a function that stops the listener. `close()` stops every listener.
   */
  watch?(listener: (change: StoreChange) => void): () => void;
  /**
   * Applies each write atomically and independently (a conflict fails only its own write). A
   * store may commit a whole batch in one transaction; the result at index i answers write i.
   * Outbox entries written are claimed by `claimant` (hook entries only when `claimant.hooks`).
   */
  commit(writes: readonly RunWrite[], claimant: Claimant): Promise<WriteResult[]>;
  load(id: string): Promise<RunRecord | undefined>;
  history(id: string): Promise<HistoryEntry[]>;
  list(query?: RunQuery): Promise<RunPage>;
  /** The event log, oldest first, after `query.after`. */
  events(query?: EventQuery): Promise<StoredEvent[]>;
  /**
   * The cursor of the newest event a reader can be sure of: `events({ after })` with it gives
   * every event committed after this call (and perhaps a few committed just before it, still
   * settling). `undefined` for an empty log. Lets a follower start "from now" without reading
   * the whole log.
   */
  lastEventCursor(): Promise<string | undefined>;
  /**
   * Claims up to `limit` outbox entries that nobody holds (never claimed, or whose lease ran
   * out), oldest first, for `claimant` until `now + leaseMs`. Hook entries only when `claimant.hooks`.
   */
  claimOutbox(claimant: Claimant, limit: number): Promise<OutboxEntry[]>;
  /**
   * Keeps `owner`'s claim on entries until `until` (a publish failed: retry then). Entries
   * another claimant has taken over meanwhile are left alone.
   */
  deferOutbox(owner: string, ids: readonly number[], until: number): Promise<void>;
  /** Marks outbox entries as published (deletes them). */
  deleteOutbox(ids: readonly number[]): Promise<void>;
  /**
   * Records chain definitions. Keeps the first record of each (chain, version, fingerprint):
   * recording one again (every process start does) changes nothing.
   */
  recordDefinitions(records: readonly ChainDefinitionRecord[]): Promise<void>;
  /** The recorded definitions, by chain name, then version (newest first), then when recorded (newest first). */
  definitions(query?: DefinitionQuery): Promise<ChainDefinitionRecord[]>;
  close(): Promise<void>;
}
