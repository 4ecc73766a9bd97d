/**
 * Issue 11, item 2: re-driving a finished run (`retry`). A failed run starts again at the step
 * that failed, attempts reset, with the outputs of the steps before it; its history is kept and
 * marked. Refused, with the reason, where compensation has undone those steps (then `from:
 * 'start'` runs the chain again from its first step). On a manual clock.
 */
import { chain, InvalidOptionError, RunFailedError, RuntimeStateError, task } from '@taskchart/core';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

const status = async (id: string) => (await h?.runtime.getRun(id))?.status;
const until = (id: string, s: string) => h?.drive(async () => (await status(id)) === s);

describe('retry (re-drive)', () => {
  it('starts a failed run again at the failed step, with the earlier outputs, attempts reset, history kept', async () => {
    const calls: string[] = [];
    let broken = true;
    const quote = task('quote', (x: { id: string }) => {
      calls.push('quote');
      return { ...x, quote: 120 };
    });
    const guarantee = task('guarantee', (x: { id: string; quote: number }, ctx) => {
      calls.push(`guarantee#${ctx.attempt}`);
      if (broken) throw new Error('insurer API rejects the key');
      return `guarantee for ${x.id} at ${x.quote}`;
    }, { retry: { maxRetries: 1, backoff: { initial: '1s', jitter: 'none' } } });
    const c = chain('guarantee-chain', quote, guarantee);
    h = await harness([c]);
    const run = await h.runtime.run(c, { id: 't-1' }, { id: 'g-1' });
    await until(run.id, 'failed');
    await expect(run.result()).rejects.toBeInstanceOf(RunFailedError);

    broken = false; // the key was fixed
    const info = await h.runtime.retry(run.id);
    expect(info).toMatchObject({ id: 'g-1', status: 'running', step: 'guarantee', attempts: 1, totalAttempts: 4 });
    expect(info.error).toBeUndefined();
    await until(run.id, 'completed');
    expect(await run.result()).toBe('guarantee for t-1 at 120');
    expect(calls).toEqual(['quote', 'guarantee#1', 'guarantee#2', 'guarantee#1']);
    const history = (await h.runtime.getRun(run.id))?.history ?? [];
    expect(history.map((e) => e.type)).toEqual([
      'run.started', 'step.started', 'step.completed', 'step.started', 'step.failed', 'step.retrying', 'step.started', 'step.failed', 'run.failed',
      'run.redriven', 'step.started', 'step.completed', 'run.completed',
    ]);
    expect(history.find((e) => e.type === 'run.redriven')).toMatchObject({ step: 'guarantee', task: 'guarantee' });
    expect(h.reports).toHaveLength(1);
  });

  it("refuses the failed step where compensation undid the steps before it; { from: 'start' } runs the chain again", async () => {
    const calls: string[] = [];
    let broken = true;
    const reserve = task('reserve', (x: number) => {
      calls.push('reserve');
      return x + 1;
    }, { compensate: () => void calls.push('undo reserve') });
    const pay = task('pay', (x: number) => {
      calls.push('pay');
      if (broken) throw new Error('card declined');
      return x * 10;
    }, { retry: { maxRetries: 0 } });
    const c = chain('booking', reserve, pay);
    h = await harness([c]);
    const run = await h.runtime.run(c, 1, { id: 'b-1' });
    await until(run.id, 'compensated');
    const refusal = h.runtime.retry(run.id);
    await expect(refusal).rejects.toBeInstanceOf(RuntimeStateError);
    await expect(h.runtime.retry(run.id)).rejects.toThrow(
      'cannot re-drive run "b-1" (chain "booking") from step "pay": compensation has undone (or began undoing) the steps before it (reserve), ' +
        "whose outputs the step would build on; re-drive it with { from: 'start' }",
    );
    broken = false;
    expect(await h.runtime.retry(run.id, { from: 'start' })).toMatchObject({ status: 'running', step: 'reserve' });
    await until(run.id, 'completed');
    expect(await run.result()).toBe(20);
    expect(calls).toEqual(['reserve', 'pay', 'undo reserve', 'reserve', 'pay']);
    const types = (await h.runtime.getRun(run.id))?.history.map((e) => e.type) ?? [];
    expect(types.slice(types.indexOf('run.compensated'))).toEqual(['run.compensated', 'run.redriven', 'step.started', 'step.completed', 'step.started', 'step.completed', 'run.completed']);
  });

  it('refuses runs that are not finished or completed, and cancelled runs from the failed step, naming the run', async () => {
    let hold = true;
    const slow = task('slow', async (x: number) => {
      while (hold) await new Promise((r) => setTimeout(r, 5));
      return x;
    });
    const c = chain('slow-chain', slow);
    h = await harness([c]);
    const running = await h.runtime.run(c, 1, { id: 's-1' });
    await expect(h.runtime.retry(running.id)).rejects.toThrow('cannot re-drive run "s-1" (chain "slow-chain"): it is running: only a failed, compensated or cancelled run can be re-driven');
    await h.runtime.cancel(running.id);
    hold = false;
    await until(running.id, 'cancelled');
    await expect(h.runtime.retry(running.id)).rejects.toThrow(/it was cancelled, not failed; re-drive it with \{ from: 'start' \}/);
    await h.runtime.retry(running.id, { from: 'start' });
    await until(running.id, 'completed');
    await expect(h.runtime.retry(running.id)).rejects.toThrow('cannot re-drive run "s-1" (chain "slow-chain"): it completed');
    await expect(h.runtime.retry('nope')).rejects.toBeInstanceOf(InvalidOptionError);
    // @ts-expect-error -- not a place to start from
    await expect(h.runtime.retry(running.id, { from: 'middle' })).rejects.toThrow(/from: must be 'failed-step' or 'start'/);
  });
});
