import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { chain, createRuntime, NonRetryableError, task, type AnyChain, type Plugin, type Runtime } from '@taskchart/core';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { otelPlugin } from '../src/index.js';
import { ancestry, memoryTracing, registerGlobals, view, type SpanView } from './tracing.js';

const tracing = memoryTracing();
let unregister: () => void;
beforeAll(() => {
  unregister = registerGlobals(tracing.provider);
});
afterAll(async () => {
  unregister();
  await tracing.provider.shutdown();
});

interface Rig {
  runtime: Runtime;
  clock: ManualClock;
  /** The headers of every message an attempt was consumed from, as `wrapAttempt` saw them. */
  headers: Array<Readonly<Record<string, string>>>;
  dispose(): Promise<void>;
}
let rig: Rig | undefined;
afterEach(async () => {
  await rig?.dispose();
  rig = undefined;
  tracing.exporter.reset();
});

async function start(chains: AnyChain[], plugins: Plugin[] = [otelPlugin()]): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-otel-'));
  const clock = new ManualClock();
  const headers: Rig['headers'] = [];
  const recorder: Plugin = { name: 'recorder', wrapAttempt: (ctx, next) => (headers.push(ctx.headers), next()) };
  const runtime = createRuntime({ broker: memoryBroker({ clock }), store: sqliteStore(join(dir, 'runs.db')), chains, clock, logger: silentLogger, plugins: [...plugins, recorder] });
  await runtime.start();
  return {
    runtime,
    clock,
    headers,
    async dispose() {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fires timers until run `id` is terminal. */
async function finish(r: Rig, id: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    await settle(10);
    const info = await r.runtime.getRun(id);
    if (info && ['completed', 'failed', 'compensated'].includes(info.status)) return info.status;
    if (!(await r.clock.runNext())) await settle(10);
  }
  throw new Error(`run ${id} did not finish`);
}

const spans = (): SpanView[] => tracing.exporter.getFinishedSpans().map(view);
const named = (name: string, attempt?: number) => spans().filter((s) => s.name === name && (attempt === undefined || s.attributes['taskchart.attempt'] === attempt));
const one = (name: string, attempt?: number): SpanView => {
  const found = named(name, attempt);
  expect(found, `spans named "${name}"${attempt === undefined ? '' : ` #${attempt}`}`).toHaveLength(1);
  return found[0] as SpanView;
};

// An order: reserve stock, charge (fails once, then succeeds), ship (fails for good) → charge and
// reserve are compensated, in reverse order.
const retry = { maxRetries: 2, backoff: { initial: '1s', jitter: 'none' } } as const;
let charges = 0;
const reserve = task('reserve', (o: { order: string }) => ({ ...o, reserved: true }), { retry, queue: 'stock', compensate: () => undefined });
const charge = task(
  'charge',
  (o: { order: string; reserved: boolean }) => {
    if (++charges === 1) throw new Error('card gateway timeout');
    return { ...o, charged: 12 };
  },
  { retry, queue: 'payments', compensate: () => undefined },
);
const ship = task(
  'ship',
  (o: { order: string; charged: number }): { shipped: boolean } => {
    throw new NonRetryableError(`no address for ${o.order}`);
  },
  { retry, queue: 'shipping' },
);
const order = chain('order', reserve, charge, ship);
const pair = chain('pair', task('a', (n: number) => n + 1), task('b', (n: number) => n * 2));

describe('otelPlugin with the real OpenTelemetry SDK (memory broker + SQLite)', () => {
  it('traces a run with a retry and a compensation as one trace: run, publish/retry (PRODUCER) and process/compensate (CONSUMER) spans, each the child of what caused it', async () => {
    charges = 0;
    rig = await start([order]);
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('POST /orders', async (request) => {
      await rig!.runtime.run(order, { order: 'o-1' }, { id: 'order-1' });
      request.end();
    });
    expect(await finish(rig, 'order-1')).toBe('compensated');

    const all = spans();
    // One trace: the request's, with every span of the run in it.
    expect(new Set(all.map((s) => s.traceId)).size).toBe(1);

    // The causal chain from the last compensation up to the request, through both workers' hops.
    expect(ancestry(all, one('compensate reserve'))).toEqual([
      'POST /orders',
      'run order',
      'process reserve#1',
      'publish charge#1',
      'process charge#1',
      'retry charge#2',
      'publish charge#2',
      'process charge#2',
      'publish ship#1',
      'process ship#1',
      'publish charge#1',
      'compensate charge#1',
      'publish reserve#1',
      'compensate reserve#1',
    ]);
    expect(all.map((s) => s.name).sort()).toEqual(
      [
        'POST /orders',
        'run order',
        'process reserve',
        'publish charge',
        'process charge',
        'retry charge',
        'publish charge',
        'process charge',
        'publish ship',
        'process ship',
        'publish charge',
        'compensate charge',
        'publish reserve',
        'compensate reserve',
      ].sort(),
    );

    // Kinds: messages written are PRODUCER spans, attempts CONSUMER spans.
    for (const s of all) {
      if (s.name === 'POST /orders') continue;
      const producer = /^(run|publish|retry) /.test(s.name);
      expect(s.kind, s.name).toBe(producer ? SpanKind.PRODUCER : SpanKind.CONSUMER);
      expect(s.attributes['messaging.system'], s.name).toBe('taskchart');
      expect(s.attributes['messaging.operation.type'], s.name).toBe(producer ? 'send' : 'process');
      expect(s.attributes['taskchart.run.id'], s.name).toBe('order-1');
      expect(s.attributes['messaging.message.conversation_id'], s.name).toBe('order-1');
      expect(s.attributes['taskchart.chain'], s.name).toBe('order');
    }

    // The run span starts the run and writes its first message.
    expect(one('run order').attributes).toMatchObject({ 'messaging.operation.name': 'run', 'messaging.destination.name': 'stock', 'taskchart.step': 'reserve', 'taskchart.task': 'reserve', 'taskchart.attempt': 1 });

    // An attempt: its queue, its message id, its step, task and attempt.
    const processed = one('process charge', 2);
    expect(processed.attributes).toMatchObject({
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'payments',
      'taskchart.step': 'charge',
      'taskchart.task': 'charge',
      'taskchart.attempt': 2,
      'taskchart.compensation': false,
    });
    expect(typeof processed.attributes['messaging.message.id']).toBe('string');
    expect(processed.status.code).toBe(SpanStatusCode.UNSET);

    // Failed attempts: the error recorded, status ERROR.
    const failed = one('process charge', 1);
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Error: card gateway timeout' });
    expect(failed.attributes['error.type']).toBe('Error');
    expect(failed.events).toEqual(['exception']);
    expect(one('process ship').status).toEqual({ code: SpanStatusCode.ERROR, message: 'NonRetryableError: no address for o-1' });

    // The retry timer: its delay (1 s backoff) and the attempt it starts.
    expect(one('retry charge').attributes).toMatchObject({ 'messaging.operation.name': 'retry', 'messaging.destination.name': 'payments', 'taskchart.attempt': 2, 'taskchart.delay_ms': 1000 });

    // Compensations: their own span names and the compensation flag.
    expect(one('compensate charge').attributes).toMatchObject({ 'messaging.operation.name': 'compensate', 'taskchart.compensation': true, 'messaging.destination.name': 'payments' });
    expect(named('publish reserve')[0]?.attributes['taskchart.compensation']).toBe(true);

    // Every attempt's message carried a W3C traceparent naming the span that wrote it.
    expect(rig.headers).toHaveLength(6);
    const producers = new Set(all.filter((s) => s.kind === SpanKind.PRODUCER).map((s) => s.spanId));
    for (const h of rig.headers) {
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h['traceparent'] ?? '');
      expect(match, JSON.stringify(h)).not.toBeNull();
      expect(match?.[1]).toBe(all[0]?.traceId);
      expect(producers.has(match?.[2] ?? '')).toBe(true);
    }
  });

  it('makes each run its own trace when no span is current at start, and keeps parallel runs apart', async () => {
    rig = await start([pair]);
    await Promise.all(['p-1', 'p-2'].map((id, i) => rig!.runtime.run(pair, i, { id })));
    expect(await finish(rig, 'p-1')).toBe('completed');
    expect(await finish(rig, 'p-2')).toBe('completed');
    const all = spans();
    for (const id of ['p-1', 'p-2']) {
      const mine = all.filter((s) => s.attributes['taskchart.run.id'] === id);
      const root = mine.find((s) => s.name === 'run pair');
      expect(root?.parentId).toBeUndefined();
      expect(mine.every((s) => s.traceId === root?.traceId)).toBe(true);
      expect(ancestry(mine, mine.find((s) => s.name === 'process b')!)).toEqual(['run pair', 'process a#1', 'publish b#1', 'process b#1']);
    }
    expect(new Set(all.map((s) => s.traceId)).size).toBe(2);
  });

  it('adds no header and no span without a registered provider and propagator, and the runs go on', async () => {
    unregister();
    try {
      rig = await start([pair]);
      const run = await rig.runtime.run(pair, 3, { id: 'quiet-1' });
      expect(await finish(rig, 'quiet-1')).toBe('completed');
      expect(await run.result()).toBe(8);
      expect(spans()).toEqual([]);
      // Only the runtime's own header: the plugin wrote nothing into the messages.
      expect(rig.headers.map((h) => Object.keys(h).sort())).toEqual([['x-taskchart-run'], ['x-taskchart-run']]);
    } finally {
      unregister = registerGlobals(tracing.provider);
    }
  });

  it('takes its own tracer provider and propagator instead of the global ones', async () => {
    const own = memoryTracing();
    const { W3CTraceContextPropagator } = await import('@opentelemetry/core');
    rig = await start([pair], [otelPlugin({ tracerProvider: own.provider, propagator: new W3CTraceContextPropagator(), system: 'rabbitmq' })]);
    await rig.runtime.run(pair, 1, { id: 'own-1' });
    expect(await finish(rig, 'own-1')).toBe('completed');
    expect(spans()).toEqual([]);
    const mine = own.exporter.getFinishedSpans().map(view);
    expect(mine.map((s) => s.name)).toEqual(['run pair', 'process a', 'publish b', 'process b']);
    expect(mine.every((s) => s.attributes['messaging.system'] === 'rabbitmq')).toBe(true);
    expect(new Set(mine.map((s) => s.traceId)).size).toBe(1);
    await own.provider.shutdown();
  });
});
