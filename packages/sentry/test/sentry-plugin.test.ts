import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Sentry from '@sentry/node';
import { chain, createRuntime, task, type AnyChain, type FailureReport, type Runtime } from '@taskchart/core';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sentryPlugin } from '../src/index.js';
import { startSentryReceiver, type SentryReceiver } from './sentry-receiver.js';

let receiver: SentryReceiver;
beforeAll(async () => {
  receiver = await startSentryReceiver();
  // The real SDK, sending to the receiver on 127.0.0.1 only. The dedupe integration stays on: it
  // drops an event that repeats the previous one, and two runs failing alike must still be two events.
  Sentry.init({ dsn: receiver.dsn, defaultIntegrations: false, integrations: [Sentry.dedupeIntegration()], sendClientReports: false });
});
afterAll(async () => {
  await Sentry.close(2000);
  await receiver.close();
});

interface Rig {
  runtime: Runtime;
  clock: ManualClock;
  dispose(): Promise<void>;
}
let rig: Rig | undefined;
afterEach(async () => {
  await rig?.dispose();
  rig = undefined;
});

async function start(chains: AnyChain[]): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-sentry-'));
  const clock = new ManualClock();
  const runtime = createRuntime({
    broker: memoryBroker({ clock }),
    store: sqliteStore(join(dir, 'runs.db')),
    chains,
    clock,
    logger: silentLogger,
    plugins: [sentryPlugin({ redact: ['iban'] })],
  });
  await runtime.start();
  return {
    runtime,
    clock,
    async dispose() {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fires timers until every run in `ids` is terminal, then flushes the SDK. */
async function finish(r: Rig, ids: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await settle(10);
    const infos = await Promise.all(ids.map((id) => r.runtime.getRun(id)));
    if (infos.every((info) => info && ['completed', 'failed', 'compensated'].includes(info.status))) break;
    if (!(await r.clock.runNext())) await settle(10);
  }
  await settle(20);
  expect(await Sentry.flush(5000)).toBe(true);
}

const eventsOf = (runId: string) => receiver.events.filter((e) => e.tags?.['run_id'] === runId);
const retry = { maxRetries: 2, backoff: { initial: '1s', jitter: 'none' } } as const;

describe('sentryPlugin with the real @sentry/node SDK', () => {
  it('sends one Celery-style event per final failure: title, cause, tags, extras, fingerprint, redaction, retry breadcrumbs', async () => {
    const risk = task(
      'risk',
      (x: { user: string }): { ok: boolean } => {
        throw new Error(`risk API down for ${x.user} (password=hunter2)`);
      },
      { retry },
    );
    const signup = chain('signup', risk);
    rig = await start([signup]);
    const input = { user: 'ann', password: 'hunter2', apiToken: 'tok-123', profile: { iban: 'DE89', city: 'Lyon' } };
    const a = await rig.runtime.run(signup, input, { id: 'signup-a' });
    await finish(rig, [a.id]);
    // A second run failing exactly alike, right after: its own event, not dropped as a duplicate.
    const b = await rig.runtime.run(signup, input, { id: 'signup-b' });
    await finish(rig, [b.id]);

    expect(eventsOf('signup-a')).toHaveLength(1);
    expect(eventsOf('signup-b')).toHaveLength(1);
    const event = eventsOf('signup-a')[0]!;
    const values = event.exception?.values ?? [];
    expect(values.map((v) => [v.type, v.value])).toEqual([
      ['Error', 'risk API down for ann (password=[Filtered])'],
      ['TaskchartTaskFailed', 'Task risk has failed 3 times: risk API down for ann (password=[Filtered])'],
    ]);
    expect(values[0]?.stacktrace?.frames?.length).toBeGreaterThan(0);
    expect(event.tags).toEqual({ chain: 'signup', task: 'risk', queue: 'taskchart', run_id: 'signup-a', step: 'risk' });
    expect(event.extra).toEqual({
      attempts: 3,
      step: 'risk',
      input: { user: 'ann', password: '[Filtered]', apiToken: '[Filtered]', profile: { iban: '[Filtered]', city: 'Lyon' } },
    });
    expect(event.fingerprint).toEqual(['taskchart', 'signup', 'risk']);
    expect(event.event_id).toMatch(/^[0-9a-f]{32}$/);
    expect(eventsOf('signup-b')[0]?.event_id).not.toBe(event.event_id);
    expect(JSON.stringify(receiver.events)).not.toMatch(/hunter2|tok-123|DE89/);
    // Retries are breadcrumbs of this run only, never events.
    expect((event.breadcrumbs ?? []).map((c) => c.message)).toEqual([
      'Task risk attempt 1 failed: Error: risk API down for ann (password=[Filtered])',
      'Task risk will retry (attempt 2) in 1000 ms',
      'Task risk attempt 2 failed: Error: risk API down for ann (password=[Filtered])',
      'Task risk will retry (attempt 3) in 2000 ms',
      'Task risk attempt 3 failed: Error: risk API down for ann (password=[Filtered])',
    ]);
    expect(event.breadcrumbs?.every((c) => c.data?.['run_id'] === 'signup-a')).toBe(true);
  });

  it('sends a failed compensation as its own event, tagged and fingerprinted apart, linked by run_id', async () => {
    const book = task('book', (x: number) => x, {
      compensate: () => {
        throw new Error('cannot cancel booking');
      },
      compensateRetry: { maxRetries: 0 },
    });
    const pay = task('pay', (_: number): number => {
      throw new Error('card declined');
    }, { retry: { maxRetries: 0 } });
    const trip = chain('trip', book, pay);
    rig = await start([trip]);
    const run = await rig.runtime.run(trip, 7, { id: 'trip-1' });
    await finish(rig, [run.id]);

    const events = eventsOf('trip-1');
    expect(events.map((e) => [e.exception?.values?.at(-1)?.value, e.tags?.['task'], e.tags?.['compensation'], e.fingerprint])).toEqual([
      ['Task pay has failed 1 times: card declined', 'pay', undefined, ['taskchart', 'trip', 'pay']],
      ['Compensation of task book has failed 1 times: cannot cancel booking', 'book', 'true', ['taskchart', 'trip', 'book', 'compensation']],
    ]);
    expect(events[1]?.extra).toMatchObject({ attempts: 1, step: 'book', input: 7 });
    expect(new Set(events.map((e) => e.event_id)).size).toBe(2);
  });

  it('sends nothing for a run that recovers after retries', async () => {
    let calls = 0;
    const flaky = task(
      'flaky',
      (x: number) => {
        if (++calls < 3) throw new Error('timeout, token=abc');
        return x;
      },
      { retry },
    );
    const c = chain('recovers', flaky);
    rig = await start([c]);
    const before = receiver.envelopes;
    const run = await rig.runtime.run(c, 1, { id: 'recovers-1' });
    await finish(rig, [run.id]);
    expect(await rig.runtime.getRun(run.id)).toMatchObject({ status: 'completed' });
    expect(calls).toBe(3);
    expect(eventsOf('recovers-1')).toEqual([]);
    expect(receiver.envelopes).toBe(before);
  });

  it('runs each attempt in its own isolation scope: two runs in parallel never share tags', async () => {
    let arrived = 0;
    let release!: () => void;
    const bothIn = new Promise<void>((resolve) => (release = resolve));
    const probe = task('probe', async (x: { who: string }) => {
      Sentry.setTag('who', x.who);
      if (++arrived === 2) release();
      await bothIn;
      Sentry.captureMessage(`probe ${x.who}`);
      return x;
    });
    const c = chain('probes', probe);
    rig = await start([c]);
    const runs = await Promise.all([rig.runtime.run(c, { who: 'ann' }, { id: 'probe-ann' }), rig.runtime.run(c, { who: 'bob' }, { id: 'probe-bob' })]);
    await finish(rig, runs.map((r) => r.id));
    const messages = receiver.events.filter((e) => e.message?.startsWith('probe '));
    expect(messages.map((e) => [e.message, e.tags?.['who'], e.tags?.['run_id'], e.tags?.['chain'], e.tags?.['task'], e.tags?.['queue'], e.tags?.['attempt']]).sort()).toEqual([
      ['probe ann', 'ann', 'probe-ann', 'probes', 'probe', 'taskchart', '1'],
      ['probe bob', 'bob', 'probe-bob', 'probes', 'probe', 'taskchart', '1'],
    ]);
  });

  it('gives a report delivered twice (by two processes) the same event id, so Sentry keeps one', async () => {
    const report: FailureReport = {
      runId: 'dup-1',
      chain: 'dup',
      task: 'send',
      step: 'send',
      input: { to: 'x' },
      attempts: 4,
      error: { name: 'Error', message: 'smtp down', retryable: true },
      compensation: false,
    };
    const other: FailureReport = { ...report, runId: 'dup-2' };
    // Two plugin instances stand for the process that crashed after sending and the one that took over.
    await sentryPlugin().onFailure?.(report);
    // The hook returns once the event is sent (flushTimeout): the report may leave the outbox.
    expect(eventsOf('dup-1')).toHaveLength(1);
    await sentryPlugin().onFailure?.(other);
    await sentryPlugin().onFailure?.(JSON.parse(JSON.stringify(report)) as FailureReport);
    await sentryPlugin().onFailure?.({ ...report, compensation: true });
    await sentryPlugin().onFailure?.({ ...report, parked: true });
    expect(await Sentry.flush(5000)).toBe(true);
    const events = eventsOf('dup-1');
    expect(events).toHaveLength(4);
    expect(events[0]?.event_id).toBe(events[1]?.event_id);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(3);
    expect(events[3]?.exception?.values?.at(-1)?.value).toBe('Run of chain dup parked at task send: smtp down');
    expect(events[3]?.tags).toMatchObject({ parked: 'true' });
    expect(events[3]?.fingerprint).toEqual(['taskchart', 'dup', 'send', 'parked']);
  });
});
