import { chain, RunFailedError, task, type RunInfo } from '@taskchart/core';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);
const retry = { maxRetries: 2, backoff: { initial: '1s', jitter: 'none' } } as const;

describe('failure hook and rollback', () => {
  it('calls onFailure once with the run, task, input, attempts and stack, then compensates in reverse order', async () => {
    const log: string[] = [];
    const quote = task('quote', (x: { tenant: string }) => ({ ...x, quote: 120 }), { compensate: (o) => void log.push(`undo quote ${o.quote}`) });
    const hold = task('hold', (x: { tenant: string; quote: number }) => ({ ...x, hold: 'H1' }), { compensate: (o, ctx) => void log.push(`undo hold ${o.hold} key=${ctx.idempotencyKey}`) });
    const notifyNoUndo = task('audit', (x: { tenant: string; quote: number; hold: string }) => x);
    const risk = task(
      'risk',
      (x: { tenant: string }): { ok: boolean } => {
        throw new Error(`risk API down for ${x.tenant}`);
      },
      { retry },
    );
    const c = chain('referral', quote, hold, notifyNoUndo, risk);
    h = await harness([c]);
    const run = await h.runtime.run(c, { tenant: 't-9' }, { id: 'run-9' });
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(log).toEqual(['undo hold H1 key=run-9:hold', 'undo quote 120']);
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toMatchObject({
      runId: 'run-9',
      chain: 'referral',
      task: 'risk',
      step: 'risk',
      input: { tenant: 't-9', quote: 120, hold: 'H1' },
      attempts: 3,
      compensation: false,
      error: { name: 'Error', message: 'risk API down for t-9' },
    });
    expect(h.reports[0]?.error.stack).toMatch(/risk API down for t-9\n\s+at /);
    const info = await h.runtime.getRun(run.id);
    expect(info?.status).toBe('compensated');
    expect(info?.history.filter((e) => e.type.startsWith('compensation.') || e.type.startsWith('run.')).map((e) => `${e.type}:${e.step ?? ''}`)).toEqual([
      'run.started:',
      'compensation.started:hold',
      'compensation.completed:hold',
      'compensation.started:quote',
      'compensation.completed:quote',
      'run.compensated:',
    ]);
    const error = await run.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect(error).toMatchObject({ name: 'RunFailedError', status: 'compensated', runId: 'run-9', failure: { task: 'risk', attempts: 3 } });
  });

  it('retries a compensation by its own policy; when it gives up the run ends failed and onFailure hears of it', async () => {
    let undoCalls = 0;
    const book = task('book', (x: number) => x, {
      compensate: () => {
        undoCalls++;
        throw new Error('cannot cancel booking');
      },
      compensateRetry: { maxRetries: 1, backoff: { initial: '2s', jitter: 'none' } },
    });
    const pay = task('pay', (_: number): number => {
      throw new Error('card declined');
    }, { retry: { maxRetries: 0 } });
    const c = chain('trip', book, pay);
    h = await harness([c]);
    const run = await h.runtime.run(c, 1);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(undoCalls).toBe(2);
    expect(await h.runtime.getRun(run.id)).toMatchObject({ status: 'failed', failedTask: 'pay' });
    expect(h.reports.map((r) => [r.task, r.compensation, r.attempts, r.error.message])).toEqual([
      ['pay', false, 1, 'card declined'],
      ['book', true, 2, 'cannot cancel booking'],
    ]);
  });

  it('ends failed (not compensated) when no completed step has a compensation', async () => {
    const first = task('first', (x: number) => x);
    const second = task('second', (_: number): number => {
      throw new Error('nope');
    }, { retry: { maxRetries: 0 } });
    const c = chain('nothing-to-undo', first, second);
    h = await harness([c]);
    const run = await h.runtime.run(c, 1);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(await h.runtime.getRun(run.id)).toMatchObject({ status: 'failed', failedTask: 'second' });
    expect(h.reports).toHaveLength(1);
    await expect(run.result()).rejects.toMatchObject({ status: 'failed' });
  });

  it('keeps going when onFailure itself throws', async () => {
    const boom = task('boom', (): number => {
      throw new Error('x');
    }, { retry: { maxRetries: 0 } });
    const c = chain('hook-throws', boom);
    let called = 0;
    h = await harness([c], {
      onFailure: () => {
        called++;
        throw new Error('Sentry is down');
      },
    });
    const r1 = await h.runtime.run(c, null);
    const r2 = await h.runtime.run(c, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(r1.id)) && terminal(await h?.runtime.getRun(r2.id)));
    expect(called).toBe(2);
  });
});
