/**
 * Actions from the command line (cancel, retry) on a real SQLite file and a real RabbitMQ: the
 * CLI process commits and publishes through the deployment's broker; the runtime in this
 * process (the "worker") consumes and carries the run on. Who acted (`by`) is kept in history.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { amqpBroker, deleteTopology, type AmqpBroker } from '@taskchart/broker-amqp';
import { eventually, PACKAGE, projects, sqliteConfig, type Project } from './cli-harness.js';
import { control, greetings, order, refund } from './fixtures/chains.js';

const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const BY = `cli:${userInfo().username}@${hostname()}`;

const project = projects();
let runtime: Runtime | undefined;
let broker: AmqpBroker | undefined;
afterEach(async () => {
  // A run left holding (a failed test) would keep close() waiting for its attempt.
  const rt = runtime;
  if (rt) await Promise.allSettled([...control.holding].map((id) => rt.cancel(id)));
  await runtime?.close();
  runtime = undefined;
  control.shipBroken = true;
  if (broker) await deleteTopology(AMQP_URL, broker.declared());
  broker = undefined;
});

async function worker(p: Project): Promise<Runtime> {
  const prefix = `tc-cli-${randomBytes(4).toString('hex')}-`;
  const amqp = join(PACKAGE, '..', 'broker-amqp', 'src', 'index.ts');
  p.write(
    'taskchart.config.ts',
    sqliteConfig(p.db, `amqpBroker({ url: ${JSON.stringify(AMQP_URL)}, queuePrefix: ${JSON.stringify(prefix)} })`, `import { amqpBroker } from ${JSON.stringify(amqp)};`),
  );
  broker = amqpBroker({ url: AMQP_URL, queuePrefix: prefix });
  runtime = createRuntime({ store: sqliteStore(p.db), broker, chains: [order, refund, ...greetings], logger: silentLogger });
  await runtime.start();
  return runtime;
}

const status = async (rt: Runtime, id: string) => (await rt.getRun(id))?.status;

describe('taskchart runs cancel / retry (SQLite + RabbitMQ)', () => {
  it('cancel --yes: the running attempt is aborted on the worker, completed steps compensated, reason and by kept', async () => {
    const p = project();
    const rt = await worker(p);
    await rt.run(order, { id: 'c-1', hold: true }, { id: 'c-1' });
    await waitFor(() => control.holding.has('c-1'), 15_000, 'c-1 to reach ship');

    const cancelled = await p.run(['runs', 'cancel', 'c-1', '--yes', '--reason', 'customer asked']);
    expect(cancelled.stderr).toBe('');
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/c-1/);

    await eventually(async () => (await status(rt, 'c-1')) === 'cancelled', 20_000, 'c-1 to end cancelled');
    expect(control.refunds).toContain('c-1');
    const history = (await rt.getRun('c-1'))?.history ?? [];
    // The CLI's commit (compensation first) is `run.cancelling`; the worker ends the run `run.cancelled`.
    expect(history.find((e) => e.type === 'run.cancelling')).toMatchObject({ reason: 'customer asked', by: BY });
    expect(history.at(-1)).toMatchObject({ type: 'run.cancelled', reason: 'customer asked' });
    const shown = await p.run(['runs', 'show', 'c-1']);
    expect(shown.stdout).toContain(`run.cancelling          reason: customer asked  by ${BY}`);

    const again = await p.run(['runs', 'cancel', 'c-1', '--yes', '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: 'c-1', cancelled: false, status: 'cancelled' });
  }, 120_000);

  it('retry: a refusal exits 1 with the reason; --from start runs the chain again on the worker, by kept', async () => {
    const p = project();
    const rt = await worker(p);
    const run = await rt.run(order, { id: 'r-1', fail: true }, { id: 'r-1' });
    await run.result().catch(() => undefined);
    expect(await status(rt, 'r-1')).toBe('compensated');

    const refused = await p.run(['runs', 'retry', 'r-1', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^taskchart: RuntimeStateError: .*r-1/);

    control.shipBroken = false;
    const retried = await p.run(['runs', 'retry', 'r-1', '--from', 'start', '--yes']);
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/^run r-1 re-driven: running at step quote$/m);
    await expect(run.result()).resolves.toEqual({ shipped: 'r-1' });
    const history = (await rt.getRun('r-1'))?.history ?? [];
    expect(history.find((e) => e.type === 'run.redriven')).toMatchObject({ by: BY });
    expect(history.at(-1)?.type).toBe('run.completed');

    const watched = await p.run(['runs', 'watch', 'r-1']);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/run\.compensated[\s\S]*run\.redriven[\s\S]*run\.completed/);
  }, 120_000);

  it('asks on a terminal: "n" leaves the run alone (exit 2), "y" cancels it', async () => {
    const p = project();
    const rt = await worker(p);
    await rt.run(order, { id: 't-1', hold: true }, { id: 't-1' });
    await waitFor(() => control.holding.has('t-1'), 15_000, 't-1 to reach ship');

    const no = p.startTty(['runs', 'cancel', 't-1', '--no-compensate']);
    await waitFor(() => no.stdout().includes('[y/N]'), 30_000, 'the confirmation prompt');
    expect(no.stdout()).toMatch(/Cancel run t-1 \(chain order, running\), without compensating\? \[y\/N\]/);
    no.child.stdin?.write('n\r');
    expect((await no.exited).code).toBe(2);
    expect(await status(rt, 't-1')).toBe('running');

    const yes = p.startTty(['runs', 'cancel', 't-1', '--no-compensate']);
    await waitFor(() => yes.stdout().includes('[y/N]'), 30_000, 'the confirmation prompt');
    yes.child.stdin?.write('y\r');
    expect((await yes.exited).code).toBe(0);
    await eventually(async () => (await status(rt, 't-1')) === 'cancelled', 20_000, 't-1 to end cancelled');
    expect(control.refunds).not.toContain('t-1');
  }, 120_000);
});
