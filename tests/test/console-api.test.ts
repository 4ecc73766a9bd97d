/**
 * What the console (CLI, dashboard) reads and records through the client: each chain version's
 * machine recorded in the store (so a run can be drawn without the chain's code), where a run's
 * machine stands (`RunInfo.state`), and who cancelled or re-drove a run (`by`). On a manual clock.
 */
import { hostname } from 'node:os';
import { chain, createClient, InvalidOptionError, machineConfig, task, type TaskContext } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

function fixture() {
  const release: Array<() => void> = [];
  let failing = true;
  const reserve = task('reserve', (x: { id: string }) => ({ ...x, reserved: true }), { compensate: () => undefined });
  const charge = task(
    'charge',
    (x: { id: string }, ctx: TaskContext) =>
      new Promise<string>((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
        release.push(() => (failing ? reject(new Error('card declined')) : resolve(`charged ${x.id}`)));
      }),
    { retry: { maxRetries: 0 } },
  );
  const order = chain('order', reserve, charge);
  const orderV2 = chain('order', reserve, charge, task('ship', (s: string) => s), { version: 2 });
  return { order, orderV2, release, fix: () => (failing = false) };
}

describe('chain definitions in the store', () => {
  it('are recorded once per version when a runtime starts, with the machine and steps, and read back without the chain code', async () => {
    const { order, orderV2 } = fixture();
    h = await harness([order, orderV2]);
    const all = await h.runtime.chainDefinitions();
    expect(all.map((d) => [d.chain, d.version])).toEqual([
      ['order', 2],
      ['order', 1],
    ]);
    const v1 = await h.runtime.chainDefinition('order', 1);
    expect(v1).toMatchObject({ chain: 'order', version: 1, fingerprint: order.fingerprint, recordedAt: h.clock.now() });
    expect(v1?.machine).toEqual(machineConfig(order));
    expect(v1?.steps).toEqual([
      { key: 'reserve', task: 'reserve', queue: 'taskchart', compensates: true },
      { key: 'charge', task: 'charge', queue: 'taskchart', compensates: false },
    ]);
    expect(JSON.parse(JSON.stringify(v1?.machine))).toEqual(v1?.machine);
    expect(await h.runtime.chainDefinition('order', 3)).toBeUndefined();
    expect(await h.runtime.chainDefinitions({ chain: 'other' })).toEqual([]);
    await expect(h.runtime.chainDefinitions({ chian: 'order' } as never)).rejects.toThrow(/chian: unknown option; did you mean "chain"\?/);

    // A client opening the same file later (another process would do the same) reads the same records, unchanged by a later start.
    const recordedAt = v1?.recordedAt;
    await h.runtime.close();
    const client = createClient({ broker: memoryBroker(), store: sqliteStore(`${h.dbPath}`), chains: [order] });
    try {
      await client.run(order, { id: 'x' }, { id: 'x' });
      expect((await client.chainDefinition('order', 1))?.recordedAt).toBe(recordedAt);
      expect((await client.chainDefinitions()).length).toBe(2);
    } finally {
      await client.close();
    }
  });
});

describe('run state and who acted', () => {
  it('reports the machine state of a run as it moves, and records who cancelled and who re-drove it', async () => {
    const { order, release, fix } = fixture();
    h = await harness([order]);
    const runtime = h.runtime;
    const run = await runtime.run(order, { id: 'o-1' }, { id: 'o-1' });
    await h.drive(() => release.length === 1);
    expect((await runtime.getRun(run.id))?.state).toEqual({ charge: 'running' });
    release[0]?.();
    await h.drive(async () => (await runtime.getRun(run.id))?.status === 'compensated');
    expect((await runtime.getRun(run.id))?.state).toBe('compensated');
    // Each attempt's outcome names the worker that ran it (this process).
    const outcomes = (await runtime.getRun(run.id))?.history.filter((e) => /^(step|compensation)\.(completed|failed)$/.test(e.type));
    expect(outcomes?.map((e) => [e.type, e.worker])).toEqual([
      ['step.completed', `${hostname()}:${process.pid}`],
      ['step.failed', `${hostname()}:${process.pid}`],
      ['compensation.completed', `${hostname()}:${process.pid}`],
    ]);

    fix();
    const redriven = await runtime.retry(run.id, { from: 'start', by: 'dashboard:ana' });
    expect(redriven.history.filter((e) => e.type === 'run.redriven')).toEqual([expect.objectContaining({ by: 'dashboard:ana' })]);
    await h.drive(() => release.length === 2);
    const cancelled = await runtime.cancel(run.id, { reason: 'customer left', by: 'cli:ops@host' });
    expect(cancelled.cancelled).toBe(true);
    await h.drive(async () => (await runtime.getRun(run.id))?.status === 'cancelled');
    const info = await runtime.getRun(run.id);
    expect(info?.state).toBe('cancelled');
    expect(info?.history.filter((e) => e.by !== undefined).map((e) => [e.type, e.by])).toEqual([
      ['run.redriven', 'dashboard:ana'],
      ['run.cancelling', 'cli:ops@host'],
    ]);

    const events = [];
    for await (const e of runtime.events({ runId: run.id })) {
      events.push(e);
      if (e.type === 'run.cancelled') break;
    }
    expect(events.filter((e) => 'by' in e).map((e) => e.type)).toEqual(['run.redriven', 'run.cancelling']);
  });

  it('refuses a `by` that is empty, not a string or over 200 characters, naming the option', async () => {
    const { order } = fixture();
    h = await harness([order]);
    await h.runtime.run(order, { id: 'o-2' }, { id: 'o-2' });
    await expect(h.runtime.cancel('o-2', { by: '' })).rejects.toThrow(InvalidOptionError);
    await expect(h.runtime.cancel('o-2', { by: 'x'.repeat(201) })).rejects.toThrow('runtime.cancel(): by: must be a non-empty string of at most 200 characters');
    await expect(h.runtime.retry('o-2', { by: 7 } as never)).rejects.toThrow('runtime.retry(): by: must be a non-empty string of at most 200 characters');
  });
});

describe('events() with a signal', () => {
  it('ends a feed waiting for new events as soon as its signal aborts, and refuses a signal that is not an AbortSignal', async () => {
    const { order, release } = fixture();
    h = await harness([order]);
    await h.runtime.run(order, { id: 'quiet' }, { id: 'quiet' });
    const abort = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of h.runtime.events({ runId: 'quiet', signal: abort.signal })) seen.push(e.type);
    })();
    await h.drive(() => seen.includes('step.started') && seen.filter((t) => t === 'step.started').length === 2);
    // The feed now waits in its poll pause (the run waits on its charge step): abort ends it without a new event.
    abort.abort();
    await reading;
    expect(seen).toEqual(['run.started', 'step.started', 'step.completed', 'step.started']);
    expect(() => h?.runtime.events({ signal: 'stop' as never })).toThrow('events(): signal: must be an AbortSignal');
    release[0]?.(); // the charge attempt ends, so the runtime can close
  });
});

describe("events({ from: 'now' })", () => {
  it("gives only what is committed after it starts, and refuses `from` with `after` or an unknown value", async () => {
    const done = chain('done', task('one', (x: number) => x + 1));
    h = await harness([done]);
    const early = await h.runtime.run(done, 1, { id: 'early' });
    await early.result();
    const seen: string[] = [];
    const abort = new AbortController();
    const reading = (async () => {
      for await (const e of h.runtime.events({ from: 'now', signal: abort.signal })) {
        seen.push(`${e.runId} ${e.type}`);
        if (e.type === 'run.completed') abort.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 50)); // the feed has taken its starting cursor
    await (await h.runtime.run(done, 2, { id: 'late' })).result();
    await reading;
    expect(seen).toEqual(['late run.started', 'late step.started', 'late step.completed', 'late run.completed']);
    expect(() => h?.runtime.events({ from: 'now', after: 'x' })).toThrow('events(): from: give `after` or `from`, not both');
    expect(() => h?.runtime.events({ from: 'later' as never })).toThrow(`events(): from: must be 'beginning' or 'now', got "later"`);
  });
});
