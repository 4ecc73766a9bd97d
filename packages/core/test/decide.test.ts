import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../src/adapter.js';
import { chain, task, type SerializedError } from '../src/index.js';
import type { ChainEvent } from '../src/machine/chain-context.js';
import { awaits, decideEvent, decideStart, restoreSnapshot, type Decision } from '../src/runtime/decide.js';

const a = task('a', (x: number) => x + 1, { compensate: () => undefined });
const b = task('b', (x: number) => x * 2, { retry: { maxRetries: 2, backoff: { initial: 1000, jitter: 'none' } } });
const c = chain('c', a, b);
const err = (message: string, retryable = true): SerializedError => ({ name: 'Error', message, retryable });

/** Applies events one after another the way the runtime does: through stored JSON every time. */
function replay(events: ChainEvent[]) {
  let decision: Decision = decideStart(c, 'run-1', 1, 0);
  const ignored: string[] = [];
  let record: RunRecord = JSON.parse(JSON.stringify(decision.record)) as RunRecord;
  events.forEach((event, i) => {
    const next = decideEvent(c, record, restoreSnapshot(c, record), event, (i + 1) * 1000);
    if (!next) {
      ignored.push(event.type);
      return;
    }
    decision = next;
    record = JSON.parse(JSON.stringify(next.record)) as RunRecord;
  });
  return { record, ignored, decision };
}

describe('decider', () => {
  it('starts a run by dispatching its first step', () => {
    const d = decideStart(c, 'run-1', 1, 0);
    expect(d.record).toMatchObject({ id: 'run-1', status: 'running', step: 'a', attempt: 1, version: 1 });
    expect(d.outbox).toHaveLength(1);
    expect(JSON.parse(d.outbox[0]?.body ?? '')).toMatchObject({ kind: 'task', runId: 'run-1', step: 'a', task: 'a', attempt: 1, input: 1 });
    expect(d.history.map((h) => h.type)).toEqual(['run.started', 'step.started']);
  });

  it('advances through stored JSON snapshots to completion', () => {
    const { record } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.done.actor.b', output: 4, attempt: 1 },
    ]);
    expect(record).toMatchObject({ status: 'completed', output: 4, waiting: [], totalAttempts: 2 });
  });

  it('ignores a duplicate completion (exactly-once transitions)', () => {
    const { record, ignored } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
    ]);
    expect(ignored).toEqual(['xstate.done.actor.a']);
    expect(record).toMatchObject({ status: 'running', step: 'b', version: 2 });
  });

  it("ignores an old attempt's error and a superseded timer", () => {
    const timer = 'xstate.after.retryDelay.c.b.retrying';
    const { record, ignored } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.error.actor.b', error: err('one'), attempt: 1, random: 0 },
      { type: timer, attempt: 2 },
      { type: 'xstate.error.actor.b', error: err('one again'), attempt: 1, random: 0 }, // stale: attempt 1
      { type: 'xstate.error.actor.b', error: err('two'), attempt: 2, random: 0 },
      { type: timer, attempt: 2 }, // superseded: the pending timer is attempt 3's
    ]);
    expect(ignored).toEqual(['xstate.error.actor.b', timer]);
    expect(record).toMatchObject({ status: 'retrying', step: 'b', attempt: 3 });
  });

  it('dispatches a timer with its due time when a step fails', () => {
    const { decision } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.error.actor.b', error: err('one'), attempt: 1, random: 0 },
    ]);
    const timer = JSON.parse(decision.outbox[0]?.body ?? '') as { kind: string; dueAt: number; attempt: number };
    expect(timer).toMatchObject({ kind: 'timer', attempt: 2, dueAt: 2000 + 1000 });
    expect(decision.outbox[0]?.options?.delayMs).toBe(1000);
    expect(decision.record.waiting).toEqual([{ kind: 'timer', step: 'b', attempt: 2, dueAt: 3000, message: { queue: decision.outbox[0]?.queue, body: decision.outbox[0]?.body, options: decision.outbox[0]?.options } }]);
    expect(decision.history).toEqual([
      { at: 2000, type: 'step.failed', step: 'b', task: 'b', attempt: 1, error: err('one') },
      { at: 2000, type: 'step.retrying', step: 'b', task: 'b', attempt: 2, delayMs: 1000, dueAt: 3000 },
    ]);
  });

  it('after the last retry reports the failure and compensates completed steps', () => {
    const timer = 'xstate.after.retryDelay.c.b.retrying';
    const { decision, record } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.error.actor.b', error: err('1'), attempt: 1, random: 0 },
      { type: timer, attempt: 2 },
      { type: 'xstate.error.actor.b', error: err('2'), attempt: 2, random: 0 },
      { type: timer, attempt: 3 },
      { type: 'xstate.error.actor.b', error: err('3'), attempt: 3, random: 0 },
    ]);
    expect(record).toMatchObject({ status: 'compensating', step: 'a', failedTask: 'b' });
    const hook = decision.outbox.find((o) => o.queue === null);
    expect(JSON.parse(hook?.body ?? '')).toMatchObject({ runId: 'run-1', chain: 'c', task: 'b', step: 'b', input: 2, attempts: 3, compensation: false });
    const undo = decision.outbox.find((o) => o.queue !== null);
    expect(JSON.parse(undo?.body ?? '')).toMatchObject({ kind: 'task', compensation: true, step: 'a', input: 1, output: 2 });
  });

  it("takes a snapshot resolved on chain.machine (resume, redrive) the same as one of its own", () => {
    const { record } = replay([{ type: 'xstate.done.actor.a', output: 2, attempt: 1 }]);
    const persisted = record.snapshot as { value: never; context: never };
    const live = c.machine.resolveState({ value: persisted.value, context: persisted.context });
    const event: ChainEvent = { type: 'xstate.done.actor.b', output: 4, attempt: 1 };
    const viaLive = decideEvent(c, record, live, event, 5000);
    const viaOwn = decideEvent(c, record, restoreSnapshot(c, record), event, 5000);
    expect(viaLive?.record).toEqual(viaOwn?.record);
    expect(viaLive?.record).toMatchObject({ status: 'completed', output: 4 });
    expect(viaLive?.history).toEqual(viaOwn?.history);
  });

  it('fails at once on a non-retryable error, with nothing to compensate', () => {
    const { record } = replay([{ type: 'xstate.error.actor.a', error: err('bad input', false), attempt: 1, random: 0 }]);
    expect(record).toMatchObject({ status: 'failed', failedTask: 'a', error: { message: 'bad input' } });
  });
});

describe('decider: what a run waits for', () => {
  it('copies the messages into `waiting` only when asked (non-durable brokers re-dispatch from them)', () => {
    const kept = decideStart(c, 'r', 1, 0);
    expect(kept.record.waiting).toEqual([{ kind: 'step', step: 'a', attempt: 1, message: { queue: kept.outbox[0]?.queue, body: kept.outbox[0]?.body, options: kept.outbox[0]?.options } }]);
    const durable = decideStart(c, 'r', 1, 0, { keepMessages: false });
    expect(durable.record.waiting).toEqual([{ kind: 'step', step: 'a', attempt: 1 }]);
    expect(durable.outbox).toHaveLength(1);
    const next = decideEvent(c, durable.record, durable.snapshot, { type: 'xstate.done.actor.a', output: 2, attempt: 1 }, 1, { keepMessages: false });
    expect(next?.record.waiting).toEqual([{ kind: 'step', step: 'b', attempt: 1 }]);
    expect(next?.outbox).toHaveLength(1);
  });

  it('answers "is this message still awaited?" from `waiting` alone: a duplicate, an old attempt, a compensation of a running step are not', () => {
    const { record } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.error.actor.b', error: err('one'), attempt: 1, random: 0 },
      { type: 'xstate.after.retryDelay.c.b.retrying', attempt: 2 },
    ]);
    expect(record.waiting).toEqual([expect.objectContaining({ kind: 'step', step: 'b', attempt: 2 })]);
    expect(awaits(record, { kind: 'step', step: 'b', attempt: 2 })).toBe(true);
    expect(awaits(record, { kind: 'step', step: 'b', attempt: 1 })).toBe(false);
    expect(awaits(record, { kind: 'step', step: 'a', attempt: 1 })).toBe(false);
    expect(awaits(record, { kind: 'compensation', step: 'b', attempt: 2 })).toBe(false);
    expect(awaits({ ...record, status: 'parked' }, { kind: 'step', step: 'b', attempt: 2 })).toBe(false);
  });

  it('counts every attempt started in `totalAttempts`, steps and compensations alike; `step`/`attempt` stay for display', () => {
    const timer = 'xstate.after.retryDelay.c.b.retrying';
    const { record } = replay([
      { type: 'xstate.done.actor.a', output: 2, attempt: 1 },
      { type: 'xstate.error.actor.b', error: err('1'), attempt: 1, random: 0 },
      { type: timer, attempt: 2 },
      { type: 'xstate.error.actor.b', error: err('2'), attempt: 2, random: 0 },
      { type: timer, attempt: 3 },
      { type: 'xstate.error.actor.b', error: err('3'), attempt: 3, random: 0 },
    ]);
    // a once, b three times, then the compensation of a once.
    expect(record).toMatchObject({ status: 'compensating', step: 'a', attempt: 1, totalAttempts: 5 });
    expect(record.waiting).toEqual([expect.objectContaining({ kind: 'compensation', step: 'a', attempt: 1 })]);
  });
});
