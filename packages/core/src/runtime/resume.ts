/**
 * Continuing a run on another definition than the one that last wrote it: a run of an older
 * version migrated to a newer one at load (`run.migrated`), or a parked run re-driven once a
 * definition that can continue it is loaded (`run.redriven`). Both re-dispatch the invocation the
 * run stands at (the step, or compensation, and its attempt) on the new definition; the messages
 * of the old definition still in flight become stale. Pure, like the rest of the decider.
 */
import type { AnyStateMachine, StateValue } from 'xstate';
import type { AnyChain } from '../chain.js';
import type { ChainMigration, ChainSnapshot } from '../chain-options.js';
import { TaskchartError } from '../errors.js';
import type { ChainContext } from '../machine/chain-context.js';
import { RETRY_DELAY } from '../machine/compile-machine.js';
import type { HistoryEntry, RunRecord } from '../ports/store.js';
import { definitionOf } from './chain-versions.js';
import { decideEvent, phaseOf, stepByKey, type DecideOptions, type Decision, type PersistedChainSnapshot } from './decide.js';

/** Thrown when a run cannot be continued on a definition; the run engine parks the run with its message. */
export class ResumeError extends TaskchartError {
  override readonly name = 'ResumeError';
}

/** Runs the `migrate` functions over the run's stored snapshot, oldest version first. */
export function migrateSnapshot(record: RunRecord, steps: readonly { readonly from: number; readonly fn: ChainMigration }[]): ChainSnapshot {
  const persisted = record.snapshot as PersistedChainSnapshot;
  let snapshot: ChainSnapshot = structuredClone({ value: persisted.value, context: persisted.context });
  for (const { from, fn } of steps) {
    let next: unknown;
    try {
      next = fn(snapshot);
    } catch (error) {
      throw new ResumeError(`migrate[${from}] threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    const shaped = next as Partial<ChainSnapshot> | null;
    if (typeof shaped !== 'object' || shaped === null || shaped.value === undefined || typeof shaped.context !== 'object' || shaped.context === null) {
      throw new ResumeError(`migrate[${from}] must return a snapshot { value, context }, got ${JSON.stringify(next) ?? String(next)}`);
    }
    snapshot = shaped as ChainSnapshot;
  }
  return snapshot;
}

/**
 * The decision that continues `record` on `chain` from `snapshot` (in `chain`'s shape): the
 * invocation the snapshot stands at is dispatched again (its attempt kept; a run waiting out a
 * backoff starts its next attempt at once). `marker` is the history entry put first. Throws
 * `ResumeError` when `chain` cannot hold the snapshot or it stands at no step.
 */
export function decideResume(chain: AnyChain, record: RunRecord, snapshot: ChainSnapshot, marker: HistoryEntry, now: number, options: DecideOptions): Decision {
  let restored;
  try {
    restored = (chain.machine as AnyStateMachine).resolveState({ value: snapshot.value as never, context: snapshot.context });
  } catch (error) {
    throw new ResumeError(`version ${chain.version} cannot hold the state ${JSON.stringify(snapshot.value)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const phase = phaseOf(restored.value as StateValue);
  const step = stepByKey(chain, phase.step);
  if (!step || phase.substate === undefined) {
    throw new ResumeError(`the state ${JSON.stringify(snapshot.value)} stands at no step of version ${chain.version} (steps: ${chain.steps.map((s) => s.key).join(', ')})`);
  }
  if (phase.compensation && !step.task.compensate) throw new ResumeError(`step "${step.key}" of version ${chain.version} has no compensation to continue`);
  // Into the invocation's `retrying` substate, then its retry timer fires: the machine dispatches
  // the attempt as it does after any backoff (as a re-drive does).
  const path = phase.compensation ? `compensating.${step.key}` : step.key;
  const value = phase.compensation ? { compensating: { [step.key]: 'retrying' } } : { [step.key]: 'retrying' };
  const context: ChainContext = { ...snapshot.context, retryDelayMs: 0 };
  const retrying = (chain.machine as AnyStateMachine).resolveState({ value, context });
  const base: RunRecord = { ...record, status: phase.compensation ? 'compensating' : 'retrying', step: step.key, attempt: context.attempt, snapshot: { value, context, definition: definitionOf(record) } satisfies PersistedChainSnapshot };
  const decision = decideEvent(chain, base, retrying, { type: `xstate.after.${RETRY_DELAY}.${chain.name}.${path}.retrying`, attempt: context.attempt }, now, options);
  if (!decision) throw new ResumeError(`version ${chain.version} did not dispatch step "${step.key}" again`);
  return { ...decision, history: [{ ...marker, step: step.key, task: step.task.name }, ...decision.history] };
}
