import type { SerializedError } from '../errors.js';
import type { HistoryEntry, RunStatus } from '../ports/store.js';

/** What `runtime.getRun(id)` answers. */
export interface RunInfo {
  readonly id: string;
  readonly chain: string;
  readonly status: RunStatus;
  /** The step running, retrying or being compensated; undefined once the run is terminal. */
  readonly step: string | undefined;
  /** Attempts made of the current step (or compensation). */
  readonly attempts: number;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: SerializedError;
  /** The task that failed for good, when the run took its failure path. */
  readonly failedTask?: string;
  readonly history: readonly HistoryEntry[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A started run. */
export interface RunHandle<O> {
  readonly id: string;
  readonly chain: string;
  /** Resolves with the last step's output; rejects with `RunFailedError` when the run ends failed or compensated. */
  result(): Promise<O>;
}
