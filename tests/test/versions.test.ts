/**
 * Versioned chains (issue 11, item 5): a deploy that renames, removes or reorders the step a run
 * waits at never strands it. Each run keeps the version it started on; a runtime holding that
 * version continues it, one holding a newer version with `migrate` functions migrates it, one
 * holding neither gives its messages back with a growing delay and parks it after the grace.
 * A forgotten version bump is told by the steps' fingerprint. Manual clock, memory broker,
 * SQLite files; each "deploy" is a new runtime on the same database.
 */
import { chain, createRuntime, RunParkedError, task, type AnyChain, type Broker, type ChainSnapshot, type Duration, type FailureReport, type Runtime } from '@taskchart/core';
import { DEAD_LETTER_REASON_HEADER, deadLetterQueueName } from '@taskchart/core/adapter';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { describe, expect, it } from 'vitest';
import { scratch } from './scratch.js';

const { database, runtimes } = scratch('versions');

/** One deployment's process: a runtime holding `chains` on `db`, a fresh memory broker, counting deliveries. */
async function deploy(db: string, clock: ManualClock, chains: AnyChain[], options: { unknownVersionGrace?: Duration; queues?: string[] } = {}) {
  const broker = memoryBroker({ clock });
  const reports: FailureReport[] = [];
  let deliveries = 0;
  const counting: Broker = {
    name: broker.name,
    capabilities: broker.capabilities,
    publish: (queue, body, o) => broker.publish(queue, body, o),
    consume: (queue, handler, o) =>
      broker.consume(
        queue,
        (d) => {
          deliveries++;
          return handler(d);
        },
        o,
      ),
    close: () => broker.close(),
  };
  const runtime = createRuntime({ broker: counting, store: sqliteStore(db), chains, clock, logger: silentLogger, onFailure: (r) => void reports.push(r), ...options });
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
  return { runtime, broker, reports, deadLetters, deliveries: () => deliveries };
}

/** Fires timers until `done()`, at most `max` of them. */
async function driveUntil(clock: ManualClock, done: () => Promise<boolean>, max = 200): Promise<void> {
  for (let i = 0; i < max; i++) {
    await settle(10);
    if (await done()) return;
    if (!(await clock.runNext())) break;
  }
  await settle(10);
  if (!(await done())) throw new Error(`condition still false after ${max} timers`);
}

const statusIs = (runtime: Runtime, id: string, status: string) => async () => (await runtime.getRun(id))?.status === status;

// Every step adds its mark, so the output tells which steps ran, in which order.
const step = (name: string, flakyFirst = false) => {
  let failed = false;
  return task(
    name,
    (trail: string[]) => {
      if (flakyFirst && !failed) {
        failed = true;
        throw new Error(`${name} is down`);
      }
      return [...trail, name];
    },
    { retry: { maxRetries: 3, backoff: { initial: '1m', jitter: 'none' } } },
  );
};

/** Renames the state (and output) key `from` of a stored snapshot to `to`. */
function renameStep(snapshot: ChainSnapshot, from: string, to: string): ChainSnapshot {
  const value = snapshot.value as Record<string, unknown>;
  const { [from]: at, ...rest } = value;
  return at === undefined ? snapshot : { ...snapshot, value: { ...rest, [to]: at } };
}

/** Deployment 1 (`order` v1: a → b → c): run `id` fails b once and waits out its one-minute backoff when the process stops. */
async function inFlightAtB(db: string, clock: ManualClock, id = 'r1') {
  const v1 = chain('order', step('a'), step('b', true), step('c'));
  const first = await deploy(db, clock, [v1]);
  await first.runtime.run(v1, [], { id });
  await driveUntil(clock, statusIs(first.runtime, id, 'retrying'));
  await first.runtime.close();
  return v1;
}

describe('chain() versions', () => {
  it('takes a trailing options object, keeps the typed chain, and rejects bad options by name', () => {
    const a = step('a');
    const v2 = chain('order', a, step('b'), { version: 2, migrate: { 1: (s) => s } });
    expect(v2.version).toBe(2);
    expect(chain('order', a, step('b')).version).toBe(1);
    // The fingerprint follows the steps' structure, not the task objects.
    expect(chain('x', a, step('b')).fingerprint).toBe(chain('x', step('a'), step('b')).fingerprint);
    expect(chain('x', a, step('b')).fingerprint).not.toBe(chain('x', step('b'), a).fingerprint);
    expect(() => chain('order', a, { version: 0 })).toThrow('chain "order": version: must be a whole number from 1 to 1000000, got 0');
    // @ts-expect-error -- unknown option key
    expect(() => chain('order', a, { versions: 2 })).toThrow('chain "order": versions: unknown option; did you mean "version"?');
    expect(() => chain('order', a, { version: 2, migrate: { 2: (s) => s } })).toThrow('chain "order": migrate.2: must be keyed by a version from 1 to 1');
  });

  it('refuses two definitions of one chain with the same version in one runtime', () => {
    const v1 = chain('dup', step('a'));
    const again = chain('dup', step('a'));
    expect(() => createRuntime({ broker: memoryBroker(), store: sqliteStore(':memory:'), chains: [v1, again], logger: silentLogger })).toThrow(
      'createRuntime: chains[1]: duplicate chain name "dup" with version 1 (give each definition of a chain its own version)',
    );
  });
});

describe('deploying a new version with runs in flight', () => {
  it('runs two versions side by side: an old run continues on v1, new runs start on v2', async () => {
    const db = database();
    const clock = new ManualClock();
    const v1 = await inFlightAtB(db, clock);
    const v2 = chain('order', step('a'), step('b2'), step('c'), { version: 2 });
    const second = await deploy(db, clock, [v1, v2]);
    const fresh = await second.runtime.run(v1, [], { id: 'new' }); // given v1: starts on the newest (v2)
    await driveUntil(clock, async () => (await statusIs(second.runtime, 'r1', 'completed')()) && (await statusIs(second.runtime, 'new', 'completed')()));
    expect(await second.runtime.result('r1')).toEqual(['a', 'b', 'c']);
    expect(await fresh.result()).toEqual(['a', 'b2', 'c']);
    expect((await second.runtime.getRun('r1'))?.chainVersion).toBe(1);
    expect((await second.runtime.getRun('new'))?.chainVersion).toBe(2);
    expect(second.reports).toEqual([]);
  });

  type V2Options = { version: 2; migrate?: Record<number, (s: ChainSnapshot) => ChainSnapshot> };
  const cases: { name: string; v2: (options: V2Options) => AnyChain; migrate: (s: ChainSnapshot) => ChainSnapshot; output: string[] }[] = [
    {
      name: 'renamed b to b2',
      v2: (options) => chain('order', step('a'), step('b2'), step('c'), options),
      migrate: (s) => renameStep(s, 'b', 'b2'),
      output: ['a', 'b2', 'c'],
    },
    {
      name: 'removed b',
      v2: (options) => chain('order', step('a'), step('c'), options),
      // A run at b goes on with c, from a's output.
      migrate: (s) => renameStep(s, 'b', 'c'),
      output: ['a', 'c'],
    },
    {
      name: 'reordered b and c',
      v2: (options) => chain('order', step('a'), step('c'), step('b'), options),
      // A run at b has done a: in the new order it goes on with c (then b).
      migrate: (s) => renameStep(s, 'b', 'c'),
      output: ['a', 'c', 'b'],
    },
  ];

  for (const c of cases) {
    it(`${c.name}, with migrate: the run is migrated at load (run.migrated) and completes on v2`, async () => {
      const db = database();
      const clock = new ManualClock();
      await inFlightAtB(db, clock);
      const v2 = c.v2({ version: 2, migrate: { 1: c.migrate } });
      const second = await deploy(db, clock, [v2]);
      expect(await second.runtime.checkDeploy([v2])).toEqual([]);
      await driveUntil(clock, statusIs(second.runtime, 'r1', 'completed'));
      expect(await second.runtime.result('r1')).toEqual(c.output);
      const history = (await second.runtime.getRun('r1'))?.history ?? [];
      expect(history.filter((h) => h.type === 'run.migrated')).toMatchObject([{ fromVersion: 1, toVersion: 2, step: c.output[1] }]);
      expect(second.reports).toEqual([]);
      // The old version's messages (re-dispatched from the store) were stale: nothing dead-lettered.
      expect(await second.deadLetters()).toEqual([]);
    });

    it(`${c.name}, without migrate: its message is given back with a growing delay, the run parked after the grace, then re-driven on v1`, async () => {
      const db = database();
      const clock = new ManualClock();
      const v1 = await inFlightAtB(db, clock);
      const v2 = c.v2({ version: 2 });
      const second = await deploy(db, clock, [v2], { unknownVersionGrace: '5m' });
      const stranded = await second.runtime.checkDeploy([v2]);
      expect(stranded).toMatchObject([{ id: 'r1', chain: 'order', version: 1, status: 'retrying', step: 'b', state: { b: 'retrying' } }]);
      expect(stranded[0]?.why).toContain('version 1 is not loaded here (loaded: 2)');
      const started = clock.now();
      await driveUntil(clock, statusIs(second.runtime, 'r1', 'parked'));
      // 1 min until the timer is due, then 1 + 2 + 4 + ... + 60 s of give-backs up to the 5 minute grace: no hot loop.
      expect(second.deliveries()).toBe(11);
      expect(clock.now() - started).toBe(60_000 + 303_000);
      const reason =
        'run "r1" (chain "order") is parked: run "r1" (chain "order", version 1): version 1 is not loaded here (loaded: 2), and no loaded version has migrate[1] to move it towards version 2 ' +
        `(the run waits at step "b"); no runtime that knows version 1 took its message within 5m (stored state {"b":"retrying"}; steps of the loaded definition: ${v2.steps.map((s) => s.key).join(', ')})`;
      expect(await second.deadLetters()).toEqual([reason]);
      expect(second.reports).toMatchObject([{ runId: 'r1', chain: 'order', step: 'b', parked: true }]);
      await expect(second.runtime.result('r1')).rejects.toBeInstanceOf(RunParkedError);
      await expect(second.runtime.retry('r1')).rejects.toThrow('cannot re-drive run "r1" (chain "order"): it is parked, and the loaded definitions cannot continue it');
      await second.runtime.close();

      // Deployment 3 loads v1 again beside v2: re-driving the parked run continues it on v1.
      const third = await deploy(db, clock, [v1, v2]);
      expect(await third.runtime.checkDeploy([v1, v2])).toEqual([]);
      const redriven = await third.runtime.retry('r1');
      expect(redriven.status).toBe('running');
      await driveUntil(clock, statusIs(third.runtime, 'r1', 'completed'));
      expect(await third.runtime.result('r1')).toEqual(['a', 'b', 'c']);
      expect((await third.runtime.getRun('r1'))?.history.filter((h) => h.type === 'run.redriven')).toHaveLength(1);
    });
  }

  it('migrates a version-1 run through 2 to 3, each migrate function taken from the definition that has it', async () => {
    const db = database();
    const clock = new ManualClock();
    await inFlightAtB(db, clock);
    // v2 (not loaded any more) renamed b to b2; v3 renames b2 to b3. This deploy holds v2's function in v3's definition for 1, and v3's own for 2.
    const v3 = chain('order', step('a'), step('b3'), step('c'), { version: 3, migrate: { 1: (s) => renameStep(s, 'b', 'b2'), 2: (s) => renameStep(s, 'b2', 'b3') } });
    const third = await deploy(db, clock, [v3]);
    await driveUntil(clock, statusIs(third.runtime, 'r1', 'completed'));
    expect(await third.runtime.result('r1')).toEqual(['a', 'b3', 'c']);
    const info = await third.runtime.getRun('r1');
    expect(info?.chainVersion).toBe(3);
    expect(info?.history.filter((h) => h.type === 'run.migrated')).toMatchObject([{ fromVersion: 1, toVersion: 3, step: 'b3' }]);
  });

  it('parks the run when a migrate function throws, naming the versions', async () => {
    const db = database();
    const clock = new ManualClock();
    await inFlightAtB(db, clock);
    const v2 = chain('order', step('a'), step('b2'), step('c'), {
      version: 2,
      migrate: {
        1: () => {
          throw new Error('no mapping for this state');
        },
      },
    });
    const second = await deploy(db, clock, [v2]);
    expect((await second.runtime.checkDeploy([v2]))[0]?.why).toBe('migrating it from version 1 to version 2 fails: migrate[1] threw: no mapping for this state');
    await driveUntil(clock, statusIs(second.runtime, 'r1', 'parked'));
    expect((await second.runtime.getRun('r1'))?.error?.message).toContain('is parked: migrating it from version 1 to version 2 failed: migrate[1] threw: no mapping for this state');
    expect(second.reports).toMatchObject([{ runId: 'r1', parked: true }]);
  });

  it('leaves a finished run of a version no longer held alone: a late message of it is dropped, not migrated, parked or looped', async () => {
    const db = database();
    const clock = new ManualClock();
    const v1 = chain('order', step('a'), step('b'));
    const first = await deploy(db, clock, [v1]);
    await first.runtime.run(v1, [], { id: 'done' });
    await driveUntil(clock, statusIs(first.runtime, 'done', 'completed'));
    await first.runtime.close();
    const v2 = chain('order', step('a'), step('b2'), { version: 2, migrate: { 1: (s) => renameStep(s, 'b', 'b2') } });
    for (const chains of [[v2], [chain('order', step('a'), step('b2'), { version: 2 })]]) {
      const next = await deploy(db, clock, chains);
      await next.broker.publish('taskchart', JSON.stringify({ v: 1, kind: 'task', runId: 'done', chain: 'order', step: 'b', task: 'b', attempt: 1, compensation: false, input: ['a'] }));
      await driveUntil(clock, async () => next.deliveries() === 1);
      await settle(20);
      const info = await next.runtime.getRun('done');
      expect(info?.status).toBe('completed');
      expect(info?.history.map((h) => h.type)).not.toContain('run.migrated');
      expect(next.deliveries()).toBe(1);
      expect(await next.deadLetters()).toEqual([]);
      expect(next.reports).toEqual([]);
      await next.runtime.close();
    }
  });

  it('migrates a run that is compensating: the compensation it stood at is dispatched again on the new version', async () => {
    const db = database();
    const clock = new ManualClock();
    const undone: string[] = [];
    let undoFailed = false;
    const reserve = task('reserve', (x: number) => x, {
      compensate: (output: number) => {
        if (!undoFailed) {
          undoFailed = true;
          throw new Error('undo is down');
        }
        undone.push(`reserve(${output})`);
      },
      compensateRetry: { maxRetries: 3, backoff: { initial: '1m', jitter: 'none' } },
    });
    const charge = task('charge', (): number => {
      throw new Error('card declined');
    }, { retry: { maxRetries: 0 } });
    const v1 = chain('pay', reserve, charge);
    const first = await deploy(db, clock, [v1]);
    await first.runtime.run(v1, 7, { id: 'p1' });
    await driveUntil(clock, async () => (await first.runtime.getRun('p1'))?.history.some((h) => h.type === 'compensation.retrying') ?? false);
    await first.runtime.close();
    const chargeCard = task('chargeCard', (x: number) => x);
    const v2 = chain('pay', reserve, chargeCard, { version: 2, migrate: { 1: (snapshot) => snapshot } });
    const second = await deploy(db, clock, [v2]);
    await driveUntil(clock, statusIs(second.runtime, 'p1', 'compensated'));
    expect(undone).toEqual(['reserve(7)']);
    const history = (await second.runtime.getRun('p1'))?.history ?? [];
    expect(history.filter((h) => h.type === 'run.migrated')).toMatchObject([{ fromVersion: 1, toVersion: 2, step: 'reserve' }]);
    expect(history.map((h) => h.type).slice(-3)).toEqual(['compensation.started', 'compensation.completed', 'run.compensated']);
  });

  it('rejects a bad unknownVersionGrace by name', () => {
    const c = chain('g', step('a'));
    expect(() => createRuntime({ broker: memoryBroker(), store: sqliteStore(':memory:'), chains: [c], logger: silentLogger, unknownVersionGrace: '500ms' })).toThrow(
      'createRuntime: unknownVersionGrace: must be a duration between 1 s and 7d (604800000 ms), got 500 ms',
    );
  });

  it('parks a run whose definition changed without a version bump (a reorder the old state still fits), saying so', async () => {
    const db = database();
    const clock = new ManualClock();
    const v1 = await inFlightAtB(db, clock);
    const reordered = chain('order', step('a'), step('c'), step('b'));
    const checker = await deploy(db, clock, [v1], { queues: [] });
    expect(await checker.runtime.checkDeploy([reordered])).toMatchObject([{ id: 'r1', why: expect.stringContaining('the definition changed without a version bump') as unknown }]);
    await checker.runtime.close();
    const second = await deploy(db, clock, [reordered]);
    await driveUntil(clock, statusIs(second.runtime, 'r1', 'parked'));
    const info = await second.runtime.getRun('r1');
    expect(info?.error?.message).toContain('is parked: the definition changed without a version bump: the run started on version 1');
    expect(second.reports).toMatchObject([{ runId: 'r1', parked: true }]);
    expect(await second.deadLetters()).toHaveLength(1);
    // Continued on the reordered definition, the run would have completed after b, c never run.
    expect(info?.history.map((h) => h.type)).not.toContain('run.completed');
  });

  it('checkDeploy lists exactly the active runs the definitions cannot continue', async () => {
    const db = database();
    const clock = new ManualClock();
    const v1 = await inFlightAtB(db, clock, 'at-b');
    // A run of v1 recorded at step a by a producer (no worker ran it), and a finished run.
    const producer = await deploy(db, clock, [v1], { queues: [] });
    await producer.runtime.run(v1, [], { id: 'at-a' });
    const other = chain('other', step('x'));
    const renamedA = chain('order', step('a2'), step('b'), step('c'), { version: 2 });
    expect(await producer.runtime.checkDeploy([v1])).toEqual([]);
    const ids = async (chains: AnyChain[]) => (await producer.runtime.checkDeploy(chains)).map((s) => `${s.id}: ${s.why}`).sort();
    expect(await ids([other])).toEqual(['at-a: chain "order" is not among the definitions', 'at-b: chain "order" is not among the definitions']);
    expect(await ids([renamedA])).toEqual([
      'at-a: version 1 is not loaded here (loaded: 2), and no loaded version has migrate[1] to move it towards version 2',
      'at-b: version 1 is not loaded here (loaded: 2), and no loaded version has migrate[1] to move it towards version 2',
    ]);
    // With a migrate function that keeps the state: the run at b fits v2, the run at a does not.
    const migrating = chain('order', step('a2'), step('b'), step('c'), { version: 2, migrate: { 1: (s) => s } });
    expect(await ids([migrating])).toEqual([
      'at-a: migrating it from version 1 to version 2 fails: version 2 cannot hold the state {"a":"running"}: Child state \'a\' does not exist on \'order\'',
    ]);
    expect(await ids([v1, renamedA])).toEqual([]);
  });
});
