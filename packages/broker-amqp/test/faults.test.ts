/**
 * Faults on the real RabbitMQ: connections force-closed by the server, a network outage (a TCP
 * proxy cut in front of the server), a consumer cancelled by the server, poison messages.
 */
import { DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER, deadLetterQueueName, type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { connect } from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpUnavailableError, pickDelayLevel } from '../src/index.js';
import { FaultRig } from './fault-rig.js';
import { AMQP_URL, closeConnection, connectionPids, forceCloseConnections, trackedBroker } from './helpers.js';
import { TcpProxy } from './tcp-proxy.js';

const rig = new FaultRig();

function fresh(options: Parameters<typeof trackedBroker>[1] = {}) {
  const prefix = rig.prefix();
  const errors: Error[] = [];
  const connectionName = `taskchart-faults-${prefix}`;
  const broker = trackedBroker(prefix, { connectionName, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, onError: (e) => errors.push(e), ...options });
  rig.broker(broker);
  return { prefix, broker, errors, connectionName };
}

const proxiedUrl = (proxy: TcpProxy) => AMQP_URL.replace(/@[^/]+/, `@127.0.0.1:${proxy.port}`);

describe('amqp faults', () => {
  afterEach(() => rig.cleanUp());

  afterAll(async () => {
    // Nothing this file declared is left on the server, and no connection of ours is open.
    expect(await rig.queuesLeft()).toEqual([]);
  });

  it('reconnects after RabbitMQ force-closes its connection, keeps consuming, and loses nothing', async () => {
    const { broker, errors, connectionName } = fresh();
    const seen = new Set<string>();
    await broker.consume('work', async (d) => {
      seen.add(d.body);
      await d.ack();
    });
    // Publish without pause while the server kills the connection under us, and go on for 100
    // more messages after the kill (rabbitmqctl takes about a second, so the kill lands mid-stream).
    const bodies: string[] = [];
    let killed = false;
    const publishing = (async () => {
      let afterKill = 0;
      for (let i = 0; afterKill < 100; i++) {
        if (killed) afterKill++;
        bodies.push(`m${i}`);
        await broker.publish('work', `m${i}`);
      }
    })();
    await waitFor(() => seen.size >= 20, 5_000, 'the first deliveries');
    const beforeKill = bodies.length;
    expect(await forceCloseConnections(connectionName)).toBe(1);
    killed = true;
    await publishing;
    expect(beforeKill).toBeLessThan(bodies.length - 100);
    await waitFor(() => seen.size === bodies.length, 10_000, 'every message');
    expect([...seen].sort()).toEqual([...bodies].sort());
    expect(errors.some((e) => /CONNECTION_FORCED|closed/i.test(e.message))).toBe(true);
    // One live connection again: the adapter replaced the one the server closed.
    expect(await connectionPids(connectionName)).toHaveLength(1);
  });

  it('keeps a delayed message across a forced reconnect (it waits in a durable TTL queue)', async () => {
    // The server must close the connection while the message waits in its first TTL queue: then
    // no client holds it (in a delivery, or in a hop down the ladder not yet confirmed), and it
    // reaches the new connection's consumer exactly once. `rabbitmqctl` takes from about a second
    // (idle) to several (on loaded cores) to close it: an attempt whose close landed after that
    // first TTL expired proves nothing about the wait (its message may even be delivered twice,
    // as at-least-once allows), and is made again with twice the delay.
    let closedAt: number | undefined;
    const { broker, connectionName } = fresh({ onError: () => void (closedAt ??= Date.now()) });
    const got: { body: string; at: number }[] = [];
    await broker.consume('work', async (d) => {
      got.push({ body: d.body, at: Date.now() });
      await d.ack();
    });
    const late: string[] = [];
    for (const [attempt, delayMs] of [2_500, 5_000, 10_000, 20_000].entries()) {
      const pids = await connectionPids(connectionName);
      expect(pids).toHaveLength(1);
      const body = `delayed-${attempt}`;
      closedAt = undefined;
      const sent = Date.now();
      await broker.publish('work', body, { delayMs });
      await closeConnection(pids[0] ?? '');
      expect(closedAt).toBeDefined();
      await waitFor(() => got.some((g) => g.body === body), delayMs + 10_000, `the delayed message ${body}`);
      // A message after it arrives too: the consumer is subscribed again on the new connection.
      await broker.publish('work', `after-${attempt}`);
      await waitFor(() => got.some((g) => g.body === `after-${attempt}`), 10_000, `the message after ${body}`);
      const copies = got.filter((g) => g.body === body);
      for (const c of copies) expect(c.at - sent).toBeGreaterThanOrEqual(delayMs);
      const firstExpiry = sent + (pickDelayLevel(delayMs) ?? 0);
      if ((closedAt ?? Infinity) < firstExpiry) {
        expect(copies).toHaveLength(1);
        return;
      }
      late.push(`${delayMs} ms delay: closed ${(closedAt ?? NaN) - sent} ms after the publish`);
    }
    throw new Error(`the forced close never landed while the message waited in its first TTL queue (${late.join('; ')})`);
  }, 90_000);

  it('makes publishes wait out a network outage, then delivers them', async () => {
    const proxy = new TcpProxy('127.0.0.1', 5672);
    rig.proxy(proxy);
    await proxy.up();
    const { broker, errors } = fresh({ url: proxiedUrl(proxy), publishTimeoutMs: 20_000 });
    const got: string[] = [];
    await broker.consume('work', async (d) => {
      got.push(d.body);
      await d.ack();
    });
    await broker.publish('work', 'before');
    await waitFor(() => got.includes('before'), 5_000, 'the message before the outage');

    await proxy.down();
    let resolved = 0;
    const during = ['d1', 'd2', 'd3'].map((b) => broker.publish('work', b).then(() => void resolved++));
    // While the server is unreachable, nothing can be confirmed.
    await new Promise((r) => setTimeout(r, 500));
    expect(resolved).toBe(0);
    await proxy.up();
    await Promise.all(during);
    await waitFor(() => ['d1', 'd2', 'd3'].every((b) => got.includes(b)), 10_000, 'the messages published during the outage');
    expect(errors.some((e) => /ECONNREFUSED|closed|ECONNRESET/i.test(e.message))).toBe(true);
  });

  it('detects a silent (half-open) connection by its heartbeat and moves to a new one', async () => {
    const proxy = new TcpProxy('127.0.0.1', 5672);
    rig.proxy(proxy);
    await proxy.up();
    const { broker, errors } = fresh({ url: proxiedUrl(proxy), heartbeatSeconds: 1, publishTimeoutMs: 20_000 });
    const got: string[] = [];
    await broker.consume('work', async (d) => {
      got.push(d.body);
      await d.ack();
    });
    await broker.publish('work', 'before');
    await waitFor(() => got.includes('before'), 5_000, 'the message before the partition');
    proxy.freeze();
    // Confirmed only once the adapter gave up on the frozen connection and opened a new one.
    await broker.publish('work', 'after');
    await waitFor(() => got.includes('after'), 10_000, 'the message after the partition');
    expect(errors.some((e) => /heartbeat/i.test(e.message))).toBe(true);
  });

  it('fails a publish loudly when the outage outlasts publishTimeoutMs', async () => {
    const proxy = new TcpProxy('127.0.0.1', 5672);
    rig.proxy(proxy);
    await proxy.up();
    const { broker } = fresh({ url: proxiedUrl(proxy), publishTimeoutMs: 400 });
    await broker.publish('work', 'fine');
    await proxy.down();
    const started = Date.now();
    const error = await broker.publish('work', 'lost?').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AmqpUnavailableError);
    expect((error as Error).message).toMatch(/within 400 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('resumes consuming when the server cancels the consumer (its queue was deleted)', async () => {
    const { prefix, broker } = fresh();
    const got: string[] = [];
    await broker.consume('work', async (d) => {
      got.push(d.body);
      await d.ack();
    });
    await broker.publish('work', 'one');
    await waitFor(() => got.includes('one'), 5_000, 'the first message');
    const admin = await connect(AMQP_URL);
    try {
      const channel = await admin.createChannel();
      await channel.deleteQueue(`${prefix}work`);
      await channel.close();
    } finally {
      await admin.close();
    }
    // The adapter re-declares the queue and subscribes again; the next publish arrives.
    await broker.publish('work', 'two');
    await waitFor(() => got.includes('two'), 10_000, 'a message after the queue was re-declared');
  });

  it('dead-letters poison messages with the reason while the consumer keeps going', async () => {
    const { broker } = fresh();
    const done: number[] = [];
    const consumer = await broker.consume(
      'work',
      async (d: Delivery) => {
        let value: unknown;
        try {
          value = JSON.parse(d.body);
        } catch {
          return d.deadLetter('malformed message: not JSON');
        }
        if (typeof value !== 'number') return d.deadLetter(`unknown message: ${d.body}`);
        done.push(value);
        await d.ack();
      },
      { prefetch: 4 },
    );
    const bodies = Array.from({ length: 30 }, (_, i) => (i % 5 === 0 ? `{oops ${i}` : i % 7 === 0 ? `"text ${i}"` : String(i)));
    await Promise.all(bodies.map((b) => broker.publish('work', b)));
    const good = bodies.filter((b) => /^\d+$/.test(b)).map(Number);
    await waitFor(() => done.length === good.length, 10_000, 'every good message');
    await consumer.cancel();

    const dead: Delivery[] = [];
    await broker.consume(deadLetterQueueName('work'), async (d) => {
      dead.push(d);
      await d.ack();
    });
    await waitFor(() => dead.length === bodies.length - good.length, 10_000, 'every poison message in the dead-letter queue');
    expect(done.sort((a, b) => a - b)).toEqual(good);
    for (const d of dead) {
      expect(d.headers[DEAD_LETTER_QUEUE_HEADER]).toBe('work');
      expect(d.headers[DEAD_LETTER_REASON_HEADER]).toMatch(d.body.startsWith('{') ? /not JSON/ : /unknown message/);
    }
  });
});
