/**
 * Issue 11, item 1: cancelling a run. The running attempt's signal aborts (at once in the
 * process that cancelled; through the store, within a check period, in another), no further step
 * starts, the completed steps are compensated (unless `compensate: false`), and the run ends
 * `cancelled`; a finished run is left alone with a clear answer. On a manual clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createClient, createRuntime, InvalidOptionError, RunCancelledError, task, type Runtime, type TaskContext } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

/** A chain whose middle step waits until released or aborted, recording what happened. */
function fixture() {
  const log: string[] = [];
  const release: Array<() => void> = [];
  const reserve = task('reserve', (x: { id: string }) => {
    log.push('reserve');
    return { ...x, reserved: true };
  }, { compensate: () => void log.push('undo reserve') });
  const charge = task(
    'charge',
    (x: { id: string; reserved: boolean }, ctx: TaskContext) =>
      new Promise<{ id: string; charged: boolean }>((resolve, reject) => {
        log.push(`charge#${ctx.attempt}`);
        ctx.signal.addEventListener('abort', () => {
          log.push(`charge aborted: ${(ctx.signal.reason as Error).name}`);
          reject(ctx.signal.reason as Error);
        });
        release.push(() => resolve({ ...x, charged: true }));
      }),
    { compensate: () => void log.push('undo charge') },
  );
  const ship = task('ship', (x: { id: string }) => {
    log.push('ship');
    return x.id;
  });
  return { log, release, order: chain('order', reserve, charge, ship) };
}

const types = async (runtime: Runtime, id: string) => (await runtime.getRun(id))?.history.map((e) => e.type);

describe('cancel', () => {
  it('aborts the running attempt, starts no further step, compensates the completed steps and ends cancelled', async () => {
    const { log, order } = fixture();
    h = await harness([order]);
    const run = await h.runtime.run(order, { id: 'o-1' }, { id: 'o-1' });
    await h.drive(() => log.includes('charge#1'));
    const answer = await h.runtime.cancel(run.id, { reason: 'tenant withdrew' });
    expect(answer).toEqual({ cancelled: true, status: 'compensating', message: 'run "o-1" is cancelling: compensating its completed steps' });
    await h.drive(async () => (await h?.runtime.getRun(run.id))?.status === 'cancelled');
    expect(log).toEqual(['reserve', 'charge#1', 'charge aborted: RunCancelledError', 'undo reserve']);
    expect(await types(h.runtime, run.id)).toEqual([
      'run.started', 'step.started', 'step.completed', 'step.started',
      'run.cancelling', 'compensation.started', 'compensation.completed', 'run.cancelled',
    ]);
    const info = await h.runtime.getRun(run.id);
    expect(info?.history.filter((e) => e.type.startsWith('run.cancel')).map((e) => e.reason)).toEqual(['tenant withdrew', 'tenant withdrew']);
    expect(info?.error).toMatchObject({ name: 'RunCancelledError', message: 'run "o-1" (chain "order") was cancelled: tenant withdrew' });
    await expect(run.result()).rejects.toMatchObject({ name: 'RunCancelledError', reason: 'tenant withdrew', runId: 'o-1' });
    await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
    // A cancel is not a failure: onFailure hears nothing.
    expect(h.reports).toEqual([]);
    // The aborted attempt's outcome changed nothing, and nothing ran after.
    await h.drive(async () => true);
    expect(log.filter((l) => l === 'ship')).toEqual([]);
  });

  it('with { compensate: false } ends cancelled at once, undoing nothing', async () => {
    const { log, order } = fixture();
    h = await harness([order]);
    const run = await h.runtime.run(order, { id: 'o-2' }, { id: 'o-2' });
    await h.drive(() => log.includes('charge#1'));
    expect(await h.runtime.cancel(run.id, { compensate: false })).toMatchObject({ cancelled: true, status: 'cancelled' });
    await settle();
    expect(log).toEqual(['reserve', 'charge#1', 'charge aborted: RunCancelledError']);
    expect(await types(h.runtime, run.id)).toEqual(['run.started', 'step.started', 'step.completed', 'step.started', 'run.cancelled']);
    await expect(run.result()).rejects.toMatchObject({ name: 'RunCancelledError', reason: null });
  });

  it('a run waiting out a backoff never makes its next attempt; a second cancel says it is under way', async () => {
    let attempts = 0;
    const flaky = task('flaky', () => {
      attempts++;
      throw new Error('503');
    }, { retry: { maxRetries: 5, backoff: { initial: '1m', jitter: 'none' } } });
    const c = chain('flaky-chain', task('first', (x: number) => x, { compensate: () => undefined }), flaky);
    h = await harness([c]);
    const run = await h.runtime.run(c, 1);
    await h.drive(async () => (await h?.runtime.getRun(run.id))?.status === 'retrying');
    expect(attempts).toBe(1);
    const [a, b] = await Promise.all([h.runtime.cancel(run.id), h.runtime.cancel(run.id)]);
    expect(a).toMatchObject({ cancelled: true, status: 'compensating' });
    expect(b).toEqual({ cancelled: false, status: 'compensating', message: 'run "' + run.id + '" is being cancelled already: its completed steps are being compensated' });
    await h.drive(async () => (await h?.runtime.getRun(run.id))?.status === 'cancelled');
    // Let the old backoff timer fire: it is ignored.
    await h.clock.advance(120_000);
    expect(attempts).toBe(1);
    expect((await h.runtime.getRun(run.id))?.status).toBe('cancelled');
  });

  it('leaves a finished run alone with a clear answer, and cancels a scheduled run before it starts', async () => {
    const { log, order, release } = fixture();
    h = await harness([order]);
    const done = await h.runtime.run(order, { id: 'o-3' }, { id: 'o-3' });
    await h.drive(() => release.length > 0);
    release[0]?.();
    await h.drive(async () => (await h?.runtime.getRun(done.id))?.status === 'completed');
    expect(await h.runtime.cancel(done.id)).toEqual({ cancelled: false, status: 'completed', message: 'run "o-3" is completed already: nothing to cancel' });
    expect((await h.runtime.getRun(done.id))?.status).toBe('completed');

    const later = await h.runtime.run(order, { id: 'o-4' }, { id: 'o-4', delay: '1h' });
    expect(await h.runtime.cancel(later.id, { reason: 'not needed' })).toMatchObject({ cancelled: true, status: 'cancelled' });
    await h.clock.advance(2 * 3_600_000);
    await settle();
    expect(await types(h.runtime, later.id)).toEqual(['run.scheduled', 'run.cancelled']);
    expect(log.filter((l) => l === 'reserve')).toHaveLength(1);
  });

  it('rejects an unknown run and bad options, naming them', async () => {
    const { order } = fixture();
    h = await harness([order]);
    await expect(h.runtime.cancel('nope')).rejects.toThrow(/cancel\(\): id: no run "nope"/);
    await expect(h.runtime.cancel('nope')).rejects.toBeInstanceOf(InvalidOptionError);
    // @ts-expect-error -- not an option
    await expect(h.runtime.cancel('nope', { force: true })).rejects.toThrow(/force/);
    // @ts-expect-error -- not a boolean
    await expect(h.runtime.cancel('nope', { compensate: 'no' })).rejects.toThrow(/compensate: must be true or false/);
  });
});

describe('cancel from another process', () => {
  it("reaches the worker's running attempt through the store within a check period", async () => {
    const { log, order } = fixture();
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-cancel-'));
    const clock = new ManualClock();
    const broker = memoryBroker({ clock });
    const store = sqliteStore(join(dir, 'runs.db'));
    // The worker and a client that only starts and cancels (as a web process would: its own engine, no shared memory).
    const worker = createRuntime({ broker, store, chains: [order], clock, logger: silentLogger });
    const web = createClient({ broker, store, chains: [order], clock, logger: silentLogger });
    await worker.start();
    try {
      const run = await web.run(order, { id: 'o-9' }, { id: 'o-9' });
      for (let i = 0; i < 50 && !log.includes('charge#1'); i++) await settle();
      expect(log).toContain('charge#1');
      await web.cancel(run.id, { compensate: false, reason: 'from the web' });
      await settle();
      // Not aborted yet: the worker has not looked.
      expect(log).not.toContain('charge aborted: RunCancelledError');
      await clock.advance(1_000);
      await settle();
      expect(log).toContain('charge aborted: RunCancelledError');
      expect((await worker.getRun(run.id))?.status).toBe('cancelled');
    } finally {
      await web.close();
      await worker.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
