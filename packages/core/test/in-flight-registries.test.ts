/**
 * The two per-run registries of the worker's hot path, kept as short lists per run (no key
 * string, Set or promise per step): the attempts a cancel aborts, and the steps being handled
 * (a copy of a message waits for the first).
 */
import { describe, expect, it } from 'vitest';
import type { TaskMessage } from '../src/messages.js';
import type { RunRecord, Store } from '../src/ports/store.js';
import { ExecutingSteps } from '../src/runtime/message-handler.js';
import { RunningAttempts } from '../src/runtime/running-attempts.js';
import { ManualClock } from '../src/testing/manual-clock.js';

const silent = { warn: () => undefined, error: () => undefined };
const cancelled = (id: string) => ({ id, chain: 'c', status: 'cancelled' }) as unknown as RunRecord;

describe('RunningAttempts', () => {
  const attempts = () => new RunningAttempts({} as Store, new ManualClock(), 1000, silent);
  const target = (log: string[], name: string) => ({ abort: (reason: unknown) => log.push(`${name}:${(reason as Error).name}`) });

  it("aborts every attempt of a cancelled run, and only that run's", () => {
    const registry = attempts();
    const log: string[] = [];
    registry.add('r1', target(log, 'a'));
    registry.add('r1', target(log, 'b'));
    registry.add('r2', target(log, 'c'));
    registry.committed(cancelled('r1'));
    expect(log.sort()).toEqual(['a:RunCancelledError', 'b:RunCancelledError']);
    registry.stop();
  });

  it('forgets an attempt once unregistered, whichever place it holds in its run\'s list', () => {
    const registry = attempts();
    const log: string[] = [];
    const first = registry.add('r', target(log, 'first'));
    const middle = registry.add('r', target(log, 'middle'));
    registry.add('r', target(log, 'last'));
    middle.unregister();
    first.unregister();
    registry.committed(cancelled('r'));
    expect(log).toEqual(['last:RunCancelledError']);
    registry.stop();
  });

  it('an attempt unregistered after its run was aborted leaves a newer attempt of the run registered', () => {
    const registry = attempts();
    const log: string[] = [];
    const old = registry.add('r', target(log, 'old'));
    registry.committed(cancelled('r'));
    const fresh = registry.add('r', target(log, 'fresh'));
    old.unregister();
    registry.committed(cancelled('r'));
    expect(log).toEqual(['old:RunCancelledError', 'fresh:RunCancelledError']);
    fresh.unregister();
    registry.stop();
  });
});

describe('ExecutingSteps', () => {
  const message = (step: string, attempt = 1, compensation = false): TaskMessage => ({ v: 1, kind: 'task', runId: 'r', chain: 'c', step, task: step, attempt, compensation, input: null });

  it('finds only the same invocation (step, attempt and kind) of the same run', () => {
    const steps = new ExecutingSteps();
    const a = steps.begin(message('a'));
    steps.begin(message('b'));
    expect(steps.find(message('a'))).toBe(a);
    expect(steps.find(message('a', 2))).toBeUndefined();
    expect(steps.find(message('a', 1, true))).toBeUndefined();
    expect(steps.find({ ...message('a'), runId: 'other' })).toBeUndefined();
  });

  it('wakes the copies waiting for an invocation once it ends, and forgets it', async () => {
    const steps = new ExecutingSteps();
    const first = steps.begin(message('a'));
    const second = steps.begin(message('b'));
    const woken: string[] = [];
    const waits = [steps.wait(first).then(() => woken.push('a1')), steps.wait(first).then(() => woken.push('a2'))];
    steps.end('r', first);
    await Promise.all(waits);
    expect(woken).toEqual(['a1', 'a2']);
    expect(steps.find(message('a'))).toBeUndefined();
    expect(steps.find(message('b'))).toBe(second);
    steps.end('r', second);
    expect(steps.find(message('b'))).toBeUndefined();
  });
});
