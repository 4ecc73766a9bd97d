import { expect } from 'vitest';
import { MAX_RETRIES, STEPS, type Outcome, type Scenario } from './simulation.js';

/** The invariants every run must satisfy, whatever faults hit it. */
export function checkInvariants(scenario: Scenario, outcome: Outcome): void {
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
