import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DELAY_LEVELS_MS, delayExchangeName, delayQueueName, deleteTopology } from '@taskchart/broker-amqp';
import { deleteQueuesWithPrefix } from '@taskchart/broker-sqs';
import { startLocalSqsServer, type LocalSqsServer } from '../../scripts/sqs-server.js';
import { assertEveryStepOnce, query, spawnFixture, until, type Spawned } from './processes.js';

const WORKER = fileURLToPath(new URL('../fixtures/durable-worker.ts', import.meta.url));
const RUNS = 4;
const children: ChildProcess[] = [];
const dirs: string[] = [];

function startWorker(env: Record<string, string>, db: string, effects: string, mode: 'start' | 'resume'): Spawned {
  return spawnFixture(WORKER, [db, effects, mode, String(RUNS)], children, env);
}

function paths() {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-crash-'));
  dirs.push(dir);
  return { db: join(dir, 'runs.db'), effects: join(dir, 'effects.db') };
}

/** Every run completed, and every step's side effect happened exactly once (by idempotency key). */
function assertExactlyOnce(db: string, effects: string) {
  assertEveryStepOnce(db, effects, RUNS, 3);
}

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await forgetTopology();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type BrokerKind = 'memory' | 'amqp' | 'sqs';
const BROKERS: BrokerKind[] = ['memory', 'amqp', 'sqs'];
const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
let sqs: LocalSqsServer | undefined;
let currentPrefix = '';

beforeAll(async () => {
  if (!process.env['SQS_ENDPOINT']) sqs = await startLocalSqsServer();
});
afterAll(async () => {
  await sqs?.stop();
});

function envFor(kind: BrokerKind): Record<string, string> {
  currentPrefix = `tc-crash-${randomUUID().slice(0, 8)}-`;
  return {
    TC_BROKER: kind,
    TC_PREFIX: currentPrefix,
    TC_AMQP_URL: AMQP_URL,
    TC_SQS_ENDPOINT: process.env['SQS_ENDPOINT'] ?? sqs?.endpoint ?? '',
  };
}

/** Deletes what the workers of the current test declared (RabbitMQ queues and exchange, SQS queues). */
async function forgetTopology(): Promise<void> {
  if (!currentPrefix) return;
  const prefix = currentPrefix;
  currentPrefix = '';
  const ladder = DELAY_LEVELS_MS.map((ms) => delayQueueName(prefix, ms));
  await deleteTopology(AMQP_URL, { queues: [`${prefix}taskchart`, `${prefix}taskchart.dead`, ...ladder], exchanges: [delayExchangeName(prefix)] }).catch(() => undefined);
  const endpoint = process.env['SQS_ENDPOINT'] ?? sqs?.endpoint;
  if (endpoint) {
    await deleteQueuesWithPrefix({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }, prefix).catch(() => undefined);
  }
}

describe.each(BROKERS)('a worker killed with SIGKILL loses nothing (%s broker)', (kind) => {
  it('(a) in the middle of a step: a new process on the same database finishes every run', { timeout: 60_000 }, async () => {
    const { db, effects } = paths();
    const env = envFor(kind);
    const first = startWorker(env, db, effects, 'start');
    await until(() => query<{ n: number }>(effects, "SELECT COUNT(*) AS n FROM executions WHERE phase = 'entered'")[0]?.n === RUNS, 30_000, 'every run inside the slow step');
    first.child.kill('SIGKILL');
    const dead = await first.exited;
    expect(dead.code).toBeNull();
    // Killed mid-step: the charge side effect did not happen yet for any run.
    expect(query<{ n: number }>(effects, "SELECT COUNT(*) AS n FROM effects WHERE key LIKE '%:charge'")[0]?.n).toBe(0);

    const second = startWorker(env, db, effects, 'resume');
    const done = await second.exited;
    // (The AWS SDK warns on stderr about Node 20; anything else there would be a failure.)
    expect(done.err).not.toMatch(/error|unhandled/i);
    expect(done.code).toBe(0);
    expect(done.out.split('\n')[0]).toBe(JSON.stringify(Array(RUNS).fill('fulfilled')));
    assertExactlyOnce(db, effects);
    // The interrupted step ran again (at least once), with the same idempotency key.
    const entered = query<{ key: string; n: number }>(effects, "SELECT key, COUNT(*) AS n FROM executions WHERE phase = 'entered' GROUP BY key");
    expect(entered.every((e) => e.n === 2)).toBe(true);
  });

  it('(b) while runs wait out a backoff: the new process fires the durable timers when due', { timeout: 60_000 }, async () => {
    const { db, effects } = paths();
    const env = envFor(kind);
    const first = startWorker(env, db, effects, 'start');
    await until(() => query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM taskchart_runs WHERE status = 'retrying'")[0]?.n === RUNS, 30_000, 'every run in its backoff');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startWorker(env, db, effects, 'resume');
    const done = await second.exited;
    expect(done.code).toBe(0);
    assertExactlyOnce(db, effects);
    // The retry honoured the 2 s backoff across the crash: attempt 2 started at least 2 s after attempt 1 failed.
    const gaps = query<{ gap: number }>(
      effects,
      "SELECT (SELECT MIN(at) FROM executions e2 WHERE e2.key = e1.key AND e2.attempt = 2) - e1.at AS gap FROM executions e1 WHERE e1.phase = 'failed'",
    );
    expect(gaps).toHaveLength(RUNS);
    for (const g of gaps) expect(g.gap).toBeGreaterThanOrEqual(2000);
  });
});
