/**
 * What the shared broker contract cannot see of SQS's dead-letter access: headers folded by
 * `deadLetter` come back unfolded, a re-driven FIFO message keeps its group, and a redrive of
 * everything ends even when a consumer dead-letters each message again at once.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_REASON_HEADER, type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEAD_HEADERS_HEADER, sqsBroker, type SqsBroker } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

const opened: SqsBroker[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((b) => b.close()));
  for (const p of prefixes.splice(0)) await sqs.cleanup(p);
});

const open = (fifo = false): SqsBroker => {
  const prefix = `redrive-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  const b = sqsBroker({ ...sqs.connection, queuePrefix: prefix, waitTimeSeconds: 1, fifo, onError: () => undefined });
  opened.push(b);
  return b;
};

/** Consumes `work`, dead-lettering every message with `reason`, until `count` were; the consumer keeps going until `cancel()`. */
async function deadLetterAll(broker: SqsBroker, count: number, reason: string): Promise<{ settled: () => number; cancel: () => Promise<void> }> {
  let settled = 0;
  const consumer = await broker.consume('work', async (d) => {
    await d.deadLetter(reason);
    settled++;
  });
  await waitFor(() => settled >= count, 10_000, `${count} dead letters`);
  return { settled: () => settled, cancel: () => consumer.cancel() };
}

describe('sqs: listing and re-driving dead letters', () => {
  it('unfolds the original headers that dead-lettering folded into one attribute', async () => {
    const broker = open();
    const url = await broker.queueUrl('work');
    const attributes = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`trace-${i}`, { DataType: 'String', StringValue: `value-${i}` }]));
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{not json', MessageAttributes: attributes }));
    await (await deadLetterAll(broker, 1, 'malformed message: not JSON')).cancel();
    const originals = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`trace-${i}`, `value-${i}`]));
    const [listed] = await broker.deadLetters.list('work');
    expect(listed).toMatchObject({ queue: 'work', reason: 'malformed message: not JSON', body: '{not json' });
    expect(listed?.headers).toEqual(originals);
    expect(await broker.deadLetters.redrive('work')).toBe(1);
    const back: Delivery[] = [];
    await broker.consume('work', async (d) => {
      back.push(d);
      await d.ack();
    });
    await waitFor(() => back.length === 1, 10_000, 'the re-driven message');
    expect(back[0]?.headers).toEqual(originals);
    expect(back[0]?.headers[DEAD_HEADERS_HEADER]).toBeUndefined();
  });

  it('keeps the message group of a FIFO message it re-drives', async () => {
    const broker = open(true);
    await broker.publish('work', 'grouped', { groupId: 'run-7' });
    await (await deadLetterAll(broker, 1, 'unknown chain "x"')).cancel();
    expect(await broker.deadLetters.redrive('work')).toBe(1);
    const url = await broker.queueUrl('work');
    const out = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['MessageGroupId'], MessageAttributeNames: ['All'] }));
    expect(out.Messages?.map((m) => [m.Body, m.Attributes?.MessageGroupId])).toEqual([['grouped', 'run-7']]);
    expect(out.Messages?.[0]?.MessageAttributes?.[DEAD_LETTER_REASON_HEADER]).toBeUndefined();
  });

  it('ends a redrive of everything even when each message is dead-lettered again at once', async () => {
    const broker = open();
    await broker.publish('work', 'poison');
    // This consumer keeps dead-lettering whatever comes back.
    const consumer = await deadLetterAll(broker, 1, 'still poison');
    const [before] = await broker.deadLetters.list('work');
    expect(await broker.deadLetters.redrive('work')).toBe(1);
    await waitFor(() => consumer.settled() === 2, 10_000, 'the message dead-lettered again');
    await consumer.cancel();
    const after = await broker.deadLetters.list('work');
    expect(after.map((m) => [m.body, m.reason])).toEqual([['poison', 'still poison']]);
    expect(after[0]?.id).not.toBe(before?.id);
  });
});
