/**
 * A run whose stored state the loaded definition cannot continue (a deploy renamed or removed its
 * step without bumping the chain's version: see versions.test.ts for versioned deploys) is parked, never looped: status `parked`, snapshot untouched, its messages dead-lettered
 * once each with a reason naming run, chain and state, `onFailure` told, `result()` rejecting.
 */
import { chain, createRuntime, MessageRefusedError, RunParkedError, task, type AnyChain, type Broker, type FailureReport } from '@taskchart/core';
import { DEAD_LETTER_REASON_HEADER, deadLetterQueueName } from '@taskchart/core/adapter';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { memoryBroker, type MemoryBroker } from '@taskchart/broker-memory';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { scratch } from './scratch.js';

const { database, runtimes } = scratch('parked');

/** One process life: a runtime on `db` and a fresh memory broker, counting deliveries and publishes. */
async function life(db: string, clock: ManualClock, chains: AnyChain[], wrap: (b: MemoryBroker) => Broker = (b) => b) {
  const broker = memoryBroker({ clock });
  const reports: FailureReport[] = [];
  let deliveries = 0;
  let publishes = 0;
  const inner = wrap(broker);
  const counting: Broker = {
    name: inner.name,
    capabilities: inner.capabilities,
    publish: (queue, body, options) => {
      publishes++;
      return inner.publish(queue, body, options);
    },
    consume: (queue, handler, options) =>
      inner.consume(
        queue,
        (d) => {
          deliveries++;
          return handler(d);
        },
        options,
      ),
    close: () => inner.close(),
  };
  const runtime = createRuntime({ broker: counting, store: sqliteStore(db), chains, clock, logger: silentLogger, onFailure: (r) => void reports.push(r) });
  runtimes.push(runtime);
  await runtime.start();
  const deadLetters = async () => {
    const reasons: string[] = [];
    const consumer = await broker.consume(deadLetterQueueName('taskchart'), async (d) => {
      reasons.push(d.headers[DEAD_LETTER_REASON_HEADER] ?? '(none)');
      await d.ack();
    });
    await settle(10);
    await consumer.cancel();
    return reasons;
  };
  return { runtime, broker, reports, deadLetters, deliveries: () => deliveries, publishes: () => publishes };
}

/** The stored record of run `id` (through a store of its own, closed again). */
async function stored(db: string, id: string) {
  const store = sqliteStore(db);
  try {
    return await store.load(id);
  } finally {
    await store.close();
  }
}

/** Fires timers until `done()`, at most `max` of them (a run that loops never gets there). */
async function driveUntil(clock: ManualClock, done: () => Promise<boolean>, max = 100): Promise<void> {
  for (let i = 0; i < max; i++) {
    await settle(10);
    if (await done()) return;
    if (!(await clock.runNext())) break;
  }
  await settle(10);
  if (!(await done())) throw new Error(`condition still false after ${max} timers`);
}

/** Fires every timer left, at most `max`, letting the runtime do whatever it still wants to. */
async function runOut(clock: ManualClock, max = 50): Promise<void> {
  for (let i = 0; i < max && (await clock.runNext()); i++) await settle(10);
  await settle(10);
}

const a = task('a', (x: number) => x + 1);
const c = task('c', (x: number) => x * 10);

describe('a run whose stored state the loaded definition cannot continue', () => {
  it('is parked (not looped) when a deploy removed the step it waits out a backoff at', async () => {
    const db = database();
    const clock = new ManualClock();
    let bCalls = 0;
    const b = task(
      'b',
      (x: number) => {
        if (++bCalls === 1) throw new Error('flaky');
        return x;
      },
      { retry: { maxRetries: 3, backoff: { initial: '1m', jitter: 'none' } } },
    );
    // Deployment 1: a → b → c. The run waits out b's one-minute backoff when the process stops.
    const deploy1 = chain('deploy', a, b, c);
    const first = await life(db, clock, [deploy1]);
    await first.runtime.run(deploy1, 1, { id: 'r2' });
    await driveUntil(clock, async () => (await first.runtime.getRun('r2'))?.status === 'retrying');
    await first.runtime.close();
    const before = await stored(db, 'r2');

    // Deployment 2 has no step b.
    const deploy2 = chain('deploy', a, c);
    const second = await life(db, clock, [deploy2]);
    await driveUntil(clock, async () => (await second.runtime.getRun('r2'))?.status === 'parked');
    await runOut(clock);

    const info = await second.runtime.getRun('r2');
    const reason =
      'run "r2" (chain "deploy") is parked: the definition changed without a version bump: the run started on version 1 with steps of fingerprint fdb1eb4eee2362ba, the loaded version 1 has fingerprint c04b38a7762bcd6f; ' +
      'give the new definition a higher version (and keep the old one loaded, or a migrate function) (stored state {"b":"retrying"}; steps of the loaded definition: a, c)';
    expect(info).toMatchObject({ status: 'parked', step: 'b', error: { name: 'RunParkedError', message: reason, retryable: false } });
    expect(info?.history.at(-1)).toMatchObject({ type: 'run.parked', step: 'b', error: { name: 'RunParkedError' } });
    // Its timer was delivered once and dead-lettered once with the reason: no loop.
    expect(second.deliveries()).toBe(1);
    expect(await second.deadLetters()).toEqual([reason]);
    expect(second.reports).toHaveLength(1);
    expect(second.reports[0]).toMatchObject({ runId: 'r2', chain: 'deploy', step: 'b', task: 'b', parked: true, compensation: false, input: 1, error: { name: 'RunParkedError', message: reason } });
    const error = await second.runtime.result('r2').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunParkedError);
    expect(error).toMatchObject({ name: 'RunParkedError', runId: 'r2', chain: 'deploy', message: reason });
    await second.runtime.close();
    // The snapshot is kept as it was, for a later re-drive.
    const after = await stored(db, 'r2');
    expect(after?.snapshot).toEqual(before?.snapshot);
    expect(after?.waiting).toEqual(before?.waiting);

    // A starting runtime does not re-dispatch a parked run; a late message for it is dead-lettered with the same reason.
    const third = await life(db, clock, [deploy2]);
    expect(third.publishes()).toBe(0);
    await third.broker.publish('taskchart', JSON.stringify({ v: 1, kind: 'task', runId: 'r2', chain: 'deploy', step: 'c', task: 'c', attempt: 1, compensation: false, input: 2 }));
    await runOut(clock);
    expect(await third.deadLetters()).toEqual([reason]);
    expect(third.reports).toEqual([]);
    expect((await third.runtime.getRun('r2'))?.status).toBe('parked');
  });

  it('is parked when its stored state cannot be restored at all (a run stored before versioned chains: Child state \'b\' does not exist)', async () => {
    const db = database();
    const clock = new ManualClock();
    const b = task('b', (): number => {
      throw new Error('flaky');
    }, { retry: { maxRetries: 3, backoff: { initial: '1m', jitter: 'none' } } });
    const deploy1 = chain('legacy', a, b, c);
    const first = await life(db, clock, [deploy1]);
    await first.runtime.run(deploy1, 1, { id: 'r5' });
    await driveUntil(clock, async () => (await first.runtime.getRun('r5'))?.status === 'retrying');
    await first.runtime.close();
    // As a run stored before versioned chains: no definition (version, fingerprint) with its snapshot,
    // so the loaded version 1 is taken as its own and restoring {"b":"retrying"} throws.
    const raw = new Database(db);
    const row = raw.prepare('SELECT snapshot FROM taskchart_runs WHERE id = ?').get('r5') as { snapshot: string };
    const legacy = JSON.parse(row.snapshot) as Record<string, unknown>;
    expect(legacy['definition']).toBeDefined();
    delete legacy['definition'];
    raw.prepare('UPDATE taskchart_runs SET snapshot = ? WHERE id = ?').run(JSON.stringify(legacy), 'r5');
    raw.close();

    const second = await life(db, clock, [chain('legacy', a, c)]);
    await driveUntil(clock, async () => (await second.runtime.getRun('r5'))?.status === 'parked');
    await runOut(clock);
    const info = await second.runtime.getRun('r5');
    expect(info).toMatchObject({ status: 'parked', step: 'b', error: { name: 'RunParkedError', retryable: false } });
    const reason = info?.error?.message ?? '';
    expect(reason).toMatch(/^run "r5" \(chain "legacy"\) is parked: the loaded definition cannot restore its stored state: .*Child state 'b' does not exist.* \(stored state \{"b":"retrying"\}; steps of the loaded definition: a, c\)$/);
    // Its timer delivered once, dead-lettered once with the reason, reported once: no loop.
    expect(second.deliveries()).toBe(1);
    expect(await second.deadLetters()).toEqual([reason]);
    expect(second.reports).toMatchObject([{ runId: 'r5', chain: 'legacy', step: 'b', parked: true, error: { name: 'RunParkedError', message: reason } }]);
    await expect(second.runtime.result('r5')).rejects.toBeInstanceOf(RunParkedError);
  });

  it('is parked when the step it is running was renamed: its task message is dead-lettered with the reason', async () => {
    const db = database();
    const clock = new ManualClock();
    // A producer of deployment 1 records the run at step a; no worker ran it yet.
    const deploy1 = chain('rename', a, c);
    const producer = createRuntime({ broker: memoryBroker({ clock }), store: sqliteStore(db), chains: [deploy1], queues: [], clock, logger: silentLogger });
    runtimes.push(producer);
    await producer.start();
    await producer.run(deploy1, 1, { id: 'r3' });
    await producer.close();
    // Deployment 2 renamed a to a2: the re-dispatched message for step a has no step to run.
    const deploy2 = chain('rename', task('a2', (x: number) => x + 2), c);
    const worker = await life(db, clock, [deploy2]);
    await driveUntil(clock, async () => (await worker.runtime.getRun('r3'))?.status === 'parked');
    await runOut(clock);
    const reasons = await worker.deadLetters();
    expect(reasons).toEqual([
      'run "r3" (chain "rename") is parked: the definition changed without a version bump: the run started on version 1 with steps of fingerprint c04b38a7762bcd6f, the loaded version 1 has fingerprint 0dae84a140773bc7; ' +
        'give the new definition a higher version (and keep the old one loaded, or a migrate function) (stored state {"a":"running"}; steps of the loaded definition: a2, c)',
    ]);
    expect(worker.deliveries()).toBe(1);
    expect(worker.reports).toMatchObject([{ runId: 'r3', step: 'a', task: 'a', parked: true }]);
    await expect(worker.runtime.result('r3')).rejects.toBeInstanceOf(RunParkedError);
  });

  it('settles a waiting result() with RunParkedError when the broker refuses the run\'s timer for good', async () => {
    const db = database();
    const clock = new ManualClock();
    const flaky = task('flaky', (): number => {
      throw new Error('down');
    }, { retry: { maxRetries: 1, backoff: { initial: '1s', jitter: 'none' } } });
    const timers = chain('timers', flaky);
    const refuseTimers = (broker: MemoryBroker): Broker => ({
      name: broker.name,
      capabilities: broker.capabilities,
      publish: async (queue, body, options) => {
        if ((JSON.parse(body) as { kind: string }).kind === 'timer') throw new MessageRefusedError('memory', queue, 'id over the limit');
        return broker.publish(queue, body, options);
      },
      consume: (queue, handler, options) => broker.consume(queue, handler, options),
      close: () => broker.close(),
    });
    const w = await life(db, clock, [timers], refuseTimers);
    const run = await w.runtime.run(timers, null, { id: 'r4' });
    const result = run.result().catch((e: unknown) => e);
    await driveUntil(clock, async () => (await w.runtime.getRun('r4'))?.status === 'parked');
    const error = await result;
    expect(error).toBeInstanceOf(RunParkedError);
    expect((error as Error).message).toBe(
      'run "r4" (chain "timers") is parked: the broker refused its timer message (xstate.after.retryDelay.timers.flaky.retrying) for good: memory refused a message for queue "taskchart" for good: id over the limit (stored state {"flaky":"retrying"}; steps of the loaded definition: flaky)',
    );
    expect(w.reports.map((r) => r.parked ?? false)).toEqual([true]);
  });
});
