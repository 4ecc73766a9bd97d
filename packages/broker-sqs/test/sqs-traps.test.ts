/**
 * The SQS traps, each against a real SQS-compatible server over HTTP: the visibility heartbeat,
 * release on close, delays longer than one SQS hop, the payload limit, FIFO order per group,
 * redrive, batching, and the poll loop surviving an outage.
 */
import { randomUUID } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { MessageRefusedError, type Broker } from '@taskchart/core';
import { DEAD_LETTER_REASON_HEADER, DEFAULT_QUEUE, type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MessageTooLargeError, sqsBroker, type SqsBrokerOptions } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

const opened: Broker[] = [];
const clients: SQSClient[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((b) => b.close()));
  for (const c of clients.splice(0)) c.destroy();
  for (const p of prefixes.splice(0)) await sqs.cleanup(p);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const newPrefix = () => {
  const p = `trap-${randomUUID().slice(0, 8)}-`;
  prefixes.push(p);
  return p;
};
const open = (options: SqsBrokerOptions) => {
  // A broker given a ready client takes no connection options.
  const b = sqsBroker({ ...(options.client ? {} : sqs.connection), waitTimeSeconds: 1, onError: () => undefined, ...options });
  opened.push(b);
  return b;
};
const collect = async (broker: Broker, queue: string, settle: (d: Delivery) => Promise<void> = (d) => d.ack(), prefetch = 16) => {
  const got: Array<Delivery & { at: number }> = [];
  const consumer = await broker.consume(
    queue,
    async (d) => {
      got.push({ ...d, at: Date.now() });
      await settle(d);
    },
    { prefetch },
  );
  return { got, consumer };
};

/** A client that counts the SQS operations it sends (a real client: counting only). */
const countingClient = () => {
  const counts = new Map<string, number>();
  const client = new SQSClient(sqs.connection);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName ?? '?', (counts.get(context.commandName ?? '?') ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countOperations' },
  );
  clients.push(client);
  return { client, counts };
};

describe('sqs traps', () => {
  it('keeps a message invisible while its handler runs longer than the visibility timeout (heartbeat)', async () => {
    const prefix = newPrefix();
    const worker = open({ queuePrefix: prefix, visibilityTimeoutSeconds: 1 });
    const other = open({ queuePrefix: prefix, visibilityTimeoutSeconds: 1 });
    await worker.publish('work', 'long-step');
    const slow = await collect(worker, 'work', async (d) => {
      await sleep(3500);
      await d.ack();
    });
    const watcher = await collect(other, 'work');
    await waitFor(() => slow.got.length === 1, 5000, 'the delivery');
    await sleep(4500);
    // Without the heartbeat the message would come back after 1 s, to either consumer.
    expect(slow.got).toHaveLength(1);
    expect(watcher.got).toHaveLength(0);
  });

  it('gives back at once what it received while closing, instead of after the visibility timeout', async () => {
    const prefix = newPrefix();
    const closing = open({ queuePrefix: prefix, visibilityTimeoutSeconds: 60, waitTimeSeconds: 3 });
    const first = await collect(closing, 'work');
    await sleep(200); // its long poll is now waiting on the server
    const cancelled = first.consumer.cancel();
    await closing.publish('work', 'arrives-during-close');
    await cancelled;
    expect(first.got).toHaveLength(0);
    const next = open({ queuePrefix: prefix, visibilityTimeoutSeconds: 60 });
    const second = await collect(next, 'work');
    // With a 60 s visibility timeout, only an explicit release makes this arrive in time.
    await waitFor(() => second.got.length === 1, 5000, 'the released message on another worker');
    expect(second.got[0]?.body).toBe('arrives-during-close');
  });

  it('holds a delay longer than one SQS hop by re-delaying hop by hop, never early', async () => {
    const broker = open({ queuePrefix: newPrefix(), maxDelaySeconds: 1 });
    const { got } = await collect(broker, 'work');
    const sent = Date.now();
    await broker.publish('work', 'in-2.5s', { delayMs: 2500, headers: { 'x-kept': 'yes' } });
    await waitFor(() => got.length === 1, 8000, 'the delayed message');
    const at = (got[0]?.at ?? 0) - sent;
    // One hop is 1 s: a broker that ignored the due time would deliver after ~1 s.
    expect(at).toBeGreaterThanOrEqual(2500);
    expect(at).toBeLessThan(5500);
    expect(got[0]?.headers).toEqual({ 'x-kept': 'yes' });
    expect(got[0]?.redeliveries).toBe(0);
    await sleep(500);
    expect(got).toHaveLength(1);
  });

  it('holds a nack delay with ChangeMessageVisibility', async () => {
    const broker = open({ queuePrefix: newPrefix() });
    await broker.publish('work', 'later-again');
    const { got } = await collect(broker, 'work', (d) => (d.redeliveries === 0 ? d.nack({ delayMs: 1500 }) : d.ack()));
    await waitFor(() => got.length === 2, 6000, 'the redelivery');
    expect((got[1]?.at ?? 0) - (got[0]?.at ?? 0)).toBeGreaterThanOrEqual(1450);
  });

  it('refuses a message over the size limit, naming the queue, run, task, size and limit', async () => {
    const broker = open({ queuePrefix: newPrefix(), maxMessageBytes: 2048 });
    const body = JSON.stringify({ v: 1, kind: 'task', runId: 'run-42', chain: 'referral', step: 's0', task: 'fetchQuote', attempt: 1, compensation: false, input: 'x'.repeat(3000) });
    const refused = broker.publish('work', body);
    await expect(refused).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(refused).rejects.toBeInstanceOf(MessageRefusedError);
    await expect(refused).rejects.toThrow(`sqs refused a message for queue "work" for good: run run-42, task "fetchQuote": the message is ${body.length} bytes`);
    await expect(refused).rejects.toThrow('over the 2048-byte limit (maxMessageBytes)');
    await expect(broker.publish('work', 'y'.repeat(4000))).rejects.toThrow(/queue "work" for good: the message is 4000 bytes .*, over the 2048-byte limit/);
    await broker.publish('work', 'small');
    const { got } = await collect(broker, 'work');
    await waitFor(() => got.length === 1, 5000, 'the small message');
    await sleep(300);
    expect(got.map((d) => d.body)).toEqual(['small']);
  });

  it('counts attributes in the size, and takes up to the default 256 KiB', async () => {
    const broker = open({ queuePrefix: newPrefix() });
    await expect(broker.publish('work', 'z'.repeat(262_000), { headers: { 'x-big': 'h'.repeat(200) } })).rejects.toThrow(/over the 262144-byte limit/);
    await broker.publish('work', 'z'.repeat(262_000));
    const { got } = await collect(broker, 'work');
    await waitFor(() => got.length === 1, 5000, 'the large message');
    expect(got[0]?.body.length).toBe(262_000);
  });

  it('keeps the messages of one FIFO group in order while groups proceed in parallel', async () => {
    const broker = open({ queuePrefix: newPrefix(), fifo: true });
    const runs = ['run-a', 'run-b', 'run-c'];
    for (let i = 0; i < 5; i++) for (const run of runs) await broker.publish('work', `${run}:${i}`, { groupId: run, deduplicationId: `${run}:${i}` });
    let active = 0;
    let peak = 0;
    const { got } = await collect(
      broker,
      'work',
      async (d) => {
        active++;
        peak = Math.max(peak, active);
        await sleep(50);
        active--;
        await d.ack();
      },
      10,
    );
    await waitFor(() => got.length === 15, 10_000, 'fifteen deliveries');
    for (const run of runs) {
      expect(got.filter((d) => d.body.startsWith(run)).map((d) => d.body)).toEqual([0, 1, 2, 3, 4].map((i) => `${run}:${i}`));
    }
    expect(peak).toBeGreaterThan(1);
  });

  it('dead-letters through the redrive policy after maxReceiveCount, for messages that keep failing', async () => {
    const broker = open({ queuePrefix: newPrefix(), maxReceiveCount: 2, visibilityTimeoutSeconds: 2 });
    await broker.publish('work', 'crashes-every-time');
    const { got } = await collect(broker, 'work', async () => {
      throw new Error('worker bug');
    });
    const dead = await collect(broker, 'work.dead');
    await waitFor(() => dead.got.length === 1, 10_000, 'the redriven message');
    expect(dead.got[0]?.body).toBe('crashes-every-time');
    expect(got).toHaveLength(2);
    // SQS's redrive records no reason; explicit deadLetter(reason) does (see the contract).
    expect(dead.got[0]?.headers[DEAD_LETTER_REASON_HEADER]).toBeUndefined();
  });

  it('batches acks into DeleteMessageBatch and publishes into SendMessageBatch', async () => {
    const { client, counts } = countingClient();
    const broker = open({ client, queuePrefix: newPrefix() });
    await Promise.all(Array.from({ length: 30 }, (_, i) => broker.publish('work', `b${i}`)));
    const { got } = await collect(broker, 'work', (d) => d.ack(), 30);
    await waitFor(() => got.length === 30, 5000, 'thirty deliveries');
    await broker.close();
    expect(counts.get('SendMessageBatchCommand')).toBe(3);
    expect(counts.get('SendMessageCommand')).toBeUndefined();
    expect(counts.get('DeleteMessageBatchCommand') ?? 0).toBeLessThanOrEqual(10);
    expect(counts.get('DeleteMessageCommand')).toBeUndefined();
    expect(counts.get('ReceiveMessageCommand') ?? 0).toBeLessThan(30);
  });

  it('keeps several long polls per consumer within the prefetch bound (receiveConcurrency)', async () => {
    const broker = open({ queuePrefix: newPrefix(), receiveConcurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => broker.publish('work', `c${i}`)));
    const release: Array<() => void> = [];
    let active = 0;
    let peak = 0;
    const { got } = await collect(
      broker,
      'work',
      async (d) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((r) => release.push(r));
        active--;
        await d.ack();
      },
      4,
    );
    await waitFor(() => got.length === 4, 5000, 'four deliveries');
    await sleep(1200);
    expect(got).toHaveLength(4);
    const drain = setInterval(() => release.splice(0).forEach((r) => r()), 20);
    try {
      await waitFor(() => got.length === 12 && active === 0, 8000, 'all twelve deliveries');
    } finally {
      clearInterval(drain);
    }
    expect(peak).toBe(4);
    expect(new Set(got.map((d) => d.body)).size).toBe(12);
  });

  it('uses predefined queue URLs without looking queues up, and maps the default queue', async () => {
    const prefix = newPrefix();
    const setup = open({ queuePrefix: prefix });
    const url = await setup.queueUrl('tasks');
    const { client, counts } = countingClient();
    const broker = open({ client, queuePrefix: prefix, defaultQueue: 'tasks', queues: { tasks: url } });
    await broker.publish(DEFAULT_QUEUE, 'to-the-default-queue');
    await expect(broker.publish('elsewhere', 'x')).rejects.toThrow(/queue "elsewhere" \(SQS name "trap-.*elsewhere"\) is not among the predefined queues \(tasks\)/);
    const { got } = await collect(setup, 'tasks');
    await waitFor(() => got.length === 1, 5000, 'the message on the predefined queue');
    expect(got[0]?.body).toBe('to-the-default-queue');
    expect(counts.get('GetQueueUrlCommand')).toBeUndefined();
    expect(counts.get('CreateQueueCommand')).toBeUndefined();
  });
});

describe.skipIf(sqs.server === undefined)('sqs outages (local server only)', () => {
  it('retries a publish across a short outage, and the poll loop resumes by itself', async () => {
    const server = sqs.server as NonNullable<typeof sqs.server>;
    const prefix = newPrefix();
    // The producer's SDK retries outlast the outage; the worker's give up after 2 attempts, so its
    // poll loop itself meets the failures and has to recover.
    // Mid-range jitter makes the producer's schedule fixed: retries at 0.05, 0.15, 0.35, 0.75, 1.55, 3.15 s…
    const producer = open({ queuePrefix: prefix, random: () => 0.5 });
    const errors: string[] = [];
    const worker = open({ queuePrefix: prefix, maxAttempts: 2, retryMaxDelayMs: 1000, onError: (_e, c) => errors.push(c.operation) });
    const { got } = await collect(worker, 'work');
    await producer.publish('work', 'before');
    await waitFor(() => got.length === 1, 5000, 'the first delivery');

    await server.stop();
    const during = producer.publish('work', 'during');
    during.catch(() => undefined); // awaited below, after the restart
    await sleep(3000);
    expect(errors).toContain('ReceiveMessage');
    await server.start();
    await during;
    await producer.publish('work', 'after');
    await waitFor(() => got.length >= 3, 15_000, 'deliveries after the outage');
    expect(got.map((d) => d.body).sort()).toEqual(['after', 'before', 'during']);
    await sleep(500);
    expect(got).toHaveLength(3);
  });

  it('re-creates queues a restarted server lost, and keeps consuming', async () => {
    const server = sqs.server as NonNullable<typeof sqs.server>;
    const errors: string[] = [];
    const broker = open({ queuePrefix: newPrefix(), retryMaxDelayMs: 500, onError: (_e, c) => errors.push(c.operation) });
    const { got } = await collect(broker, 'work');
    await broker.publish('work', 'before');
    await waitFor(() => got.length === 1, 5000, 'the first delivery');
    // fauxqs keeps everything in memory: a fresh start has no queues (real SQS keeps them).
    await server.stop();
    await server.start({ freshState: true });
    // Give the worker's poll time to meet the missing queue before a publish re-creates it.
    await waitFor(() => errors.includes('ReceiveMessage'), 5000, 'the poll to fail on the missing queue');
    await broker.publish('work', 'after-restart');
    await waitFor(() => got.length === 2, 15_000, 'a delivery after the restart');
    expect(got[1]?.body).toBe('after-restart');
  });
});
