/**
 * A worker SIGKILLed inside the Sentry plugin's `onFailure` (issue 10, part 1): the report stays
 * in the store's outbox until a hook has returned, so a new worker delivers it again; the
 * event id is derived from the run, the step and the kind, so the redelivered report is the same
 * Sentry event (Sentry keeps one event per id). Real processes, the real SDK, a real SQLite file.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { query, spawnFixture, until, type Spawned } from '../../../tests/test/processes.js';
import { startSentryReceiver, type SentryReceiver } from './sentry-receiver.js';

const WORKER = fileURLToPath(new URL('./fixtures/sentry-worker.ts', import.meta.url));
const children: ChildProcess[] = [];
let receiver: SentryReceiver;
let dir: string;

beforeEach(async () => {
  receiver = await startSentryReceiver();
  dir = mkdtempSync(join(tmpdir(), 'taskchart-sentry-crash-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const worker = (db: string, mode: 'start' | 'resume', hang?: 'hang-after-send'): Spawned =>
  spawnFixture(WORKER, [db, receiver.dsn, mode, ...(hang ? [hang] : [])], children);
const hookEntries = (db: string) => query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM taskchart_outbox WHERE queue IS NULL')[0]?.n;

/** A new worker takes the report over; resolves once it left the outbox, then stops that worker. */
async function takeOver(db: string): Promise<void> {
  const second = worker(db, 'resume');
  await until(() => second.output().includes('ready'), 30_000, 'the second worker to start');
  await until(() => hookEntries(db) === 0, 30_000, 'the second worker to deliver the report');
  second.child.kill('SIGTERM');
  const exit = await second.exited;
  expect(exit.code, exit.err).toBe(0);
}

function expectOneFailureEvent(): void {
  const ids = new Set(receiver.events.map((e) => e.event_id));
  expect(ids.size).toBe(1);
  const event = receiver.events[0];
  expect(event?.exception?.values?.at(-1)?.value).toBe('Task charge has failed 1 times: card declined');
  expect(event?.tags).toEqual({ chain: 'payment', task: 'charge', queue: 'payments', run_id: 'pay-1', step: 'charge' });
  expect(event?.fingerprint).toEqual(['taskchart', 'payment', 'charge']);
}

describe('a worker SIGKILLed inside the Sentry onFailure hook', () => {
  it('after the SDK sent the event: the new worker sends it again with the same event id, one Sentry event', { timeout: 90_000 }, async () => {
    const db = join(dir, 'runs.db');
    const first = worker(db, 'start', 'hang-after-send');
    // The Sentry plugin's hook returned (the event was sent and answered); the next plugin hangs.
    await until(() => first.output().includes('hung'), 30_000, 'the first worker to hang after sending');
    expect(receiver.events).toHaveLength(1);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(hookEntries(db)).toBe(1);

    await takeOver(db);
    // Delivered twice (at least once), as one event: the same id, which Sentry deduplicates.
    expect(receiver.events).toHaveLength(2);
    expect(receiver.events[1]?.event_id).toBe(receiver.events[0]?.event_id);
    expectOneFailureEvent();
  });

  it('while the SDK was sending: the envelope dies with the worker, the new worker sends the one event', { timeout: 90_000 }, async () => {
    const db = join(dir, 'runs.db');
    const held = receiver.holdNext();
    const first = worker(db, 'start');
    // The envelope reached the receiver, which has not answered: the hook is still in Sentry.flush.
    await held;
    first.child.kill('SIGKILL');
    await first.exited;
    await until(() => receiver.dropped === 1, 10_000, 'the held envelope to be dropped');
    expect(receiver.events).toHaveLength(0);
    expect(hookEntries(db)).toBe(1);

    await takeOver(db);
    expect(receiver.events).toHaveLength(1);
    expectOneFailureEvent();
  });
});
