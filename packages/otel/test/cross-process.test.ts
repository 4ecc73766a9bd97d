/**
 * One run's trace crosses processes through real broker headers: worker A (this process) consumes
 * queue `a`, worker B (a child process) queue `b`, on one RabbitMQ queue prefix and one SQLite file.
 * B's spans come back as lines on its stdout; A's from the in-memory exporter.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { DELAY_LEVELS_MS, amqpBroker, delayExchangeName, delayQueueName, deleteTopology } from '@taskchart/broker-amqp';
import { createRuntime, type Runtime } from '@taskchart/core';
import { silentLogger } from '@taskchart/core/testing';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterEach, expect, it } from 'vitest';
import { spawnFixture, until } from '../../../tests/test/processes.js';
import { otelPlugin } from '../src/index.js';
import { handoff } from './fixtures/handoff-chain.js';
import { globalMemoryTracing } from './global-tracing.js';
import { ancestry, view, type SpanView } from './tracing.js';

const WORKER = fileURLToPath(new URL('./fixtures/otel-worker.ts', import.meta.url));
const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const tracing = globalMemoryTracing();
const children: ChildProcess[] = [];
let runtime: Runtime | undefined;
let prefix = '';
let dir = '';

afterEach(async () => {
  await runtime?.close().catch(() => undefined);
  runtime = undefined;
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const ladder = DELAY_LEVELS_MS.map((ms) => delayQueueName(prefix, ms));
  const queues = ['a', 'a.dead', 'b', 'b.dead'].map((q) => prefix + q);
  await deleteTopology(AMQP_URL, { queues: [...queues, ...ladder], exchanges: [delayExchangeName(prefix)] }).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The spans worker B printed so far. */
const spansOf = (output: string): SpanView[] =>
  output
    .split('\n')
    .filter((line) => line.startsWith('span '))
    .map((line) => JSON.parse(line.slice('span '.length)) as SpanView);

it('one run is one trace across two worker processes and RabbitMQ, retry included', { timeout: 90_000 }, async () => {
  prefix = `tc-otel-${randomUUID().slice(0, 8)}-`;
  dir = mkdtempSync(join(tmpdir(), 'taskchart-otel-'));
  const db = join(dir, 'runs.db');
  const b = spawnFixture(WORKER, [db], children, { TC_PREFIX: prefix, TC_AMQP_URL: AMQP_URL });
  await until(() => b.output().includes('ready'), 30_000, 'worker B to start');

  runtime = createRuntime({
    broker: amqpBroker({ url: AMQP_URL, queuePrefix: prefix }),
    store: sqliteStore(db),
    chains: [handoff],
    queues: ['a'],
    logger: silentLogger,
    plugins: [otelPlugin({ system: 'rabbitmq' })],
  });
  await runtime.start();
  const run = await trace.getTracer('test').startActiveSpan('POST /handoff', async (request) => {
    try {
      return await runtime!.run(handoff, { order: 'h-1' }, { id: `handoff-${prefix}` });
    } finally {
      request.end();
    }
  });
  expect(await run.result({ timeout: '60s' })).toEqual({ confirmed: 'h-1' });
  await until(() => spansOf(b.output()).some((s) => s.name === 'publish confirm'), 30_000, "worker B's last span");

  const inA = tracing.exporter.getFinishedSpans().map(view);
  const inB = spansOf(b.output());
  const all = [...inA, ...inB];
  expect(new Set(all.map((s) => s.traceId)).size).toBe(1);
  expect(ancestry(all, all.find((s) => s.name === 'process confirm')!)).toEqual([
    'POST /handoff',
    'run handoff',
    'process pack#1',
    'publish deliver#1',
    'process deliver#1',
    'retry deliver#2',
    'publish deliver#2',
    'process deliver#2',
    'publish confirm#1',
    'process confirm#1',
  ]);
  // Who did what: A started the run and ran queue a; B ran queue b, its retry included.
  expect(inA.map((s) => s.name).sort()).toEqual(['POST /handoff', 'process confirm', 'process pack', 'publish deliver', 'run handoff']);
  expect(inB.map((s) => s.name).sort()).toEqual(['process deliver', 'process deliver', 'publish confirm', 'publish deliver', 'retry deliver']);
  // B's first attempt failed (ERROR), on queue b, as a consumer of a RabbitMQ message.
  const failed = inB.find((s) => s.name === 'process deliver' && s.attributes['taskchart.attempt'] === 1);
  expect(failed?.kind).toBe(SpanKind.CONSUMER);
  expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Error: courier API 503' });
  expect(failed?.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'b', 'messaging.operation.type': 'process' });
  expect(typeof failed?.attributes['messaging.message.id']).toBe('string');
});
