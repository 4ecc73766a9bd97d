/**
 * Issue 11, item 3: a delayed start (`delay` / `startAt` on `run()`) is recorded at once as
 * `scheduled` with its due time, starts then (not before), is idempotent by id and survives a
 * restart of a runtime whose broker kept nothing (the memory broker): on a manual clock.
 */
import { chain, createRuntime, InvalidOptionError, task, type RunEvent } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { ManualClock, silentLogger } from '@taskchart/core/testing';
import { sqliteStore } from '@taskchart/store-sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

const ranAt: number[] = [];
let now: () => number = () => h?.clock.now() ?? -1;
const notify = task('notify', (x: { to: string }) => {
  ranAt.push(now());
  return `sent to ${x.to}`;
});
const reminder = chain('reminder', notify);

describe('delayed start', () => {
  it('records the run as scheduled at once, starts it at its time and not before', async () => {
    ranAt.length = 0;
    h = await harness([reminder]);
    const events: RunEvent[] = [];
    h.runtime.on('*', (e) => void events.push(e));
    const t0 = h.clock.now();
    const run = await h.runtime.run(reminder, { to: 'landlord' }, { id: 'remind-1', delay: '2h' });
    const info = await h.runtime.getRun(run.id);
    expect(info).toMatchObject({ status: 'scheduled', step: undefined, totalAttempts: 0 });
    expect(info?.history).toEqual([{ at: t0, type: 'run.scheduled', dueAt: t0 + 7_200_000 }]);
    expect(events.map((e) => e.type)).toEqual(['run.scheduled']);
    expect(await h.runtime.listRuns({ status: ['scheduled'] })).toMatchObject({ runs: [{ id: 'remind-1' }] });

    // Starting it again with its id is the same run (idempotent), still scheduled.
    await h.runtime.run(reminder, { to: 'landlord' }, { id: 'remind-1', delay: '1m' });
    expect((await h.runtime.getRun(run.id))?.status).toBe('scheduled');

    await h.drive(async () => (await h?.runtime.getRun(run.id))?.status === 'completed', 5000);
    expect(ranAt).toEqual([t0 + 7_200_000]);
    expect(await run.result()).toBe('sent to landlord');
    expect(events.map((e) => e.type)).toEqual(['run.scheduled', 'run.started', 'step.started', 'step.completed', 'run.completed']);
  });

  it('startAt: a time in the past starts the run now; a time ahead schedules it', async () => {
    ranAt.length = 0;
    h = await harness([reminder]);
    const now = h.clock.now();
    const past = await h.runtime.run(reminder, { to: 'a' }, { startAt: new Date(now - 1000) });
    expect((await h.runtime.getRun(past.id))?.status).not.toBe('scheduled');
    const ahead = await h.runtime.run(reminder, { to: 'b' }, { startAt: now + 30_000 });
    expect((await h.runtime.getRun(ahead.id))?.status).toBe('scheduled');
    const zero = await h.runtime.run(reminder, { to: 'c' }, { delay: 0 });
    expect((await h.runtime.getRun(zero.id))?.status).not.toBe('scheduled');
    await h.drive(async () => (await h?.runtime.getRun(ahead.id))?.status === 'completed');
    expect(ranAt.at(-1)).toBe(now + 30_000);
  });

  it('rejects what cannot be a start time, naming the option', async () => {
    h = await harness([reminder]);
    const at = h.clock.now();
    await expect(h.runtime.run(reminder, { to: 'x' }, { delay: '1m', startAt: at + 1 })).rejects.toThrow(/run\(\): delay: give delay or startAt, not both/);
    await expect(h.runtime.run(reminder, { to: 'x' }, { delay: '400d' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(h.runtime.run(reminder, { to: 'x' }, { startAt: at + 400 * 86_400_000 })).rejects.toThrow(/startAt: must be at most 365 days ahead/);
    await expect(h.runtime.run(reminder, { to: 'x' }, { startAt: Number.NaN })).rejects.toThrow(/startAt: must be a Date or epoch milliseconds/);
    // @ts-expect-error -- not an option
    await expect(h.runtime.run(reminder, { to: 'x' }, { countdown: '1m' })).rejects.toThrow(/countdown/);
    expect((await h.runtime.listRuns()).runs).toHaveLength(0);
  });

  it('survives a restart on a broker that kept nothing: the new runtime re-arms the start from the store', async () => {
    ranAt.length = 0;
    const clock = new ManualClock();
    now = () => clock.now();
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-scheduled-'));
    const db = join(dir, 'runs.db');
    const store = sqliteStore(db);
    const first = createRuntime({ broker: memoryBroker({ clock }), store, chains: [reminder], clock, logger: silentLogger, outboxSweep: '1d' });
    await first.start();
    const t0 = clock.now();
    const run = await first.run(reminder, { to: 'tenant' }, { delay: '25d' });
    await first.close();
    await store.close();

    const store2 = sqliteStore(db);
    const second = createRuntime({ broker: memoryBroker({ clock }), store: store2, chains: [reminder], clock, logger: silentLogger, outboxSweep: '1d' });
    await second.start();
    try {
      // 25 days is past one timer's reach (2^31 ms) and SQS's 15 minutes: the clock hops there.
      for (let i = 0; i < 200 && (await second.getRun(run.id))?.status !== 'completed'; i++) {
        await new Promise((r) => setTimeout(r, 5));
        await clock.runNext();
      }
      expect((await second.getRun(run.id))?.status).toBe('completed');
      expect(ranAt).toEqual([t0 + 25 * 86_400_000]);
    } finally {
      await second.close();
      await store2.close();
      rmSync(dir, { recursive: true, force: true });
      now = () => h?.clock.now() ?? -1;
    }
  });
});
