import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { chain, task, type TaskContext } from '../src/index.js';
import type { TaskMessage } from '../src/messages.js';
import { executeTask } from '../src/runtime/execute-task.js';

/** Runs `run` as the one step of a chain, attempt 1, and returns its outcome event and the context it saw. */
async function attempt(
  run: (ctx: TaskContext) => Promise<unknown>,
  { shutdown = new AbortController().signal, timeout, register }: { shutdown?: AbortSignal; timeout?: number; register?: (abort: (reason: unknown) => void) => () => void } = {},
) {
  let seen: TaskContext | undefined;
  const t = task('t', (_: null, ctx) => {
    seen = ctx;
    return run(ctx);
  }, timeout === undefined ? {} : { timeout });
  const c = chain('c', t);
  const step = c.steps[0];
  if (!step) throw new Error('no step');
  const message: TaskMessage = { v: 1, kind: 'task', runId: 'r', chain: 'c', step: 't', task: 't', attempt: 1, compensation: false, input: null };
  const event = await executeTask(step, message, { clock: systemClock, random: () => 0, shutdown, register });
  return { event, ctx: seen };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("an attempt's ctx.signal (made when first read)", () => {
  it('is a live AbortSignal the task can listen to: a cancel aborts it with its reason', async () => {
    let abort: ((reason: unknown) => void) | undefined;
    const reasons: unknown[] = [];
    const { event } = await attempt(
      async (ctx) => {
        ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
        abort?.('cancelled');
        await tick();
      },
      { register: (a) => ((abort = a), () => undefined) },
    );
    expect(reasons).toEqual(['cancelled']);
    expect(event.type).toBe('xstate.done.actor.t');
  });

  it('read after an abort, shows it: aborted with the first reason', async () => {
    let abort: ((reason: unknown) => void) | undefined;
    const shutdown = new AbortController();
    const { ctx } = await attempt(
      async () => {
        abort?.('first');
        shutdown.abort('second');
        abort?.('third');
        await tick();
      },
      { register: (a) => ((abort = a), () => undefined), shutdown: shutdown.signal },
    );
    expect(ctx?.signal.aborted).toBe(true);
    expect(ctx?.signal.reason).toBe('first');
  });

  it('a hard shutdown during the attempt aborts it (read late or early); one before the attempt does not', async () => {
    const during = new AbortController();
    const late = await attempt(async () => {
      during.abort('shutdown');
      await tick();
    }, { shutdown: during.signal });
    expect(late.ctx?.signal.reason).toBe('shutdown');

    const early = new AbortController();
    const seen: unknown[] = [];
    await attempt(async (ctx) => {
      ctx.signal.addEventListener('abort', () => seen.push(ctx.signal.reason));
      early.abort('shutdown');
      await tick();
    }, { shutdown: early.signal });
    expect(seen).toEqual(['shutdown']);

    const before = new AbortController();
    before.abort('gone');
    const after = await attempt(async () => tick(), { shutdown: before.signal });
    expect(after.ctx?.signal.aborted).toBe(false);
  });

  it('aborts with the TaskTimeoutError when the timeout elapses, whether or not the task read it', async () => {
    const read = await attempt(async (ctx) => {
      void ctx.signal;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }, { timeout: 5 });
    expect(read.event).toMatchObject({ type: 'xstate.error.actor.t', error: { name: 'TaskTimeoutError' } });
    expect(read.ctx?.signal.reason).toMatchObject({ name: 'TaskTimeoutError' });
    const unread = await attempt(async () => new Promise((resolve) => setTimeout(resolve, 50)), { timeout: 5 });
    expect(unread.ctx?.signal.reason).toMatchObject({ name: 'TaskTimeoutError' });
  });

  it('leaves no listener on the shutdown signal once the attempt settles', async () => {
    const shutdown = new AbortController();
    await attempt(async (ctx) => {
      void ctx.signal;
      expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
      await tick();
    }, { shutdown: shutdown.signal });
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    await attempt(async () => tick(), { shutdown: shutdown.signal });
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it("gives a compensation the task's context plus the input", async () => {
    let seen: unknown;
    const t = task('t', (x: number) => x, {
      compensate: (_output, ctx) => {
        seen = { input: ctx.input, attempt: ctx.attempt, aborted: ctx.signal.aborted, keys: Object.keys(ctx) };
      },
    });
    const step = chain('c', t).steps[0];
    if (!step) throw new Error('no step');
    const message: TaskMessage = { v: 1, kind: 'task', runId: 'r', chain: 'c', step: 't', task: 't', attempt: 2, compensation: true, input: 7, output: 7 };
    const event = await executeTask(step, message, { clock: systemClock, random: () => 0, shutdown: new AbortController().signal });
    expect(event).toEqual({ type: 'xstate.done.actor.compensate-t', output: null, attempt: 2 });
    expect(seen).toEqual({ input: 7, attempt: 2, aborted: false, keys: ['runId', 'chain', 'task', 'step', 'idempotencyKey', 'attempt', 'signal', 'input'] });
  });
});
