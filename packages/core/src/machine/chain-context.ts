import type { SerializedError } from '../errors.js';

/** Why a run took its failure path: the step (or compensation) that failed for good. */
export interface FailureInfo {
  readonly step: string;
  readonly task: string;
  readonly input: unknown;
  readonly attempts: number;
  readonly error: SerializedError;
  /** True when a compensation, not a step, gave up. */
  readonly compensation: boolean;
}

/** The context of every compiled chain machine. Plain JSON: it is persisted as is. */
export interface ChainContext {
  readonly input: unknown;
  /** Outputs of the completed steps, by step name. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** The attempt number of the step or compensation now running or waiting to retry (1-based). */
  readonly attempt: number;
  /** The delay of the pending retry, in ms. */
  readonly retryDelayMs: number;
  /** The step failure that started the failure path. */
  readonly failure: FailureInfo | null;
  /** The compensation that gave up, if one did. */
  readonly compensationFailure: FailureInfo | null;
  /** Set when the run was cancelled (absent in snapshots written before cancellation existed). */
  readonly cancel?: CancelInfo | null;
}

/** A cancellation, as the run keeps it. */
export interface CancelInfo {
  readonly reason: string | null;
  /** Whether the completed steps are compensated. */
  readonly compensate: boolean;
}

/** The event that cancels a run. */
export const CANCEL_EVENT = 'taskchart.cancel';

/** What each invoked step or compensation receives as XState `input`. */
export interface StepInvocation {
  readonly input: unknown;
  readonly attempt: number;
  /** Present for compensations: the output of the step being undone. */
  readonly output?: unknown;
  readonly compensation: boolean;
}

/** The events the runtime feeds a chain machine (XState's own event shapes, plus guards' data). */
export type ChainEvent =
  | { type: `xstate.done.actor.${string}`; output: unknown; attempt?: number }
  | { type: `xstate.error.actor.${string}`; error: SerializedError; attempt?: number; random?: number }
  | { type: `xstate.after.${string}`; attempt?: number }
  | { type: typeof CANCEL_EVENT; reason: string | null; compensate: boolean };
