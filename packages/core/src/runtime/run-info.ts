import type { SerializedError } from '../errors.js';
import type { Duration } from '../duration.js';
import type { HistoryEntry, RunStatus } from '../ports/store.js';

/** An XState state value: a state name, or nested `{ parent: child }` objects. */
export type StateValue = string | { readonly [state: string]: StateValue };

/** What `getRun(id)` answers. */
export interface RunInfo {
  readonly id: string;
  readonly chain: string;
  readonly status: RunStatus;
  /** The step running, retrying or being compensated; undefined once the run is terminal. */
  readonly step: string | undefined;
  /** Attempts made of the current step (or compensation). */
  readonly attempts: number;
  /** Attempts made in the whole run, across every step and compensation. */
  readonly totalAttempts: number;
  /**
   * The version of its chain the run is on (see docs/deploying.md); absent for a scheduled run,
   * which starts on the newest version held when its start time comes.
   */
  readonly chainVersion?: number;
  /**
   * Where the run's machine stands: its XState state value (`'completed'`, `{ quote: 'retrying' }`,
   * `{ compensating: { charge: 'running' } }`); absent for a scheduled run, which has no state yet.
   */
  readonly state?: StateValue;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: SerializedError;
  /** The task that failed for good, when the run took its failure path. */
  readonly failedTask?: string;
  /** The step that failed for good, and the attempts it made, when the run took its failure path. */
  readonly failedStep?: string;
  readonly failedAttempts?: number;
  readonly history: readonly HistoryEntry[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A started run. */
export interface RunHandle<O> {
  readonly id: string;
  readonly chain: string;
  /**
   * Resolves with the last step's output; rejects with `RunFailedError` when the run ends failed
   * or compensated, and with `RuntimeStateError` when nothing can finish it (see `result()`).
   */
  result(options?: ResultOptions): Promise<O>;
}

export interface ResultOptions {
  /**
   * Give up waiting after this long (a duration; a bare number is milliseconds): rejects with a
   * `RuntimeStateError` naming the run and its status. The run itself goes on.
   * @defaultValue no limit
   */
  readonly timeout?: Duration;
}

/** A page of `listRuns`. */
export interface RunInfoPage {
  /** Newest first, without their history. */
  readonly runs: ReadonlyArray<Omit<RunInfo, 'history'>>;
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly next?: string;
}
