/**
 * The core hook the plugin stands on (`messageHeaders`): what it may and may not do, and that its
 * headers are stored with the message (a restart re-dispatches them with the trace context).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, task, type Broker, type Logger, type Plugin, type Runtime } from '@taskchart/core';
import { ManualClock, settle } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore, type SqliteStore } from '@taskchart/store-sqlite';
import { afterEach, expect, it } from 'vitest';
import { otelPlugin } from '../src/index.js';
import { globalMemoryTracing } from './global-tracing.js';
import { ancestry, view } from './tracing.js';

const tracing = globalMemoryTracing();

const dirs: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  tracing.exporter.reset();
});

function file(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-otel-hook-'));
  dirs.push(dir);
  return join(dir, 'runs.db');
}

const pair = chain('pair', task('a', (n: number) => n + 1), task('b', (n: number) => n * 2));
const seen = (into: Array<Readonly<Record<string, string>>>): Plugin => ({ name: 'recorder', wrapAttempt: (ctx, next) => (into.push(ctx.headers), next()) });

/** Runs `pair` from 1 and resolves with its result (4). */
async function runToEnd(runtime: Runtime, id: string): Promise<unknown> {
  const run = await runtime.run(pair, 1, { id });
  for (let i = 0; i < 100 && !['completed', 'failed'].includes((await runtime.getRun(id))?.status ?? ''); i++) await settle(10);
  return run.result();
}

it('a messageHeaders hook that throws is logged with its name; the message goes without its headers and the run goes on', async () => {
  const errors: string[] = [];
  const logger: Logger = { warn: () => undefined, error: (m) => void errors.push(m) };
  const headers: Array<Readonly<Record<string, string>>> = [];
  const clock = new ManualClock();
  const broken: Plugin = {
    name: 'broken',
    messageHeaders: () => {
      throw new Error('plugin bug');
    },
  };
  const runtime = createRuntime({ broker: memoryBroker({ clock }), store: sqliteStore(file()), chains: [pair], clock, logger, plugins: [broken, seen(headers)] });
  runtimes.push(runtime);
  await runtime.start();
  expect(await runToEnd(runtime, 'broken-1')).toBe(4);
  expect(errors).toEqual(['plugin "broken" messageHeaders threw; the message goes without its headers', 'plugin "broken" messageHeaders threw; the message goes without its headers']);
  expect(headers.map((h) => Object.keys(h))).toEqual([['x-taskchart-run'], ['x-taskchart-run']]);
});

it("merges the plugins' headers, keeps string values only, and drops the reserved x-taskchart- names", async () => {
  const headers: Array<Readonly<Record<string, string>>> = [];
  const clock = new ManualClock();
  const first: Plugin = { name: 'first', messageHeaders: (m) => ({ 'x-first': `${m.kind}:${m.step}#${m.attempt}`, 'x-shared': 'first' }) };
  const second: Plugin = {
    name: 'second',
    messageHeaders: () => ({ 'x-shared': 'second', 'x-taskchart-run': 'forged', 'x-taskchart-redeliveries': '9', 'x-number': 7 as unknown as string }),
  };
  const runtime = createRuntime({ broker: memoryBroker({ clock }), store: sqliteStore(file()), chains: [pair], clock, plugins: [first, second, seen(headers)] });
  runtimes.push(runtime);
  await runtime.start();
  expect(await runToEnd(runtime, 'merge-1')).toBe(4);
  expect(headers).toEqual([
    { 'x-first': 'task:a#1', 'x-shared': 'second', 'x-taskchart-run': 'merge-1' },
    { 'x-first': 'task:b#1', 'x-shared': 'second', 'x-taskchart-run': 'merge-1' },
  ]);
});

it('stores the headers with the message: a run started before a restart continues its trace after it', async () => {
  const db = file();
  const store: SqliteStore = sqliteStore(db);
  // A producer-only runtime on the memory broker: its message is lost with the process, the store keeps it.
  const producer = createRuntime({ broker: memoryBroker(), store, chains: [pair], queues: [], plugins: [otelPlugin()] });
  await producer.start();
  await producer.run(pair, 1, { id: 'restart-1' });
  await producer.close();

  const headers: Array<Readonly<Record<string, string>>> = [];
  const clock = new ManualClock();
  const worker = createRuntime({ broker: memoryBroker({ clock }), store: sqliteStore(db), chains: [pair], clock, plugins: [otelPlugin(), seen(headers)] });
  runtimes.push(worker);
  await worker.start(); // re-dispatches the stored message, headers included
  for (let i = 0; i < 100 && (await worker.getRun('restart-1'))?.status !== 'completed'; i++) await settle(10);
  expect((await worker.getRun('restart-1'))?.status).toBe('completed');

  const spans = tracing.exporter.getFinishedSpans().map(view);
  expect(headers[0]?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
  expect(ancestry(spans, spans.find((s) => s.name === 'process b')!)).toEqual(['run pair', 'process a#1', 'publish b#1', 'process b#1']);
});

/** The memory broker, declaring that it holds delays of at most `maxDelayMs` (as SQS does 15 minutes): the runtime re-delays longer timers hop by hop. */
function capped(inner: Broker, maxDelayMs: number, published: string[]): Broker {
  return {
    name: inner.name,
    capabilities: { ...inner.capabilities, maxDelayMs },
    publish: (queue, body, options) => (published.push(body), inner.publish(queue, body, options)),
    consume: (queue, handler, options) => inner.consume(queue, handler, options),
    close: () => inner.close(),
  };
}

it('keeps the trace context on a retry timer re-delayed hop by hop past the broker\'s longest delay', async () => {
  let fails = 1;
  const flaky = chain(
    'flaky',
    task('once', (n: number) => {
      if (fails-- > 0) throw new Error('flaky');
      return n;
    }, { retry: { maxRetries: 1, backoff: { initial: '5s', jitter: 'none' } } }),
  );
  const clock = new ManualClock();
  const published: string[] = [];
  const runtime = createRuntime({ broker: capped(memoryBroker({ clock }), 1000, published), store: sqliteStore(file()), chains: [flaky], clock, plugins: [otelPlugin()] });
  runtimes.push(runtime);
  await runtime.start();
  await runtime.run(flaky, 7, { id: 'hops-1' });
  for (let i = 0; i < 100 && (await runtime.getRun('hops-1'))?.status !== 'completed'; i++) if (!(await clock.runNext())) await settle(10);
  expect((await runtime.getRun('hops-1'))?.status).toBe('completed');
  // The 5 s timer went out once from the outbox and was re-delayed 4 times, 1 s each.
  expect(published.filter((body) => body.includes('"kind":"timer"'))).toHaveLength(5);
  const spans = tracing.exporter.getFinishedSpans().map(view);
  expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
  expect(ancestry(spans, spans.find((s) => s.name === 'process once' && s.attributes['taskchart.attempt'] === 2)!)).toEqual([
    'run flaky',
    'process once#1',
    'retry once#2',
    'publish once#2',
    'process once#2',
  ]);
});
