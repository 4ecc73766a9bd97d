/**
 * Throttling and 5xx answers, as SQS gives them under load: the real server behind a proxy that
 * answers chosen requests with the error itself. The adapter's SDK retry strategy must retry
 * them with backoff and jitter, and must not retry a client error.
 */
import { randomUUID } from 'node:crypto';
import { MessageRefusedError, type Broker } from '@taskchart/core';
import { type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sqsBroker, type SqsBrokerOptions } from '../src/index.js';
import { INTERNAL_ERROR, SERVICE_UNAVAILABLE, startFaultProxy, THROTTLED, type FaultProxy, type SeenRequest } from './http-fault-proxy.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(sqs.endpoint);
});
afterAll(async () => {
  await proxy.close();
  await sqs.stop();
});

const opened: Broker[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((b) => b.close()));
  for (const p of prefixes.splice(0)) await sqs.cleanup(p);
});

/** A broker that talks to the server through the proxy; jitter pinned to the middle of its range. */
function openThroughProxy(options: Partial<SqsBrokerOptions> = {}): Broker {
  const prefix = `throttle-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  const broker = sqsBroker({
    ...sqs.connection,
    endpoint: proxy.endpoint,
    queuePrefix: prefix,
    waitTimeSeconds: 1,
    random: () => 0.5,
    retryBaseDelayMs: 100,
    onError: () => undefined,
    ...options,
  });
  opened.push(broker);
  return broker;
}

const sends = (from: number) => proxy.seen.slice(from).filter((r) => r.operation.startsWith('SendMessage'));

/** Gaps between consecutive requests, in ms. */
const gaps = (requests: readonly SeenRequest[]) => requests.slice(1).map((r, i) => r.at - (requests[i]?.at ?? r.at));

describe('sqs throttling and server errors (through a fault-injecting proxy)', () => {
  it('retries throttled and 5xx publishes with jittered exponential backoff; the message arrives once', async () => {
    const broker = openThroughProxy();
    const got: Delivery[] = [];
    await broker.consume('work', async (d) => {
      got.push(d);
      await d.ack();
    });
    await broker.publish('work', 'warm-up'); // creates the queue, learns which send operation a lone publish uses
    await waitFor(() => got.length === 1, 5000, 'the warm-up message');
    const operation = sends(0).at(-1)?.operation ?? 'SendMessage';

    const from = proxy.seen.length;
    proxy.inject(operation, SERVICE_UNAVAILABLE, 1);
    proxy.inject(operation, THROTTLED, 1);
    proxy.inject(operation, INTERNAL_ERROR, 1);
    await broker.publish('work', 'through-the-storm');
    await waitFor(() => got.length === 2, 5000, 'the message published through the faults');

    const attempts = sends(from);
    expect(attempts.map((r) => r.fault?.code ?? 'ok')).toEqual(['ServiceUnavailable', 'ThrottlingException', 'InternalError', 'ok']);
    // Full jitter at random 0.5: half of min(cap, 100 ms * 2^retry) before each retry: 50, 100, 200 ms.
    const waited = gaps(attempts);
    [50, 100, 200].forEach((delay, i) => expect(waited[i], `wait before retry ${i + 1}`).toBeGreaterThanOrEqual(delay - 5));
    expect(got.map((d) => d.body)).toEqual(['warm-up', 'through-the-storm']);
  });

  it('keeps consuming while receives are throttled', async () => {
    const broker = openThroughProxy();
    await broker.publish('work', 'waiting');
    const from = proxy.seen.length;
    proxy.inject('ReceiveMessage', THROTTLED, 3);
    const got: string[] = [];
    await broker.consume('work', async (d) => {
      got.push(d.body);
      await d.ack();
    });
    await waitFor(() => got.length === 1, 10_000, 'the message after throttled receives');
    const receives = proxy.seen.slice(from).filter((r) => r.operation === 'ReceiveMessage');
    expect(receives.slice(0, 4).map((r) => r.fault?.code ?? 'ok')).toEqual(['ThrottlingException', 'ThrottlingException', 'ThrottlingException', 'ok']);
    expect(got).toEqual(['waiting']);
  });

  it('does not retry a client error: the publish fails at once, naming the cause', async () => {
    const broker = openThroughProxy();
    await broker.publish('work', 'creates-the-queue');
    const operation = sends(0).at(-1)?.operation ?? 'SendMessage';
    const from = proxy.seen.length;
    proxy.inject(operation, { status: 400, code: 'InvalidParameterValue' }, 1);
    const rejected = broker.publish('work', 'rejected');
    await expect(rejected).rejects.toThrow(/InvalidParameterValue/);
    // Not about the message itself (no size, no character): an operator may fix it, so not a refusal.
    await expect(rejected).rejects.not.toBeInstanceOf(MessageRefusedError);
    expect(sends(from).map((r) => r.fault?.code ?? 'ok')).toEqual(['InvalidParameterValue']);
  });

  it("maps SQS's InvalidMessageContents (AWS JSON protocol) to MessageRefusedError, sent once", async () => {
    const broker = openThroughProxy();
    await broker.publish('work', 'creates-the-queue');
    const operation = sends(0).at(-1)?.operation ?? 'SendMessage';
    const from = proxy.seen.length;
    proxy.inject(operation, { status: 400, code: 'InvalidMessageContents' }, 1);
    const refused = broker.publish('work', JSON.stringify({ runId: 'run-9', task: 'notify' }));
    await expect(refused).rejects.toBeInstanceOf(MessageRefusedError);
    await expect(refused).rejects.toThrow('sqs refused a message for queue "work" for good: run run-9, task "notify": SQS answered InvalidMessageContents');
    await broker.publish('work', 'after');
    expect(sends(from).map((r) => r.fault?.code ?? 'ok')).toEqual(['InvalidMessageContents', 'ok']);
  });

  it('keeps a publish throttled past maxAttempts a plain (retryable) error, not a refusal', async () => {
    const broker = openThroughProxy({ maxAttempts: 2 });
    await broker.publish('work', 'creates-the-queue');
    const operation = sends(0).at(-1)?.operation ?? 'SendMessage';
    proxy.inject(operation, THROTTLED, 2);
    const throttled = broker.publish('work', 'throttled');
    await expect(throttled).rejects.toThrow(/ThrottlingException/);
    await expect(throttled).rejects.not.toBeInstanceOf(MessageRefusedError);
  });
});
