import { expect } from 'vitest';
import { MAX_RETRIES, STEPS, type Outcome, type Scenario } from './simulation.js';

/** The invariants every run must satisfy, whatever faults hit it. */
export function checkInvariants(scenario: Scenario, outcome: Outcome): void {
  for (const [i, run] of outcome.runs.entries()) {
    const failures = scenario.failures[i] ?? [];
    // The first step that fails for good decides the run's fate: one that fails more often than
    // it may retry, or one whose message the broker refuses for good (it never runs at all).
    const flaking = failures.findIndex((f) => f > MAX_RETRIES);
    const refusedSteps = (scenario.refusals ?? []).filter((r) => r.run === i).map((r) => r.step);
    const refused = refusedSteps.length > 0 ? Math.min(...refusedSteps) : -1;
    const byRefusal = refused !== -1 && (flaking === -1 || refused <= flaking);
    const failing = byRefusal ? refused : flaking;
    const expectedStatus = failing === -1 ? 'completed' : failing === 0 ? 'failed' : 'compensated';
    expect(run.status, `${run.id} status`).toBe(expectedStatus);
    // A permanent refusal fails the run visibly, with the reason; it never leaves it running.
    if (byRefusal) {
      expect(run.error, `${run.id} error`).toMatchObject({ name: 'MessageRefusedError', retryable: false });
      expect(run.error?.message, `${run.id} error message`).toContain(`run "${run.id}": step "${STEPS[refused]}"`);
    }

    // The event log replays the run's history in order, no gap, no duplicate, whichever life wrote it.
    expect(run.events.map((e) => e.entry), `${run.id} events`).toEqual(run.history);
    expect(run.events.every((e) => e.runId === run.id && e.chain === 'sim-order'), `${run.id} event run ids`).toBe(true);
    expect(outcome.log.filter((e) => e.runId === run.id), `${run.id} in the whole log`).toEqual(run.events);
    expect(run.history[0]?.type, `${run.id} first event`).toBe('run.started');

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
      const attempts = byRefusal ? 1 : MAX_RETRIES + 1;
      const errorName = byRefusal ? 'MessageRefusedError' : 'Error';
      expect(reports.every((r) => r.task === STEPS[failing] && r.attempts === attempts && r.error.name === errorName), `${run.id} onFailure reports`).toBe(true);
    }
  }
  // Every cursor of the log is read once.
  expect(new Set(outcome.log.map((e) => e.cursor)).size, 'distinct cursors').toBe(outcome.log.length);
  // No step ran again after its completion was committed.
  expect(outcome.lateExecutions).toEqual([]);
}
