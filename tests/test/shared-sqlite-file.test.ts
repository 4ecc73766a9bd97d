/**
 * Issue 8, item 6: several processes on ONE SQLite file, on one host, are supported. A web
 * process (a client: starts runs, consumes nothing, reads results from the store) and two worker
 * processes share one file over RabbitMQ; workers are SIGKILLed at random moments and replaced.
 * Every run completes, every step's side effect happens exactly once, and no step runs again
 * after its completion was committed (the crash-recovery invariants).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { DELAY_LEVELS_MS, delayExchangeName, delayQueueName, deleteTopology } from '@taskchart/broker-amqp';
import { assertEveryStepOnce, query, spawnFixture, until, type Spawned } from './processes.js';

const PROCESS = fileURLToPath(new URL('../fixtures/shared-file-process.ts', import.meta.url));
const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUNS = 24;
const KILLS = 4;
const children: ChildProcess[] = [];
const dirs: string[] = [];
let prefix = '';

function start(args: string[]): Spawned {
  return spawnFixture(PROCESS, args, children, { TC_PREFIX: prefix, TC_AMQP_URL: AMQP_URL });
}

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const ladder = DELAY_LEVELS_MS.map((ms) => delayQueueName(prefix, ms));
  await deleteTopology(AMQP_URL, { queues: [`${prefix}taskchart`, `${prefix}taskchart.dead`, ...ladder], exchanges: [delayExchangeName(prefix)] }).catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a web process and two workers share one SQLite file; workers SIGKILLed at random lose nothing and duplicate nothing', { timeout: 120_000 }, async () => {
  prefix = `tc-shared-${randomUUID().slice(0, 8)}-`;
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-shared-'));
  dirs.push(dir);
  const db = join(dir, 'runs.db');
  const effects = join(dir, 'effects.db');

  const startWorker = async () => {
    const worker = start(['worker', db, effects]);
    await until(() => worker.output().includes('ready'), 30_000, 'a worker to start');
    return worker;
  };
  const workers = [await startWorker(), await startWorker()];
  const web = start(['web', db, effects, String(RUNS)]);

  // Kill a worker at random moments while the runs are under way, and start a new one each time.
  const executions = () => query<{ n: number }>(effects, 'SELECT COUNT(*) AS n FROM executions')[0]?.n ?? 0;
  // (Each run makes 5 attempts when nothing is killed: reserve, charge, confirm twice.)
  let kills = 0;
  while (kills < KILLS && executions() < RUNS * 5) {
    const seen = executions();
    const wait = 1 + Math.floor(Math.random() * 4);
    await until(() => executions() >= Math.min(seen + wait, RUNS * 5), 30_000, 'the runs to progress');
    const victim = Math.floor(Math.random() * workers.length);
    const dead = workers[victim]!;
    dead.child.kill('SIGKILL');
    expect((await dead.exited).signal).toBe('SIGKILL');
    kills++;
    workers[victim] = await startWorker();
  }
  expect(kills).toBeGreaterThan(0);

  const done = await web.exited;
  expect(done.err).toBe('');
  expect(done.code).toBe(0);
  expect(done.out.split('\n')[1]).toBe(JSON.stringify(Array(RUNS).fill('fulfilled')));

  // Every run completed; each step's side effect happened once (by idempotency key), completed once.
  assertEveryStepOnce(db, effects, RUNS, 3);
  // Nothing left to publish once the live workers have taken over the killed ones' claims (the
  // lease is 1 s: a run can complete before an entry a killed worker had published is cleared).
  const outbox = () => query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM taskchart_outbox')[0]?.n;
  await until(() => outbox() === 0, 15_000, 'the outbox to drain');
  expect(outbox()).toBe(0);
  // Every run's event log ends with run.completed.
  const last = query<{ type: string }>(
    db,
    "SELECT (SELECT e.value ->> 'type' FROM taskchart_history h, json_each(h.entries) e WHERE h.run_id = r.id ORDER BY h.seq DESC, e.key DESC LIMIT 1) AS type FROM taskchart_runs r",
  );
  expect(last.map((l) => l.type)).toEqual(Array(RUNS).fill('run.completed'));
});
