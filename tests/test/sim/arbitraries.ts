/** fast-check arbitraries of the fault-injection property: scenarios and their fault plans. */
import fc from 'fast-check';
import type { FaultPlan } from './faults.js';
import { MAX_RETRIES, STEPS, type CancelPlan, type Refusal, type Scenario } from './simulation.js';

export const planArb: fc.Arbitrary<FaultPlan> = fc.record({
  crash: fc.option(
    fc.record({
      point: fc.constantFrom('beforeCommit' as const, 'afterCommit' as const, 'beforePublish' as const, 'afterPublish' as const, 'beforeAck' as const),
      at: fc.integer({ min: 1, max: 12 }),
    }),
    { nil: undefined },
  ),
  failCommits: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 2 }),
  failPublishes: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 2 }),
  throttle: fc.option(fc.record({ from: fc.integer({ min: 1, max: 12 }), count: fc.integer({ min: 1, max: 6 }) }), { nil: undefined }),
  duplicates: fc.array(fc.integer({ min: 1, max: 15 }), { maxLength: 4 }),
  extraDelays: fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 4 }),
  // Both paths of a step: run here at once (its outbox entry the safety net), or through the broker.
  eager: fc.boolean(),
});

/** Permanent broker refusals: the step messages of some runs are refused for good, in every life. */
export const refusalsArb: fc.Arbitrary<Refusal[]> = fc.array(fc.record({ run: fc.integer({ min: 0, max: 2 }), step: fc.integer({ min: 0, max: STEPS.length - 1 }) }), { maxLength: 2 });

/** Cancels at random moments: of runs that may not exist, twice at once, with and without compensation. */
export const cancelsArb: fc.Arbitrary<CancelPlan[]> = fc.array(
  fc.record({ run: fc.integer({ min: 0, max: 2 }), at: fc.integer({ min: 1, max: 12 }), compensate: fc.boolean(), twice: fc.boolean() }),
  { maxLength: 2 },
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  failures: fc.array(fc.array(fc.integer({ min: 0, max: MAX_RETRIES + 1 }), { minLength: STEPS.length, maxLength: STEPS.length }), { minLength: 1, maxLength: 3 }),
  plans: fc.array(planArb, { minLength: 0, maxLength: 3 }),
  refusals: refusalsArb,
  cancels: cancelsArb,
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});
