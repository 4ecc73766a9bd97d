/**
 * Issue 9, item 2: many stateless workers on one Postgres database. Four worker processes and a
 * producer process (a client) share RabbitMQ (then SQS) + Postgres; workers are SIGKILLed at random
 * while they run and replaced. Every run ends terminal exactly once with the status its input
 * calls for, every completed step's side effect is observed, compensations ran exactly for the
 * completed steps of the failed runs, the outbox drains, and no connection is left. How many
 * steps ran twice (at-least-once) is printed, not asserted.
 *
 * TASKCHART_SOAK_RUNS (default 2,000) and TASKCHART_SOAK_SQS_RUNS (default 300) set the run counts.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { DELAY_LEVELS_MS, delayExchangeName, delayQueueName, deleteTopology } from '@taskchart/broker-amqp';
import { openTestEndpoint } from '../../packages/broker-sqs/test/sqs-endpoint.js';
import { PgSoak, type SoakFigures } from './pg-soak.js';

const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const AMQP_RUNS = Number(process.env['TASKCHART_SOAK_RUNS'] ?? 2000);
const SQS_RUNS = Number(process.env['TASKCHART_SOAK_SQS_RUNS'] ?? 300);
// SQS_ENDPOINT, or a local fauxqs server started here (as the adapter's own tests do).
const sqs = await openTestEndpoint();
let soak: PgSoak | undefined;

afterEach(async () => {
  const s = soak;
  soak = undefined;
  if (!s) return;
  try {
    await s.cleanup();
  } finally {
    const ladder = DELAY_LEVELS_MS.map((ms) => delayQueueName(s.prefix, ms));
    await deleteTopology(AMQP_URL, { queues: [`${s.prefix}taskchart`, `${s.prefix}taskchart.dead`, ...ladder], exchanges: [delayExchangeName(s.prefix)] }).catch(() => undefined);
    await sqs.cleanup(s.prefix).catch(() => undefined);
  }
});
afterAll(() => sqs.stop());

function report(broker: string, f: SoakFigures): void {
  console.log(
    `[pg-soak ${broker}] ${f.runs} runs, ${f.kills} workers SIGKILLed, ${Math.round(f.wallMs / 100) / 10} s: ${f.executions} attempts; ` +
      `${f.appliedTwice} side effects applied twice or more, ${f.ranAfterCompletion} attempts began after their step had completed (at-least-once)`,
  );
}

it(`RabbitMQ + Postgres: 4 workers and a producer, ${AMQP_RUNS} runs, workers SIGKILLed at random: every run terminal once, every effect seen, compensations exact`, { timeout: 600_000 }, async () => {
  soak = new PgSoak('pgsoak');
  await soak.prepare();
  const figures = await soak.run({ env: { TC_BROKER: 'amqp', TC_AMQP_URL: AMQP_URL }, runs: AMQP_RUNS, workers: 4, kills: 6 });
  report('amqp', figures);
  expect(figures.kills).toBeGreaterThan(0);
});

it(`SQS + Postgres: 4 workers and a producer, ${SQS_RUNS} runs, workers SIGKILLed at random: the same`, { timeout: 600_000 }, async () => {
  soak = new PgSoak('pgsoaksqs');
  await soak.prepare();
  const figures = await soak.run({ env: { TC_BROKER: 'sqs', TC_SQS_ENDPOINT: sqs.endpoint }, runs: SQS_RUNS, workers: 4, kills: 4 });
  report('sqs', figures);
  expect(figures.kills).toBeGreaterThan(0);
});
