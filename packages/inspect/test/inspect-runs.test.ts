import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebSocketInspector } from '@statelyai/inspect';
import { chain, createRuntime, task, type Duration, type Runtime } from '@taskchart/core';
import type { Store } from '@taskchart/core/adapter';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { inspectRuns, runSessionId, type RunInspection } from '../src/index.js';
import { startInspectorReceiver, type InspectorReceiver, type WireInspectionEvent } from './ws-receiver.js';

let receiver: InspectorReceiver;
let dir: string;
const cleanup: (() => Promise<void> | void)[] = [];
beforeEach(async () => {
  receiver = await startInspectorReceiver();
  dir = mkdtempSync(join(tmpdir(), 'taskchart-inspect-'));
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A trip: book (undone by its compensation), then pay, which fails on every attempt (one retry). */
function tripChain(paid: { calls: number }, backoff: { initial: Duration; jitter: 'none' | 'full' } = { initial: '300ms', jitter: 'none' }) {
  const book = task('book', (x: { seats: number }) => ({ ...x, booking: 'B-1' }), { compensate: () => undefined });
  const pay = task(
    'pay',
    (_x: { seats: number; booking: string }): { paid: boolean } => {
      paid.calls++;
      throw new Error(`card declined (attempt ${paid.calls})`);
    },
    { retry: { maxRetries: 1, backoff } },
  );
  return chain('trip', book, pay);
}

function inspector(): ReturnType<typeof createWebSocketInspector> {
  const i = createWebSocketInspector({ url: receiver.url });
  cleanup.push(() => i.stop());
  return i;
}

/** The run actor's part of what the receiver got: registration, events received, snapshot values. */
function runTrace(runId: string): unknown[] {
  return receiver.received
    .filter((e) => e.sessionId === runSessionId(runId))
    .map((e) => (e.type === '@xstate.actor' ? ['actor', e.name] : e.type === '@xstate.event' ? ['event', e.event?.type] : ['snapshot', e.snapshot?.status, e.snapshot?.value]));
}

/** The run's actor, named by its run id (as a live `createActor(machine, { id })`), with its chain's machine as definition. */
const expectedRun = (runId: string) => [
  ['actor', runId],
  ['event', 'xstate.init'],
  ['snapshot', 'active', { book: 'running' }],
  ['event', 'xstate.done.actor.book'],
  ['snapshot', 'active', { pay: 'running' }],
  ['event', 'xstate.error.actor.pay'],
  ['snapshot', 'active', { pay: 'retrying' }],
  ['event', 'xstate.after.retryDelay.trip.pay.retrying'],
  ['snapshot', 'active', { pay: 'running' }],
  ['event', 'xstate.error.actor.pay'],
  ['snapshot', 'active', { compensating: { book: 'running' } }],
  ['event', 'xstate.done.actor.compensate-book'],
  ['snapshot', 'done', 'compensated'],
];

const snapshotsOf = (runId: string) => receiver.received.filter((e) => e.sessionId === runSessionId(runId) && e.type === '@xstate.snapshot');
const ended = (runId: string) => snapshotsOf(runId).some((e) => e.snapshot?.status === 'done');

/** The task attempts' promise actors: [invoke id, parent, what they settled with]. */
function childTrace(runId: string): unknown[] {
  const children = receiver.received.filter((e) => e.type === '@xstate.actor' && e.parentId === runSessionId(runId));
  return children.map((c) => {
    const last = receiver.received.filter((e) => e.sessionId === c.sessionId && e.type === '@xstate.snapshot').at(-1);
    return [c.name, last?.snapshot?.status];
  });
}

function expectDefinition(events: WireInspectionEvent[], runId: string): void {
  const actor = events.find((e) => e.type === '@xstate.actor' && e.sessionId === runSessionId(runId));
  type Node = { id?: string; initial?: string; invoke?: { src?: string }; after?: Record<string, unknown>; states?: Record<string, Node> };
  const definition = JSON.parse(actor?.definition ?? '{}') as Node;
  expect(definition.id).toBe('trip');
  expect(definition.initial).toBe('book');
  // The inspector's stringify sorts keys.
  expect(Object.keys(definition.states ?? {})).toEqual(['book', 'cancelled', 'compensated', 'compensating', 'completed', 'failed', 'pay']);
  expect(definition.states?.['pay']?.states?.['running']?.invoke?.src).toBe('pay');
  expect(Object.keys(definition.states?.['pay']?.states?.['retrying']?.after ?? {})).toEqual(['retryDelay']);
  expect(definition.states?.['compensating']?.states?.['book']?.states?.['running']?.invoke?.src).toBe('compensate-book');
}

describe('inspectRuns to a WebSocket inspector', () => {
  it('draws a live run (a retry, then a compensation) as one actor: definition, events, snapshots in order', { timeout: 60_000 }, async () => {
    const paid = { calls: 0 };
    const trip = tripChain(paid);
    const store = sqliteStore(join(dir, 'runs.db'));
    const runtime = createRuntime({ broker: memoryBroker(), store, chains: [trip], logger: silentLogger });
    cleanup.push(() => runtime.close());
    await runtime.start();
    // Live: the reader follows the log before the run exists.
    const inspection: RunInspection = inspectRuns({ store, chains: [trip], inspector: inspector(), chain: 'trip', poll: '20ms', logger: silentLogger });
    cleanup.push(() => inspection.stop());

    const run = await runtime.run(trip, { seats: 2 }, { id: 'trip-1' });
    await expect(run.result()).rejects.toThrow();
    await waitFor(() => ended('trip-1'), 20_000, 'the run actor to reach its final snapshot');

    expect(runTrace('trip-1')).toEqual(expectedRun('trip-1'));
    expectDefinition(receiver.received, 'trip-1');
    const snapshots = snapshotsOf('trip-1');
    // The snapshots carry the machine's context: outputs, attempts, the retry delay, the failure.
    expect(snapshots[0]?.snapshot?.context).toEqual({ input: { seats: 2 }, outputs: {}, attempt: 1, retryDelayMs: 0, failure: null, compensationFailure: null });
    expect(snapshots[1]?.snapshot?.context).toMatchObject({ outputs: { book: { seats: 2, booking: 'B-1' } }, attempt: 1 });
    expect(snapshots[2]?.snapshot?.context).toMatchObject({ attempt: 2, retryDelayMs: 300 });
    expect(snapshots[4]?.snapshot?.context).toMatchObject({ failure: { step: 'pay', attempts: 2, error: { message: 'card declined (attempt 2)' } } });
    expect(snapshots[5]?.snapshot).toMatchObject({ status: 'done', value: 'compensated', tags: [] });
    // Results arrive from the task attempts' actors, each registered as a child of the run.
    const done = receiver.received.find((e) => e.type === '@xstate.event' && e.event?.type === 'xstate.done.actor.book');
    expect(done?.event).toMatchObject({ output: { seats: 2, booking: 'B-1' } });
    expect(done?.sourceId).toMatch(/^taskchart:trip-1:book:/);
    expect(childTrace('trip-1')).toEqual([
      ['book', 'done'],
      ['pay', 'error'],
      ['pay', 'error'],
      ['compensate-book', 'done'],
    ]);
    expect(paid.calls).toBe(2);
  });

  it('replays a finished run that hopped between two workers (one stopped mid-retry) as one actor walking its states', { timeout: 60_000 }, async () => {
    const paid = { calls: 0 };
    // A long enough retry delay for worker A to stop before it fires, even on a loaded machine.
    const trip = tripChain(paid, { initial: '2s', jitter: 'none' });
    const db = join(dir, 'runs.db');
    // Worker A: books, pays once (fails), and stops while the retry waits.
    const a: Runtime = createRuntime({ broker: memoryBroker(), store: sqliteStore(db), chains: [trip], logger: silentLogger });
    await a.start();
    await a.run(trip, { seats: 3 }, { id: 'trip-2' });
    await waitFor(() => paid.calls === 1, 20_000, 'the first payment attempt');
    await a.close();
    expect(paid.calls).toBe(1);
    // Worker B, a new runtime on the same file: resumes the pending retry and finishes the run.
    const b: Runtime = createRuntime({ broker: memoryBroker(), store: sqliteStore(db), chains: [trip], logger: silentLogger });
    await b.start();
    await waitFor(() => paid.calls === 2, 20_000, 'the retried payment on the second worker');
    let status: string | undefined;
    await waitFor(() => {
      void b.getRun('trip-2').then((info) => (status = info?.status));
      return status === 'compensated';
    }, 20_000, 'the run to be compensated');
    await b.close();

    // Later, another reader replays the finished run from the store alone.
    const store = sqliteStore(db);
    cleanup.push(() => store.close());
    const inspection = inspectRuns({ store, chains: [trip], inspector: inspector(), runId: 'trip-2', follow: false, logger: silentLogger });
    await inspection.done;
    await waitFor(() => ended('trip-2'), 20_000, 'the replayed run to reach the receiver');
    expect(runTrace('trip-2')).toEqual(expectedRun('trip-2'));
    expectDefinition(receiver.received, 'trip-2');
    expect(childTrace('trip-2')).toEqual([
      ['book', 'done'],
      ['pay', 'error'],
      ['pay', 'error'],
      ['compensate-book', 'done'],
    ]);
  });

  it('hands a custom observer the same events, with the retry delay the runtime drew (full jitter)', { timeout: 60_000 }, async () => {
    const paid = { calls: 0 };
    const trip = tripChain(paid, { initial: '200ms', jitter: 'full' });
    const store = sqliteStore(join(dir, 'runs.db'));
    // The runtime draws its jitter from this source: 0.5 of a 200 ms cap.
    const runtime = createRuntime({ broker: memoryBroker(), store, chains: [trip], logger: silentLogger, random: () => 0.5 });
    cleanup.push(() => runtime.close());
    await runtime.start();
    const run = await runtime.run(trip, { seats: 1 }, { id: 'trip-3' });
    await expect(run.result()).rejects.toThrow();

    const seen: InspectionEvent[] = [];
    await inspectRuns({ store, chains: [trip], inspector: (e) => seen.push(e), follow: false, logger: silentLogger }).done;
    const retrying = seen.find((e) => e.type === '@xstate.snapshot' && JSON.stringify(e.snapshot) .includes('"retrying"'));
    expect(retrying?.type === '@xstate.snapshot' ? (retrying.snapshot as { context?: unknown }).context : undefined).toMatchObject({ attempt: 2, retryDelayMs: 100 });
    expect(seen.every((e) => e.rootId === runSessionId('trip-3'))).toBe(true);
    expect(seen.filter((e) => e.actorRef.sessionId === runSessionId('trip-3')).map((e) => e.type)).toEqual([
      '@xstate.actor',
      ...Array.from({ length: 6 }, () => ['@xstate.event', '@xstate.snapshot']).flat(),
    ]);
    // The run actor's stand-in answers its last snapshot, as a live actor's getSnapshot().
    expect(seen[0]?.actorRef.getSnapshot()).toMatchObject({ status: 'done', value: 'compensated' });

    // Read two log entries at a time (a failure and its retry then straddle pages): the same events.
    const paged: InspectionEvent[] = [];
    const smallPages = new Proxy(store, {
      get: (target, key) => (key === 'events' ? (q: Parameters<Store['events']>[0]) => target.events({ ...q, limit: 2 }) : (Reflect.get(target, key) as unknown)),
    });
    await inspectRuns({ store: smallPages, chains: [trip], inspector: { next: (e) => paged.push(e) }, follow: false, logger: silentLogger }).done;
    const shape = (events: InspectionEvent[]) => events.map((e) => [e.type, e.actorRef.sessionId, 'event' in e ? e.event.type : '', 'snapshot' in e ? JSON.stringify(e.snapshot) : '']);
    expect(shape(paged)).toEqual(shape(seen));
  });
});
