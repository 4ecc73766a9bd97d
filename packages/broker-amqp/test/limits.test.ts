/**
 * AMQP's limits on the real RabbitMQ: ids of any length are carried (a long `deduplicationId`
 * becomes a fixed-length hash), and a message the broker can never take is refused with
 * `MessageRefusedError` for that publish alone — the next publishes and the consumers carry on.
 */
import { randomUUID } from 'node:crypto';
import { MessageRefusedError } from '@taskchart/core';
import { type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { AMQP_URL, cleanupPrefix, trackedBroker } from './helpers.js';

const prefixes: string[] = [];
const closers: (() => Promise<void>)[] = [];

function setup(options: Parameters<typeof trackedBroker>[1] = {}) {
  const prefix = `tc-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  const errors: Error[] = [];
  const broker = trackedBroker(prefix, { onError: (e) => errors.push(e), ...options });
  closers.push(() => broker.close());
  return { broker, errors };
}

/** Consumes `queue` into an array, acking everything. */
async function collect(broker: ReturnType<typeof setup>['broker'], queue: string): Promise<Delivery[]> {
  const got: Delivery[] = [];
  await broker.consume(queue, async (d) => {
    got.push(d);
    await d.ack();
  });
  return got;
}

describe('amqp limits', () => {
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    for (const p of prefixes.splice(0)) await cleanupPrefix(p);
  });

  it.each([
    ['200 ASCII characters', 'r'.repeat(200)],
    ["130 × 'ü' (260 bytes)", 'ü'.repeat(130)],
    ['exactly 255 bytes', 'x'.repeat(255)],
  ])('carries a deduplicationId of %s, the same id on every publish of it', { timeout: 20_000 }, async (_label, id) => {
    const { broker } = setup({ publishTimeoutMs: 5_000 });
    const got = await collect(broker, 'work');
    await broker.publish('work', 'one', { deduplicationId: id, headers: { 'x-taskchart-run': id } });
    await broker.publish('work', 'two', { deduplicationId: id, delayMs: 5 });
    await broker.publish('work', 'three', { deduplicationId: `${id}:other` });
    await waitFor(() => got.length === 3, 10_000, 'three deliveries');
    const byBody = new Map(got.map((d) => [d.body, d]));
    const one = byBody.get('one');
    const two = byBody.get('two');
    const three = byBody.get('three');
    // Header values are long strings: carried whole.
    expect(one?.headers['x-taskchart-run']).toBe(id);
    // Stable: the same id maps to the same message id, also through the delay ladder.
    expect(two?.id).toBe(one?.id);
    expect(three?.id).not.toBe(one?.id);
    for (const d of got) expect(Buffer.byteLength(d.id)).toBeLessThanOrEqual(255);
    if (Buffer.byteLength(id) <= 255) expect(one?.id).toBe(id);
  });

  it('refuses a message over maxMessageBytes before sending it, and the next publish goes through', { timeout: 20_000 }, async () => {
    const { broker } = setup({ maxMessageBytes: 1024 });
    expect(broker.capabilities.maxMessageBytes).toBe(1024);
    const got = await collect(broker, 'work');
    const refused = broker.publish('work', 'x'.repeat(2_000));
    await expect(refused).rejects.toBeInstanceOf(MessageRefusedError);
    await expect(refused).rejects.toThrow(/amqp refused a message for queue "work" for good: .*2000 bytes.*1024/);
    await broker.publish('work', 'after');
    await waitFor(() => got.length === 1, 10_000, 'the next message');
    expect(got.map((d) => d.body)).toEqual(['after']);
  });

  it('names the refusal a publish would meet without sending it (refusal()), and none for a message it carries', async () => {
    const { broker } = setup({ maxMessageBytes: 1024 });
    expect(broker.refusal?.('work', 'x'.repeat(2_000))).toBeInstanceOf(MessageRefusedError);
    expect(broker.refusal?.('work', 'x'.repeat(2_000))?.message).toMatch(/2000 bytes.*1024/);
    expect(broker.refusal?.('work', 'a', { headers: { ['k'.repeat(256)]: 'v' } })).toBeInstanceOf(MessageRefusedError);
    expect(broker.refusal?.('work', 'small', { headers: { a: 'b' }, deduplicationId: 'r'.repeat(300) })).toBeUndefined();
  });

  it('refuses a header name over 255 bytes and headers over one frame, and the next publish goes through', { timeout: 20_000 }, async () => {
    const { broker } = setup();
    const got = await collect(broker, 'work');
    await expect(broker.publish('work', 'a', { headers: { ['k'.repeat(256)]: 'v' } })).rejects.toThrow(MessageRefusedError);
    await expect(broker.publish('work', 'a', { headers: { big: 'v'.repeat(70_000) } })).rejects.toThrow(/headers.*bytes/);
    await broker.publish('work', 'after', { headers: { ['k'.repeat(255)]: 'v'.repeat(1_000) } });
    await waitFor(() => got.length === 1, 10_000, 'the next message');
    expect(got[0]?.headers['k'.repeat(255)]).toBe('v'.repeat(1_000));
  });

  it('refuses headers over the negotiated frame size (frameMax in the url), and the next publish goes through', { timeout: 20_000 }, async () => {
    const { broker, errors } = setup({ url: `${AMQP_URL}?frameMax=4096` });
    const got = await collect(broker, 'work');
    await expect(broker.publish('work', 'a', { headers: { big: 'v'.repeat(5_000) } })).rejects.toThrow(/over the connection's frame size of 4096 bytes/);
    await broker.publish('work', 'after', { headers: { small: 'v'.repeat(1_000) } });
    await waitFor(() => got.length === 1, 10_000, 'the next message');
    expect(got[0]?.body).toBe('after');
    expect(errors).toEqual([]);
  });

  it("maps the server's refusal (max_message_size, channel closed) to MessageRefusedError and reopens the channel", { timeout: 60_000 }, async () => {
    // The server's limit is 128 MiB (RabbitMQ's default max_message_size); the adapter is told
    // more, so only the server can refuse it. It closes the publisher channel with
    // PRECONDITION_FAILED, taking any publish in flight on it along.
    const serverLimit = 128 * 1024 * 1024;
    const { broker, errors } = setup({ maxMessageBytes: serverLimit + 1024 });
    const got = await collect(broker, 'work');
    const big = broker.publish('work', 'x'.repeat(serverLimit + 1));
    const alongside = Array.from({ length: 20 }, (_, i) => broker.publish('work', `small ${i}`));
    const error = await big.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MessageRefusedError);
    expect(String(error)).toMatch(/134217729 bytes.*134217728/);
    await Promise.all(alongside);
    await broker.publish('work', 'after');
    await waitFor(() => got.length === 21, 20_000, 'every small message');
    expect(new Set(got.map((d) => d.body))).toEqual(new Set([...Array.from({ length: 20 }, (_, i) => `small ${i}`), 'after']));
    expect(errors.some((e) => /PRECONDITION/.test(e.message))).toBe(true);
    // Only the publisher channel was replaced: the connection (and the consumer's channel on it)
    // stayed up.
    expect(errors.filter((e) => /publisher channel closed|consumer channel|connection/i.test(e.message))).toEqual([]);
  });
});
