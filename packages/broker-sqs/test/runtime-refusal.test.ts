/**
 * End to end on SQS + SQLite (issue 7, items 1 and 4): a step whose output SQS can never carry
 * (300 KB against the default 256 KiB, or U+FFFF) fails its run through the normal failure path
 * — `onFailure` once, the earlier step compensated — with the reason naming the run, the task and the limit,
 * instead of the outbox retrying the publish forever; five other runs on the same runtime
 * complete. And on FIFO queues, run ids of 200 characters or of 'ü's complete.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, RunFailedError, task, type FailureReport, type Runtime } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { GetQueueAttributesCommand, SendMessageCommand, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqsBroker, type SqsBrokerOptions } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

const runtimes: Runtime[] = [];
const prefixes: string[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
  for (const p of prefixes.splice(0)) await sqs.cleanup(p);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startRuntime(chains: Parameters<typeof createRuntime>[0]['chains'], options: SqsBrokerOptions = {}) {
  const prefix = `rt-refuse-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-sqs-refusal-'));
  dirs.push(dir);
  const reports: FailureReport[] = [];
  const broker = sqsBroker({ ...sqs.connection, queuePrefix: prefix, waitTimeSeconds: 1, onError: () => undefined, ...options });
  const runtime = createRuntime({
    broker,
    store: sqliteStore(join(dir, 'runs.db')),
    chains,
    logger: silentLogger,
    onFailure: (r) => {
      reports.push(r);
    },
  });
  runtimes.push(runtime);
  await runtime.start();
  return { runtime, reports, broker };
}

describe('runtime on sqs: a message SQS refuses for good fails its run', () => {
  it.each([
    ['a 300 KB output (over 256 KiB)', 300_000, /the message is \d+ bytes .*over the 262144-byte limit \(maxMessageBytes\)/],
    ['an output holding U+FFFF', -1, /character U\+FFFF \(a noncharacter\) at index \d+ of the body \(input\) is not one SQS carries/],
  ])('%s: failed through onFailure and compensation, naming run, task and limit; 5 other runs complete', { timeout: 60_000 }, async (_label, bigSize, limit) => {
    const compensated: string[] = [];
    // `reserve` has an undo; `produce` has none (its output, SQS could not carry either).
    const reserve = task('reserve', (size: number) => size, {
      compensate: (_output, ctx) => {
        compensated.push(ctx.runId);
      },
    });
    const produce = task('produce', (size: number) => (size < 0 ? 'bad \uffff output' : 'p'.repeat(size)));
    const store = task('store', (report: string) => report.length);
    const c = chain('report', reserve, produce, store);
    const { runtime, reports } = await startRuntime([c]);

    const refused = await runtime.run(c, bigSize);
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => runtime.run(c, 10 + i)));
    expect(await Promise.all(others.map((r) => r.result()))).toEqual([10, 11, 12, 13, 14]);

    const failure = await refused.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(RunFailedError);
    const info = await runtime.getRun(refused.id);
    expect(info?.status).toBe('compensated');
    expect(info?.failedTask).toBe('store');
    expect(info?.error?.name).toBe('MessageRefusedError');
    expect(info?.error?.message).toContain(refused.id);
    expect(info?.error?.message).toContain('task "store"');
    expect(info?.error?.message).toMatch(limit);
    await waitFor(() => reports.length > 0, 10_000, 'the failure report');
    expect(reports.map((r) => [r.runId, r.task, r.error.name])).toEqual([[refused.id, 'store', 'MessageRefusedError']]);
    expect(compensated).toEqual([refused.id]);
  });
});

describe('runtime on sqs FIFO: run ids SQS could not take as group ids', () => {
  it.each([
    ['200 ASCII characters', 'r'.repeat(200)],
    ["130 × 'ü'", 'ü'.repeat(130)],
  ])('completes a run whose id is %s, and 5 others alongside', { timeout: 60_000 }, async (_label, id) => {
    const add = task('add', (x: number) => x + 1);
    const double = task('double', (x: number) => x * 2);
    const c = chain('fifo-ids', add, double);
    const { runtime } = await startRuntime([c], { fifo: true });
    const long = await runtime.run(c, 1, { id });
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => runtime.run(c, i)));
    expect(await long.result()).toBe(4);
    expect(await Promise.all(others.map((r) => r.result()))).toEqual([2, 4, 6, 8, 10]);
  });
});

describe('runtime on sqs: a message it cannot parse is dead-lettered with its reason, whatever SQS carries with it (issue 7, item 4)', () => {
  const tenAttributes: Record<string, MessageAttributeValue> = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`trace-${i}`, { DataType: 'String', StringValue: `value-${i}` }]));

  it.each([
    ['a non-JSON body with ten message attributes', '{not json', tenAttributes],
    ['a non-JSON body near 1 MiB', 'n'.repeat(1_048_576 - 2_000), {}],
  ])('%s: dead-lettered once, the task queue left empty, other runs complete', { timeout: 60_000 }, async (_label, body, attributes) => {
    const c = chain('parse', task('double', (n: number) => n * 2));
    const { runtime, broker, reports } = await startRuntime([c]);
    // Put on the runtime's task queue as a foreign producer would, with the raw client.
    const url = await broker.queueUrl('taskchart');
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}) }));

    const runs = await Promise.all([1, 2, 3].map((n) => runtime.run(c, n)));
    expect(await Promise.all(runs.map((r) => r.result()))).toEqual([2, 4, 6]);
    await waitFor(async () => (await runtime.deadLetters()).length > 0, 20_000, 'the dead letter');
    const dead = await runtime.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]?.queue).toBe('taskchart');
    expect(dead[0]?.reason).toMatch(/^malformed message: not JSON/);
    expect(dead[0]?.body).toBe(body);
    // Nothing cycles on the task queue; no run failed for it.
    await waitFor(
      async () => {
        const left = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
        return Object.values(left.Attributes ?? {}).reduce((sum, n) => sum + Number(n), 0) === 0;
      },
      20_000,
      'an empty task queue',
    );
    expect(reports).toEqual([]);
  });
});
