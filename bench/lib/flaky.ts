/**
 * The flaky workload (issue 13): chains of S steps where step 2 fails twice, then succeeds, for
 * 30 % of the chains, retried with the task's own retry policy after a fixed 10 ms backoff. Which
 * chains fail is chosen by run input (`i % 10 < 3`), not at random, so runs of the benchmark
 * compare: 500 chains x 4 steps make 2,000 steps and 2,300 attempts.
 */
import { chain, task, type Task } from './taskchart.js';
import type { AttemptCounter, Payload, WorkloadSpec } from './workload.js';

/** The step (1-based) that fails. */
export const FLAKY_STEP = 2;
/** How many attempts of the flaky step fail before one succeeds. */
export const FLAKY_FAILURES = 2;
/** The backoff before each retry. */
export const FLAKY_BACKOFF_MS = 10;

/** Whether run `i` is one of the 30 % whose flaky step fails. */
export const isFlaky = (i: number): boolean => i % 10 < 3;

export class FlakyStepError extends Error {
  override readonly name = 'FlakyStepError';
}

export function flakySpec(steps: number): WorkloadSpec {
  if (steps < FLAKY_STEP) throw new Error(`the flaky workload needs at least ${FLAKY_STEP} steps, got --steps ${steps}`);
  const attempts: AttemptCounter = { n: 0 };
  const tasks: Array<Task<Payload, Payload>> = Array.from({ length: steps }, (_, k) =>
    k + 1 === FLAKY_STEP
      ? task(
          `flaky${k + 1}`,
          (x: Payload, ctx) => {
            attempts.n++;
            if (isFlaky(x.i) && ctx.attempt <= FLAKY_FAILURES) throw new FlakyStepError(`run ${x.i}: attempt ${ctx.attempt} fails on purpose`);
            return x;
          },
          // Exactly enough retries: a third failure would fail the run, and the report shows failed runs.
          { retry: { maxRetries: FLAKY_FAILURES, backoff: { initial: FLAKY_BACKOFF_MS, factor: 1, jitter: 'none' } } },
        )
      : task(`noop${k + 1}`, (x: Payload) => {
          attempts.n++;
          return x;
        }),
  );
  const [first, ...rest] = tasks;
  if (!first) throw new Error('a benchmark chain needs at least one step');
  return { name: 'flaky', chain: chain(`flaky${steps}`, first, ...rest), steps, attempts };
}

/** How the report describes the workload of `chains` runs. */
export function flakyLabel(chains: number): string {
  let flaky = 0;
  for (let i = 0; i < chains; i++) if (isFlaky(i)) flaky++;
  return `step ${FLAKY_STEP} fails ${FLAKY_FAILURES} times, then succeeds, in ${flaky} of ${chains} runs (i % 10 < 3); retried after ${FLAKY_BACKOFF_MS} ms`;
}
