import { expect } from 'vitest';
import type { HistoryEntry } from '@taskchart/core/adapter';
import { MAX_RETRIES, STEPS, type Outcome, type Scenario } from './simulation.js';

const isTerminalEntry = (h: HistoryEntry) => h.type === 'run.completed' || h.type === 'run.failed' || h.type === 'run.compensated' || h.type === 'run.cancelled';
const COMPENSABLE: readonly string[] = STEPS.filter((s) => s !== 'ship');

/**
 * A run its cancel reached (its history has run.cancelling or run.cancelled at `cancelAt`): it
 * ended cancelled once; no step started after the cancel committed, and no later step ran at
 * all; every step completed before the cancel had its effect once; compensations ran exactly
 * for those steps, in reverse order, when the cancel asked for them (or a first part of them,
 * when a cancel with `compensate: false` stopped them); only a run that had failed was reported.
 */
function checkCancelled(scenario: Scenario, run: Outcome['runs'][number], cancelAt: number, outcome: Outcome): void {
  const before = run.history.slice(0, cancelAt);
  const after = run.history.slice(cancelAt);
  expect(run.status, `${run.id} status`).toBe('cancelled');
  expect(run.history.filter(isTerminalEntry).map((h) => h.type), `${run.id} terminal entries`).toEqual(['run.cancelled']);
  expect(run.history[0]?.type, `${run.id} first event`).toBe('run.started');
  expect(run.events.map((e) => e.entry), `${run.id} events`).toEqual(run.history);
  // Nothing of a step happens after the cancel committed: only compensations, then the end.
  expect(after.filter((h) => h.type.startsWith('step.')), `${run.id} step events after the cancel`).toEqual([]);
  const completed = before.filter((h) => h.type === 'step.completed').map((h) => h.step ?? '');
  expect(completed, `${run.id} completed steps`).toEqual(STEPS.slice(0, completed.length));
  const startedSteps = before.filter((h) => h.type === 'step.started').map((h) => STEPS.indexOf(h.step as (typeof STEPS)[number]));
  const furthest = Math.max(-1, ...startedSteps);
  const ran = outcome.executions.filter((e) => e.runId === run.id).map((e) => STEPS.indexOf(e.step as (typeof STEPS)[number]));
  expect(ran.every((index) => index <= furthest), `${run.id}: no step after the cancel ran (${JSON.stringify(ran)} vs ${furthest})`).toBe(true);
  // Effects: every completed step once; the step running at the cancel may have had its effect
  // (its outcome lost the race to the cancel, so it is neither completed nor compensated).
  for (const [index, step] of STEPS.entries()) {
    const has = outcome.effects.has(`${run.id}:${step}`);
    if (completed.includes(step)) expect(has, `${run.id}:${step} effect`).toBe(true);
    else if (index !== furthest) expect(has, `${run.id}:${step} effect`).toBe(false);
  }
  const undone = outcome.compensations.filter((c) => c.startsWith(`undo:${run.id}:`)).map((c) => c.slice(`undo:${run.id}:`.length));
  const all = completed.filter((s) => COMPENSABLE.includes(s)).reverse();
  const failedFirst = before.some((h) => h.type === 'compensation.started');
  // A later cancel with compensate: false may stop the compensations a first cancel began.
  const mayStop = (scenario.cancels ?? []).some((c) => `run-${c.run}` === run.id && !c.compensate);
  if (run.history[cancelAt]?.type === 'run.cancelling' && !mayStop) expect(undone, `${run.id} compensations`).toEqual(all);
  else if (failedFirst || run.history[cancelAt]?.type === 'run.cancelling') expect(all.slice(0, undone.length), `${run.id} compensations (stopped)`).toEqual(undone);
  else expect(undone, `${run.id} compensations`).toEqual([]);
  const reports = outcome.reports.filter((r) => r.runId === run.id);
  if (failedFirst) expect(reports.length, `${run.id} onFailure calls`).toBeGreaterThanOrEqual(1);
  else expect(reports, `${run.id} onFailure calls`).toEqual([]);
}

/** The invariants every run must satisfy, whatever faults hit it. */
export function checkInvariants(scenario: Scenario, outcome: Outcome): void {
  for (const [i, run] of outcome.runs.entries()) {
    // Runs a cancel reached: what must hold depends on where the cancel found them.
    const cancelAt = run.history.findIndex((h) => h.type === 'run.cancelling' || h.type === 'run.cancelled');
    if ((outcome.cancelAnswers.get(run.id) ?? []).some((a) => a.cancelled)) expect(cancelAt, `${run.id} cancel in history`).not.toBe(-1);
    if (cancelAt !== -1) {
      checkCancelled(scenario, run, cancelAt, outcome);
      continue;
    }
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
    const terminals = run.history.filter(isTerminalEntry);
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
