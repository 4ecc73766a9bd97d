/**
 * The trace context survives the SQS adapter: headers travel as message attributes (at most 10
 * per message; the runtime's, the signature and `traceparent` take 3), a retry's delayed message
 * included. On the fauxqs server the test starts (or SQS_ENDPOINT).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqsBroker } from '@taskchart/broker-sqs';
import { chain, createRuntime, task, type Runtime } from '@taskchart/core';
import { silentLogger } from '@taskchart/core/testing';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTestEndpoint, type TestEndpoint } from '../../broker-sqs/test/sqs-endpoint.js';
import { otelPlugin } from '../src/index.js';
import { ancestry, memoryTracing, registerGlobals, view } from './tracing.js';

const tracing = memoryTracing();
let unregister: () => void;
let sqs: TestEndpoint;
beforeAll(async () => {
  unregister = registerGlobals(tracing.provider);
  sqs = await openTestEndpoint();
});
afterAll(async () => {
  unregister();
  await tracing.provider.shutdown();
  await sqs.stop();
});

let fails = 1;
const retry = { maxRetries: 2, backoff: { initial: '1s', jitter: 'none' } } as const;
const relay = chain(
  'relay',
  task('first', (n: number) => n + 1, { retry }),
  task(
    'second',
    (n: number) => {
      if (fails-- > 0) throw new Error('flaky');
      return n * 2;
    },
    { retry },
  ),
);

it('carries traceparent through SQS message attributes, beside the runtime headers and the signature, across a delayed retry', { timeout: 60_000 }, async () => {
  const prefix = `tc-otel-${randomUUID().slice(0, 8)}-`;
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-otel-sqs-'));
  const headers: Array<Readonly<Record<string, string>>> = [];
  let runtime: Runtime | undefined;
  try {
    runtime = createRuntime({
      broker: sqsBroker({ ...sqs.connection, queuePrefix: prefix, waitTimeSeconds: 1, onError: () => undefined }),
      store: sqliteStore(join(dir, 'runs.db')),
      chains: [relay],
      logger: silentLogger,
      signingKey: 'otel-test-signing-key',
      plugins: [otelPlugin({ system: 'aws_sqs' }), { name: 'recorder', wrapAttempt: (ctx, next) => (headers.push(ctx.headers), next()) }],
    });
    await runtime.start();
    const run = await runtime.run(relay, 1, { id: `sqs-${prefix}` });
    expect(await run.result({ timeout: '45s' })).toBe(4);

    const spans = tracing.exporter.getFinishedSpans().map(view);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(ancestry(spans, spans.find((s) => s.name === 'process second' && s.attributes['taskchart.attempt'] === 2)!)).toEqual([
      'run relay',
      'process first#1',
      'publish second#1',
      'process second#1',
      'retry second#2',
      'publish second#2',
      'process second#2',
    ]);
    expect(headers).toHaveLength(3);
    for (const h of headers) expect(Object.keys(h).sort()).toEqual(['traceparent', 'x-taskchart-run', 'x-taskchart-signature']);
  } finally {
    await runtime?.close();
    await sqs.cleanup(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
});
