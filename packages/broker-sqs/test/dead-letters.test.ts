/**
 * `deadLetter(reason)` moves any message the runtime cannot handle, whatever it carries: ten
 * message attributes (SQS's maximum, leaving no room for the reason), a body near SQS's 1 MiB
 * (leaving no room for anything). Such messages are put on the task queue with the raw SQS
 * client, as a foreign producer would, consumed by the broker, dead-lettered, and must arrive in
 * the dead-letter queue with their reason while the task queue ends empty.
 */
import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageCommand, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { type Broker } from '@taskchart/core';
import { DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER, type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { messageBytes } from '../src/attributes.js';
import { deadLetterMessage, MIN_REASON_BYTES } from '../src/dead-letter.js';
import { DEAD_HEADERS_HEADER, DEAD_TRUNCATED_HEADER, sqsBroker, type SqsBroker } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

const MIB = 1_048_576;
const opened: Broker[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((b) => b.close()));
  for (const p of prefixes.splice(0)) await sqs.cleanup(p);
});

const open = (): SqsBroker => {
  const prefix = `dead-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  const b = sqsBroker({ ...sqs.connection, queuePrefix: prefix, waitTimeSeconds: 1, onError: () => undefined });
  opened.push(b);
  return b;
};

/** Ten String attributes, as a foreign producer might send. */
const tenAttributes = (): Record<string, MessageAttributeValue> =>
  Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`trace-${i}`, { DataType: 'String', StringValue: `value-${i}` }]));

/**
 * Puts `body` with `attributes` on `work` with the raw client, consumes it with a handler that
 * dead-letters it with `reason` (as the runtime does with what it cannot parse), and returns
 * the dead letter and what the task queue still holds.
 */
async function deadLetterRaw(broker: SqsBroker, body: string, attributes: Record<string, MessageAttributeValue>, reason: string) {
  const url = await broker.queueUrl('work');
  await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}) }));
  const outcomes: string[] = [];
  await broker.consume('work', async (d) => {
    await d.deadLetter(reason).then(
      () => outcomes.push('dead-lettered'),
      (e: unknown) => outcomes.push(`failed: ${String(e)}`),
    );
  });
  const dead: Delivery[] = [];
  await broker.consume('work.dead', async (d) => {
    dead.push(d);
    await d.ack();
  });
  await waitFor(() => outcomes.length > 0, 10_000, 'the dead-lettering');
  expect(outcomes).toEqual(['dead-lettered']);
  await waitFor(() => dead.length === 1, 10_000, 'the dead letter');
  const left = await sqs.client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
  );
  const remaining = Object.values(left.Attributes ?? {}).reduce((sum, n) => sum + Number(n), 0);
  return { dead: dead[0] as Delivery, remaining, outcomes };
}

describe('sqs: a malformed message is always dead-lettered', () => {
  it('with ten message attributes: the originals are folded into one attribute beside the reason', async () => {
    const broker = open();
    const attributes = tenAttributes();
    const { dead, remaining } = await deadLetterRaw(broker, '{not json', attributes, 'malformed message: not JSON');
    expect(remaining).toBe(0);
    expect(dead.body).toBe('{not json');
    expect(dead.headers[DEAD_LETTER_REASON_HEADER]).toBe('malformed message: not JSON');
    expect(dead.headers[DEAD_LETTER_QUEUE_HEADER]).toBe('work');
    expect(JSON.parse(dead.headers[DEAD_HEADERS_HEADER] ?? '{}')).toEqual(Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, v.StringValue])));
  });

  it('with a body near 1 MiB: the body is kept whole and the reason shortened to fit', async () => {
    const broker = open();
    const body = 'n'.repeat(MIB - 2000);
    const reason = `malformed message: not JSON ${'…detail'.repeat(600)}`;
    const { dead, remaining } = await deadLetterRaw(broker, body, {}, reason);
    expect(remaining).toBe(0);
    expect(dead.body).toBe(body);
    const kept = dead.headers[DEAD_LETTER_REASON_HEADER] ?? '';
    expect(kept.startsWith('malformed message: not JSON')).toBe(true);
    expect(kept.endsWith('…')).toBe(true);
    expect(Buffer.byteLength(kept)).toBeGreaterThanOrEqual(MIN_REASON_BYTES);
    expect(dead.headers[DEAD_TRUNCATED_HEADER]).toBeUndefined();
  });

  it('with ten attributes and a body filling 1 MiB: the originals make room for the reason, the body stays whole', async () => {
    const broker = open();
    const attributes = tenAttributes();
    const body = 'm'.repeat(MIB - messageBytes('', attributes));
    const { dead, remaining } = await deadLetterRaw(broker, body, attributes, 'malformed message: not JSON');
    expect(remaining).toBe(0);
    expect(dead.body).toBe(body);
    expect(dead.headers[DEAD_LETTER_REASON_HEADER]).toBe('malformed message: not JSON');
    expect(dead.headers[DEAD_HEADERS_HEADER]).toBe('(10 original headers dropped to fit the size limit)');
    expect(dead.headers[DEAD_TRUNCATED_HEADER]).toBeUndefined();
  });

  it('with a body of exactly 1 MiB: the body is cut with a marker, the reason kept', async () => {
    const broker = open();
    const body = `${'m'.repeat(MIB - 4)}end!`;
    const { dead, remaining } = await deadLetterRaw(broker, body, {}, 'malformed message: not JSON');
    expect(remaining).toBe(0);
    expect(dead.headers[DEAD_LETTER_REASON_HEADER]).toBe('malformed message: not JSON');
    expect(dead.headers[DEAD_TRUNCATED_HEADER]).toBe(String(MIB));
    expect(dead.body).toMatch(/^m+\n\[taskchart: body truncated from 1048576 to \d+ bytes to fit the dead-letter queue's 1048576-byte limit\]$/);
    expect(dead.body.length).toBeGreaterThan(MIB - 500);
  });
});

describe('deadLetterMessage (what the dead letter carries)', () => {
  const size = (m: { body: string; headers: Readonly<Record<string, string>> }) =>
    messageBytes(m.body, Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])));

  it('keeps up to eight original headers as they are', () => {
    const headers = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`h${i}`, `v${i}`]));
    const m = deadLetterMessage({ queue: 'work', body: 'b', headers, reason: 'why', limitBytes: MIB });
    expect(m.headers).toEqual({ ...headers, [DEAD_LETTER_REASON_HEADER]: 'why', [DEAD_LETTER_QUEUE_HEADER]: 'work' });
  });

  it('cuts a multi-byte body at a character boundary, and always fits the limit', () => {
    for (const limitBytes of [2048, 4096, 10_000]) {
      const m = deadLetterMessage({ queue: 'work', body: 'ü€😀'.repeat(5000), headers: { a: 'x'.repeat(3000) }, reason: 'r'.repeat(5000), limitBytes });
      expect(size(m)).toBeLessThanOrEqual(limitBytes);
      expect(m.body).not.toContain('\ufffd');
      expect(Buffer.byteLength(m.headers[DEAD_LETTER_REASON_HEADER] ?? '')).toBeGreaterThanOrEqual(MIN_REASON_BYTES - 3);
    }
  });

  it('replaces characters SQS does not carry in the reason', () => {
    const m = deadLetterMessage({ queue: 'work', body: 'b', headers: {}, reason: 'run \uffff\u0001', limitBytes: MIB });
    expect(m.headers[DEAD_LETTER_REASON_HEADER]).toBe('run \ufffd\ufffd');
  });
});
