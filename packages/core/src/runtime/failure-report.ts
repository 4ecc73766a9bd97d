import type { SerializedError } from '../errors.js';

/**
 * What `onFailure` receives when a step (or a compensation) fails for good, or when a run is
 * parked (the loaded definition cannot continue it).
 */
export interface FailureReport {
  readonly runId: string;
  readonly chain: string;
  /** The task that failed; for a parked run, the task of the stored step (its key when the definition has none). */
  readonly task: string;
  /** The step that failed; for a parked run, the stored step (`(none)` when it had none). */
  readonly step: string;
  /** The queue of the failed task (its messages are consumed from it); absent when the loaded definition has no such step, or in reports written before it was recorded. */
  readonly queue?: string;
  /** The failed step's input (for a compensation: the output it was undoing; for a parked run: the run's input). */
  readonly input: unknown;
  readonly attempts: number;
  /** The last attempt's error, with its stack; for a parked run, the `RunParkedError`. */
  readonly error: SerializedError;
  /** True when a compensation gave up (the run then ends `failed`), or a compensating run was parked. */
  readonly compensation: boolean;
  /** True when the run was parked rather than failed: it keeps its state and can be re-driven. */
  readonly parked?: boolean;
}
