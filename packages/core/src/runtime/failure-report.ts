import type { SerializedError } from '../errors.js';

/** What `onFailure` receives when a step (or a compensation) fails for good. */
export interface FailureReport {
  readonly runId: string;
  readonly chain: string;
  readonly task: string;
  readonly step: string;
  /** The failed step's input (for a compensation: the output it was undoing). */
  readonly input: unknown;
  readonly attempts: number;
  /** The last attempt's error, with its stack. */
  readonly error: SerializedError;
  /** True when a compensation gave up (the run then ends `failed`). */
  readonly compensation: boolean;
}
