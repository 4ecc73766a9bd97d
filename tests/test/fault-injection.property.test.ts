import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FaultPlan } from './sim/faults.js';
import { MAX_RETRIES, simulate, STEPS, type Outcome, type Scenario } from './sim/simulation.js';
import { REGRESSIONS } from './sim/regressions.js';

const planArb: fc.Arbitrary<FaultPlan> = fc.record({
  crash: fc.option(
    fc.record({
      point: fc.constantFrom('beforeCommit' as const, 'afterCommit' as const, 'beforePublish' as const, 'afterPublish' as const, 'beforeAck' as const),
      at: fc.integer({ min: 1, max: 12 }),
    }),
    { nil: undefined },
  ),
  failCommits: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 2 }),
  failPublishes: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 2 }),
  duplicates: fc.array(fc.integer({ min: 1, max: 15 }), { maxLength: 4 }),
  extraDelays: fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 4 }),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  failures: fc.array(fc.array(fc.integer({ min: 0, max: MAX_RETRIES + 1 }), { minLength: STEPS.length, maxLength: STEPS.length }), { minLength: 1, maxLength: 3 }),
  plans: fc.array(planArb, { minLength: 0, maxLength: 3 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

/** The invariants every run must satisfy, whatever faults hit it. */
function checkInvariants(scenario: Scenario, outcome: Outcome): void {
  for (const [i, run] of outcome.runs.entries()) {
    const failures = scenario.failures[i] ?? [];
    // The first step that fails more often than it may retry decides the run's fate.
    const failing = failures.findIndex((f) => f > MAX_RETRIES);
    const expectedStatus = failing === -1 ? 'completed' : failing === 0 ? 'failed' : 'compensated';
    expect(run.status, `${run.id} status`).toBe(expectedStatus);

    // Terminal exactly once.
    const terminals = run.history.filter((h) => h.type === 'run.completed' || h.type === 'run.failed' || h.type === 'run.compensated');
    expect(terminals, `${run.id} terminal entries`).toHaveLength(1);

    // Each step completed (and applied its side effect) exactly once, or not at all.
    const completedSteps = run.history.filter((h) => h.type === 'step.completed').map((h) => h.step);
    const expectedSteps = failing === -1 ? [...STEPS] : STEPS.slice(0, failing);
    expect(completedSteps, `${run.id} completed steps`).toEqual(expectedSteps);
    for (const step of STEPS) {
      expect(outcome.effects.has(`${run.id}:${step}`), `${run.id}:${step} effect`).toBe(expectedSteps.includes(step));
    }
    if (expectedStatus === 'completed') expect(run.output).toEqual({ run: i, trail: [...STEPS] });

    // Compensations ran for exactly the completed (compensable) steps, in reverse order.
    const undone = outcome.compensations.filter((c) => c.startsWith(`undo:${run.id}:`)).map((c) => c.slice(`undo:${run.id}:`.length));
    const compensable = expectedSteps.filter((s) => s !== 'ship');
    expect(undone, `${run.id} compensations`).toEqual(expectedStatus === 'compensated' ? [...compensable].reverse() : []);

    // onFailure heard of every failed run (at least once: a crash right after the call repeats it).
    const reports = outcome.reports.filter((r) => r.runId === run.id);
    if (expectedStatus === 'completed') expect(reports).toHaveLength(0);
    else {
      expect(reports.length, `${run.id} onFailure calls`).toBeGreaterThanOrEqual(1);
      expect(reports.every((r) => r.task === STEPS[failing] && r.attempts === MAX_RETRIES + 1)).toBe(true);
    }
  }
  // No step ran again after its completion was committed.
  expect(outcome.lateExecutions).toEqual([]);
}

describe('fault injection (fast-check)', () => {
  it('every run ends exactly once, side effects once by key, compensations exactly for completed steps in reverse order', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        checkInvariants(scenario, await simulate(scenario));
      }),
      { numRuns: Number(process.env['FAULT_RUNS'] ?? 150), interruptAfterTimeLimit: 200_000 },
    );
  });

  it.each(REGRESSIONS.map((r) => [r.name, r.scenario] as const))('regression: %s', { timeout: 30_000 }, async (_name, scenario) => {
    checkInvariants(scenario, await simulate(scenario));
  });
});
