/**
 * A connection cut while a publish moves a delivery — a delay-ladder hop, a delayed `nack`, a
 * `deadLetter`, a dead-letter redrive — on the real RabbitMQ, through a TCP proxy that cuts at the moment the client
 * sends that publish (the bytes never reach the server). The original was not acked, so the
 * server delivers it again: that redelivery must be the only copy that carries on, never none
 * and never a second one. The same for a dead letter being re-driven. A publish of the
 * application's own is sent again after the same cut.
 */
import { randomUUID } from 'node:crypto';
import { deadLetterQueueName, type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpUnavailableError } from '../src/index.js';
import { FaultRig } from './fault-rig.js';
import { AMQP_URL, readyMessages, trackedBroker } from './helpers.js';
import { TcpProxy } from './tcp-proxy.js';

const rig = new FaultRig();

/** A broker talking to RabbitMQ through a fresh proxy. */
async function proxied() {
  const proxy = new TcpProxy('127.0.0.1', 5672);
  rig.proxy(proxy);
  await proxy.up();
  const prefix = rig.prefix();
  const errors: Error[] = [];
  const url = AMQP_URL.replace(/@[^/]+/, `@127.0.0.1:${proxy.port}`);
  const broker = trackedBroker(prefix, { url, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, publishTimeoutMs: 20_000, onError: (e) => errors.push(e) });
  rig.broker(broker);
  return { proxy, prefix, broker, errors };
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('amqp: a cut while a publish moves a delivery', () => {
  afterEach(() => rig.cleanUp());

  afterAll(async () => {
    expect(await rig.queuesLeft()).toEqual([]);
  });

  it('a cut during a delay-ladder hop: the message is delivered once, by the redelivered original', async () => {
    const { proxy, broker, errors } = await proxied();
    const got: string[] = [];
    await broker.consume('work', async (d) => {
      got.push(d.body);
      await d.ack();
    });
    const body = `hop-${randomUUID()}`;
    // 1024 ms in the first level, then a hop down the ladder with about 476 ms left: cut there.
    await broker.publish('work', body, { delayMs: 1_500 });
    await within(proxy.cutAt(body), 10_000, 'the hop publish');
    await waitFor(() => got.includes(body), 10_000, 'the delayed message');
    // Nothing left anywhere: no second copy waiting in the ladder or the work queue...
    for (let i = 0; (await readyMessages(broker.declared().queues)) > 0; i++) {
      if (i >= 100) throw new Error('a copy still waits in a queue after 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // ...nor on its way to the consumer (copies travel the ladder within a few ms of each other).
    await new Promise((r) => setTimeout(r, 500));
    expect(got.filter((b) => b === body)).toHaveLength(1);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('a cut during a delayed nack: the original comes back once, and no copy waits in the ladder', async () => {
    const { proxy, broker } = await proxied();
    const body = `nack-${randomUUID()}`;
    const deliveries: Delivery[] = [];
    let cut: Promise<void> | undefined;
    let nacked = false;
    await broker.consume('work', async (d) => {
      deliveries.push(d);
      if (deliveries.length > 1) return d.ack();
      cut = proxy.cutAt(body);
      await d.nack({ delayMs: 60_000 });
      nacked = true;
    });
    await broker.publish('work', body);
    await waitFor(() => cut !== undefined, 10_000, 'the first delivery');
    await within(cut ?? Promise.resolve(), 10_000, 'the nack publish');
    await waitFor(() => deliveries.length >= 2 && nacked, 10_000, 'the redelivered original and the nack settled');
    expect(deliveries[1]?.body).toBe(body);
    expect(deliveries[1]?.redeliveries).toBe(1);
    // The nack settled (quietly, as an ack on a closed channel): a re-sent copy would have been
    // confirmed before that, and would wait in a ladder queue now.
    expect(await readyMessages(broker.declared().queues)).toBe(0);
    expect(deliveries).toHaveLength(2);
  });

  it('a cut during a deadLetter: one dead letter, from the redelivered original', async () => {
    const { proxy, prefix, broker } = await proxied();
    const body = `dead-${randomUUID()}`;
    const bodies: string[] = [];
    let cut: Promise<void> | undefined;
    let settled = 0;
    await broker.consume('work', async (d) => {
      bodies.push(d.body);
      cut ??= proxy.cutAt(body);
      await d.deadLetter(`poison ${bodies.length}`);
      settled++;
    });
    await broker.publish('work', body);
    await waitFor(() => cut !== undefined, 10_000, 'the first delivery');
    await within(cut ?? Promise.resolve(), 10_000, 'the dead-letter publish');
    await waitFor(() => settled === 2, 10_000, 'both deliveries dead-lettered');
    expect(bodies).toEqual([body, body]);
    // Every dead-letter publish was confirmed before its deadLetter() resolved.
    expect(await readyMessages([`${prefix}${deadLetterQueueName('work')}`])).toBe(1);
    expect(await readyMessages([`${prefix}work`])).toBe(0);
    const dead = await broker.deadLetters.list('work');
    expect(dead.map((m) => [m.body, m.reason])).toEqual([[body, 'poison 2']]);
  });

  it('a cut during a redrive: the dead letter stays in the dead-letter queue, once, and the next redrive moves it', async () => {
    const { proxy, prefix, broker } = await proxied();
    const body = `redrive-${randomUUID()}`;
    const dead = `${prefix}${deadLetterQueueName('work')}`;
    const consumer = await broker.consume('work', (d) => d.deadLetter('poison'));
    await broker.publish('work', body);
    for (let i = 0; (await readyMessages([dead])) < 1; i++) {
      if (i >= 100) throw new Error('no dead letter after 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await consumer.cancel();
    const cut = proxy.cutAt(body);
    const error = await broker.deadLetters.redrive('work').catch((e: unknown) => e);
    await within(cut, 1_000, 'the redrive publish');
    // Back in the dead-letter queue (the channel's unacked message), and not sent to the work queue.
    for (let i = 0; (await readyMessages([dead])) < 1; i++) {
      if (i >= 100) throw new Error('the dead letter did not come back within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await readyMessages([dead, `${prefix}work`])).toBe(1);
    expect(error).toBeInstanceOf(AmqpUnavailableError);
    expect((error as Error).message).toMatch(/0 moved/);
    expect(await broker.deadLetters.redrive('work')).toBe(1);
    expect(await readyMessages([`${prefix}work`])).toBe(1);
    expect(await readyMessages([dead])).toBe(0);
  });

  it('a publish of the application cut the same way is sent again, and delivered', async () => {
    const { proxy, broker } = await proxied();
    const got: string[] = [];
    await broker.consume('work', async (d) => {
      got.push(d.body);
      await d.ack();
    });
    const body = `plain-${randomUUID()}`;
    const cut = proxy.cutAt(body);
    await broker.publish('work', body);
    await cut;
    await waitFor(() => got.includes(body), 10_000, 'the message');
    expect(got.filter((b) => b === body)).toHaveLength(1);
  });
});
