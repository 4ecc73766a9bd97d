/**
 * Run events (issue 8, item 1) and plugins (item 2), on the memory broker and a SQLite file:
 * the events of one committed transition, in order, in process (`runtime.on`, plugins) and
 * from the store's event log (`events()`), identical; plugins that throw never break a run.
 */
import { chain, InvalidOptionError, task, type AttemptContext, type AttemptOutcome, type Logger, type RunEvent, type RunInfo } from '@taskchart/core';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';
import { take } from './feeds.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);

/** A logger that keeps what it is told. */
function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, warn: () => undefined, error: (message) => void errors.push(message) };
}


const quote = task('quote', (x: { tenant: string }) => ({ ...x, quote: 120 }), { compensate: () => undefined });
const risk = task(
  'risk',
  (x: { tenant: string; quote: number }): { ok: boolean } => {
    throw new Error(`risk API down for ${x.tenant}`);
  },
  { retry: { maxRetries: 1, backoff: { initial: '4s', jitter: 'none' } } },
);
const referral = chain('referral', quote, risk);

describe('run events', () => {
  it('a run that retries, fails and compensates: one typed event per transition, in order, the same in process and from the event log', async () => {
    const seen: RunEvent[] = [];
    const byPlugin: RunEvent[] = [];
    h = await harness([referral], { plugins: [{ name: 'recorder', onEvent: (e) => void byPlugin.push(e) }] });
    const off = h.runtime.on('*', (e) => void seen.push(e));
    const failed: number[] = [];
    const offFailed = h.runtime.on('step.failed', (e) => {
      failed.push(e.attempt); // typed: a StepFailedEvent
      offFailed(); // unsubscribed after the first
    });
    const startedAt = h.clock.now();
    const run = await h.runtime.run(referral, { tenant: 't-1' }, { id: 'ref-1' });
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    off();

    expect(seen.map((e) => [e.type, 'step' in e ? e.step : undefined, 'attempt' in e ? e.attempt : undefined])).toEqual([
      ['run.started', undefined, undefined],
      ['step.started', 'quote', 1],
      ['step.completed', 'quote', 1],
      ['step.started', 'risk', 1],
      ['step.failed', 'risk', 1],
      ['step.retrying', 'risk', 2],
      ['step.started', 'risk', 2],
      ['step.failed', 'risk', 2],
      ['compensation.started', 'quote', 1],
      ['compensation.completed', 'quote', 1],
      ['run.compensated', undefined, undefined],
    ]);
    expect(seen.every((e) => e.runId === 'ref-1' && e.chain === 'referral' && e.cursor.length > 0)).toBe(true);
    expect(new Set(seen.map((e) => e.cursor)).size).toBe(seen.length);
    expect(seen.find((e) => e.type === 'step.started' && e.step === 'risk')).toMatchObject({ task: 'risk' });
    const retrying = seen.find((e) => e.type === 'step.retrying');
    expect(retrying).toMatchObject({ type: 'step.retrying', step: 'risk', task: 'risk', attempt: 2, delayMs: 4000, at: startedAt, dueAt: startedAt + 4000 });
    const failures = seen.flatMap((e) => (e.type === 'step.failed' ? [[e.attempt, e.error.name, e.error.message, e.error.retryable]] : []));
    expect(failures).toEqual([
      [1, 'Error', 'risk API down for t-1', true],
      [2, 'Error', 'risk API down for t-1', true],
    ]);
    expect(failed).toEqual([1]);
    expect(byPlugin).toEqual(seen);

    // The same events, cursors included, replayed from the store's event log.
    const replayed = await take(h.runtime.events({ runId: 'ref-1' }), seen.length);
    expect(replayed).toEqual(seen);

    // getRun: the failed step's attempts and the run's total (quote 1, risk 2, undo quote 1).
    expect(await h.runtime.getRun('ref-1')).toMatchObject({ status: 'compensated', failedTask: 'risk', failedStep: 'risk', failedAttempts: 2, totalAttempts: 4 });
  });

  it('run.completed carries the output in process; result() settles on the event', async () => {
    const double = task('double', (x: number) => x * 2);
    const c = chain('doubling', double);
    h = await harness([c]);
    const completed: unknown[] = [];
    h.runtime.on('run.completed', (e) => void completed.push(e.output));
    const run = await h.runtime.run(c, 21, { id: 'd-1' });
    expect(await run.result()).toBe(42);
    expect(completed).toEqual([42]);
  });
});

describe('plugins', () => {
  it('call their hooks; one that throws is logged with its name and the run goes on', async () => {
    const logger = recordingLogger();
    const attempts: Array<[AttemptContext, AttemptOutcome]> = [];
    const order: string[] = [];
    const failures: string[] = [];
    h = await harness([referral], {
      logger,
      onFailure: (r) => void failures.push(`option:${r.task}`),
      plugins: [
        {
          name: 'tracer',
          wrapAttempt: async (ctx, next) => {
            order.push(`open ${ctx.step}#${ctx.attempt}`);
            const outcome = await next();
            attempts.push([ctx, outcome]);
            order.push(`close ${ctx.step}#${ctx.attempt}`);
            return outcome;
          },
        },
        {
          name: 'broken',
          onEvent: () => {
            throw new Error('plugin bug');
          },
          onFailure: () => Promise.reject(new Error('sentry down')),
          wrapAttempt: () => {
            throw new Error('scope bug');
          },
        },
        { name: 'reporter', onFailure: (r) => void failures.push(`plugin:${r.task}:${r.attempts}`) },
      ],
    });
    h.runtime.on('run.started', () => {
      throw new Error('listener bug');
    });
    const run = await h.runtime.run(referral, { tenant: 't-2' }, { id: 'ref-2' });
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)) && failures.length === 2);

    // The run went its normal way; each attempt ran once, inside the wrapper.
    expect((await h.runtime.getRun('ref-2'))?.status).toBe('compensated');
    expect(attempts.map(([ctx, outcome]) => [ctx.step, ctx.attempt, ctx.compensation, outcome.ok])).toEqual([
      ['quote', 1, false, true],
      ['risk', 1, false, false],
      ['risk', 2, false, false],
      ['quote', 1, true, true],
    ]);
    expect(attempts[1]?.[0]).toMatchObject({ runId: 'ref-2', chain: 'referral', step: 'risk', task: 'risk', queue: 'taskchart', attempt: 1, compensation: false });
    expect(typeof attempts[1]?.[0].messageId).toBe('string');
    expect(attempts[1]?.[0].headers).toBeTypeOf('object');
    expect(attempts[1]?.[1]).toEqual({ ok: false, error: { name: 'Error', message: 'risk API down for t-2' } });
    expect(order.slice(0, 2)).toEqual(['open quote#1', 'close quote#1']);
    // Both failure hooks heard of it: the plugin's and the onFailure option's (sugar for one plugin).
    expect(failures.sort()).toEqual(['option:risk', 'plugin:risk:2']);
    // Every throw was logged, naming who threw.
    expect(logger.errors).toContain('plugin "broken" onEvent threw; the run goes on');
    expect(logger.errors).toContain('plugin "broken" onFailure threw');
    expect(logger.errors).toContain("plugin \"broken\" wrapAttempt threw; the attempt's own outcome stands");
    expect(logger.errors).toContain('runtime.on("run.started") listener threw; the run goes on');
  });

  it('are checked when the runtime is created: unknown keys, missing names, hooks that are not functions', async () => {
    const { createRuntime } = await import('@taskchart/core');
    const { memoryBroker } = await import('@taskchart/broker-memory');
    const { sqliteStore } = await import('@taskchart/store-sqlite');
    const store = sqliteStore(':memory:');
    const base = { broker: memoryBroker(), store, chains: [referral] };
    expect(() => createRuntime({ ...base, plugins: [{ name: 'x', onEvnt: () => undefined } as never] })).toThrow(
      new InvalidOptionError('createRuntime: plugins[0]: onEvnt', 'unknown option; did you mean "onEvent"? valid options: name, onEvent, onFailure, wrapAttempt, messageHeaders'),
    );
    expect(() => createRuntime({ ...base, plugins: [{ onEvent: () => undefined } as never] })).toThrow('createRuntime: plugins[0].name: must be a non-empty string');
    expect(() => createRuntime({ ...base, plugins: [{ name: 'x', wrapAttempt: 1 } as never] })).toThrow('createRuntime: plugins[0].wrapAttempt: must be a function');
    expect(() => createRuntime({ ...base, plugin: [] } as never)).toThrow('createRuntime: plugin: unknown option; did you mean "plugins"?');
    await store.close();
  });
});
