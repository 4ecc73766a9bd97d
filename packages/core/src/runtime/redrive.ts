/**
 * Re-driving a finished run (`client.retry`): the decision that starts it again, either at the
 * step that failed (attempts reset, the outputs of the steps before it kept) or from its first
 * step. Pure, like the rest of the decider: the run engine commits what this returns.
 */
import type { AnyStateMachine } from 'xstate';
import type { AnyChain } from '../chain.js';
import { RuntimeStateError } from '../errors.js';
import type { ChainContext } from '../machine/chain-context.js';
import { RETRY_DELAY } from '../machine/compile-machine.js';
import type { RunRecord, WaitingFor } from '../ports/store.js';
import { decideEvent, decideStart, stepByKey, type DecideOptions, type Decision, type PersistedChainSnapshot } from './decide.js';

/** Where a re-driven run starts again. */
export type RedriveFrom = 'failed-step' | 'start';

/** Runs in these statuses can be re-driven. */
const REDRIVABLE = ['failed', 'compensated', 'cancelled'] as const;

/**
 * The decision that starts `record` again from `from`. Throws `RuntimeStateError` naming the run
 * when it cannot: it is not finished, it completed, or (from the failed step) compensation has
 * undone the steps before it, or it was cancelled rather than failed.
 */
export function decideRedrive(chain: AnyChain, record: RunRecord, from: RedriveFrom, now: number, options: DecideOptions): Decision {
  const name = `run "${record.id}" (chain "${chain.name}")`;
  if (!(REDRIVABLE as readonly string[]).includes(record.status)) {
    const why = record.status === 'completed' ? 'it completed' : `it is ${record.status}: only a failed, compensated or cancelled run can be re-driven`;
    throw new RuntimeStateError(`cannot re-drive ${name}: ${why}`);
  }
  const marker = (step: string | undefined) => ({ at: now, type: 'run.redriven' as const, ...(step === undefined ? {} : { step, task: stepByKey(chain, step)?.task.name ?? step }) });
  if (from === 'start') {
    const decision = decideStart(chain, record.id, record.input, now, options, record);
    const record2 = { ...decision.record, totalAttempts: record.totalAttempts + decision.record.totalAttempts };
    return { ...decision, record: record2, history: [marker(chain.steps[0]?.key), ...decision.history.filter((h) => h.type !== 'run.started')] };
  }
  const context = (record.snapshot as PersistedChainSnapshot).context;
  const failure = context.failure;
  if (!failure || record.status === 'cancelled') throw new RuntimeStateError(`cannot re-drive ${name} from its failed step: it was cancelled, not failed; re-drive it with { from: 'start' }`);
  const step = stepByKey(chain, failure.step);
  if (!step) throw new RuntimeStateError(`cannot re-drive ${name} from its failed step: the chain has no step "${failure.step}" any more; re-drive it with { from: 'start' }`);
  const undone = chain.steps.slice(0, step.index).filter((s) => s.task.compensate && (record.status === 'compensated' || context.compensationFailure));
  if (undone.length > 0) {
    throw new RuntimeStateError(
      `cannot re-drive ${name} from step "${step.key}": compensation has undone (or began undoing) the steps before it (${undone.map((s) => s.key).join(', ')}), ` +
        "whose outputs the step would build on; re-drive it with { from: 'start' }",
    );
  }
  // Back in the failed step's `retrying` substate with attempts reset, then its retry timer fires:
  // the machine dispatches attempt 1 of the step as it does after any backoff.
  const outputs = Object.fromEntries(chain.steps.slice(0, step.index).map((s) => [s.key, context.outputs[s.key]]));
  const fresh: ChainContext = { input: context.input, outputs, attempt: 1, retryDelayMs: 0, failure: null, compensationFailure: null };
  const snapshot = (chain.machine as AnyStateMachine).resolveState({ value: { [step.key]: 'retrying' }, context: fresh });
  const waiting: WaitingFor[] = [{ kind: 'timer', step: step.key, attempt: 1 }];
  const retrying: RunRecord = { ...record, status: 'retrying', step: step.key, attempt: 1, waiting, snapshot: { value: snapshot.value, context: fresh } satisfies PersistedChainSnapshot };
  const decision = decideEvent(chain, retrying, snapshot, { type: `xstate.after.${RETRY_DELAY}.${chain.name}.${step.key}.retrying`, attempt: 1 }, now, options);
  if (!decision) throw new RuntimeStateError(`cannot re-drive ${name} from step "${step.key}": the machine did not start the step`);
  return { ...decision, history: [marker(step.key), ...decision.history] };
}
