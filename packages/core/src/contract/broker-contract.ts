/**
 * The broker contract: one suite every adapter runs against its real backend
 * (memory in-process, RabbitMQ, an SQS-compatible server).
 *
 *   import { brokerContract } from '@taskchart/core/contract';
 *   brokerContract({ name: 'amqp', connect: (prefix) => amqpBroker({ url, queuePrefix: prefix }) });
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/wait-for.js';
import { InvalidOptionError } from '../errors.js';
import { DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER, deadLetterQueueName, type Broker, type DeadLetterAccess, type Delivery } from '../ports/broker.js';

export interface BrokerContractOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * Opens a new connection to the backend. Every test passes a unique `prefix`; the adapter
   * must keep queues of different prefixes apart.
   */
  connect(prefix: string): Broker | Promise<Broker>;
  /** Removes everything the adapter declared under `prefix` (queues, exchanges). */
  cleanup?(prefix: string): Promise<void>;
  /** How long to wait for an expected delivery. @defaultValue 5000 */
  timeoutMs?: number;
  /** How long "nothing arrives" is watched for. @defaultValue 300 */
  quietMs?: number;
  /** Delay used by the delayed-delivery test. @defaultValue 600 */
  delayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function brokerContract(options: BrokerContractOptions): void {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const quietMs = options.quietMs ?? 300;
  const delayMs = options.delayMs ?? 600;
  const opened: Broker[] = [];
  const prefixes: string[] = [];

  const newPrefix = () => {
    const p = `tc-${randomUUID().slice(0, 8)}-`;
    prefixes.push(p);
    return p;
  };
  const connect = async (prefix: string) => {
    const b = await options.connect(prefix);
    opened.push(b);
    return b;
  };
  /** Collects deliveries of `queue`, settling each with `settle`. */
  const collect = async (broker: Broker, queue: string, settle: (d: Delivery) => Promise<void> = (d) => d.ack(), prefetch = 16) => {
    const got: Delivery[] = [];
    const consumer = await broker.consume(
      queue,
      async (d) => {
        got.push(d);
        await settle(d);
      },
      { prefetch },
    );
    return { got, consumer };
  };

  /**
   * Dead-letters `dead-0`, `dead-1`, `dead-2` from `work`, one after the other (so their order in
   * the dead-letter queue is known on every broker), with reasons `reason 0`… and a header kept.
   */
  const deadLetterThree = async (broker: Broker) => {
    let settled = 0;
    const { consumer } = await collect(
      broker,
      'work',
      async (d) => {
        await d.deadLetter(`reason ${d.body.slice('dead-'.length)}`);
        settled++;
      },
      1,
    );
    for (let i = 0; i < 3; i++) {
      await broker.publish('work', `dead-${i}`, { headers: { 'x-test': `kept-${i}` } });
      await waitFor(() => settled === i + 1, timeoutMs, `dead letter ${i}`);
    }
    await consumer.cancel();
  };
  /** The broker's dead-letter access, or skips the test for a broker without one. */
  const deadLettersOf = (broker: Broker, skip: () => void): DeadLetterAccess => {
    if (!broker.deadLetters) skip();
    return broker.deadLetters as DeadLetterAccess;
  };

  describe(`broker contract: ${options.name}`, () => {
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((b) => b.close()));
      if (options.cleanup) for (const p of prefixes.splice(0)) await options.cleanup(p);
      prefixes.length = 0;
    });

    it('declares its capabilities', async () => {
      const broker = await connect(newPrefix());
      expect(typeof broker.name).toBe('string');
      expect(typeof broker.capabilities.durable).toBe('boolean');
      expect(broker.capabilities.maxDelayMs).toBeGreaterThan(0);
      expect(broker.capabilities.maxMessageBytes).toBeGreaterThan(0);
    });

    it('delivers a published message with its body and headers', async () => {
      const broker = await connect(newPrefix());
      await broker.publish('work', '{"hello":"world"}', { headers: { 'x-test': 'yes' } });
      const { got } = await collect(broker, 'work');
      await waitFor(() => got.length === 1, timeoutMs, 'one delivery');
      expect(got[0]?.body).toBe('{"hello":"world"}');
      expect(got[0]?.headers['x-test']).toBe('yes');
      expect(got[0]?.redeliveries).toBe(0);
    });

    it('delivers every message published while consuming, once each when acked', async () => {
      const broker = await connect(newPrefix());
      const { got } = await collect(broker, 'work');
      const bodies = Array.from({ length: 25 }, (_, i) => `m${i}`);
      await Promise.all(bodies.map((b) => broker.publish('work', b)));
      await waitFor(() => got.length >= 25, timeoutMs, '25 deliveries');
      await sleep(quietMs);
      expect(got.map((d) => d.body).sort()).toEqual([...bodies].sort());
    });

    it('does not deliver an acked message again, even to a new connection', async () => {
      const prefix = newPrefix();
      const first = await connect(prefix);
      await first.publish('work', 'once');
      const a = await collect(first, 'work');
      await waitFor(() => a.got.length === 1, timeoutMs, 'first delivery');
      await a.consumer.cancel();
      await first.close();
      const second = await connect(prefix);
      const b = await collect(second, 'work');
      await sleep(quietMs);
      expect(b.got).toHaveLength(0);
    });

    it('redelivers a nacked message, counting the redelivery', async () => {
      const broker = await connect(newPrefix());
      await broker.publish('work', 'again');
      const { got } = await collect(broker, 'work', (d) => (d.redeliveries === 0 && got.length === 1 ? d.nack() : d.ack()));
      await waitFor(() => got.length >= 2, timeoutMs, 'a redelivery');
      expect(got[0]?.body).toBe('again');
      expect(got[1]?.body).toBe('again');
      expect(got[1]?.redeliveries).toBeGreaterThanOrEqual(1);
    });

    it('redelivers a message whose handler threw, and keeps consuming', async () => {
      const broker = await connect(newPrefix());
      await broker.publish('work', 'poison-once');
      await broker.publish('work', 'fine');
      let thrown = false;
      const { got } = await collect(broker, 'work', async (d) => {
        if (d.body === 'poison-once' && !thrown) {
          thrown = true;
          throw new Error('handler bug');
        }
        await d.ack();
      });
      await waitFor(() => got.filter((d) => d.body === 'poison-once').length === 2 && got.some((d) => d.body === 'fine'), timeoutMs, 'redelivery after a throw');
    });

    it('gives an unsettled message to another connection when its consumer stops without acking', async () => {
      const prefix = newPrefix();
      const a = await connect(prefix);
      const b = await connect(prefix);
      await a.publish('work', 'orphan');
      const first = await collect(a, 'work', async () => undefined);
      await waitFor(() => first.got.length === 1, timeoutMs, 'first delivery');
      await first.consumer.cancel();
      await a.close();
      const second = await collect(b, 'work');
      await waitFor(() => second.got.length === 1, timeoutMs, 'redelivery to the other connection');
      expect(second.got[0]?.body).toBe('orphan');
    });

    it('never hands a consumer more unsettled messages than its prefetch', async () => {
      const broker = await connect(newPrefix());
      await Promise.all(Array.from({ length: 10 }, (_, i) => broker.publish('work', `p${i}`)));
      let inFlight = 0;
      let peak = 0;
      const release: Array<() => void> = [];
      const { got } = await collect(
        broker,
        'work',
        async (d) => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise<void>((r) => release.push(r));
          inFlight--;
          await d.ack();
        },
        3,
      );
      await waitFor(() => got.length === 3, timeoutMs, 'three deliveries');
      await sleep(quietMs);
      expect(got).toHaveLength(3);
      while (got.length < 10 || release.length > 0) {
        release.splice(0).forEach((r) => r());
        await sleep(20);
        if (got.length >= 10 && release.length === 0) break;
      }
      await waitFor(() => got.length === 10 && inFlight === 0, timeoutMs, 'all ten deliveries');
      expect(peak).toBe(3);
    });

    it('delays delivery by delayMs', async () => {
      const broker = await connect(newPrefix());
      const { got } = await collect(broker, 'work');
      const sent = Date.now();
      await broker.publish('work', 'later', { delayMs });
      await broker.publish('work', 'now');
      await waitFor(() => got.some((d) => d.body === 'now'), timeoutMs, 'the undelayed message');
      await waitFor(() => got.some((d) => d.body === 'later'), timeoutMs + delayMs, 'the delayed message');
      const at = Date.now() - sent;
      // Brokers round delays (SQS to whole seconds); early by more than 50 ms is a bug.
      expect(at).toBeGreaterThanOrEqual(Math.min(delayMs, broker.capabilities.maxDelayMs) - 50);
      // Delivered once: a copy taking a longer delay path would arrive within another delay.
      await sleep(delayMs + quietMs);
      expect(got.filter((d) => d.body === 'later')).toHaveLength(1);
    });

    it('dead-letters a message with its reason and source queue', async () => {
      const broker = await connect(newPrefix());
      await broker.publish('work', 'poison', { headers: { 'x-test': 'kept' } });
      const { got } = await collect(broker, 'work', (d) => d.deadLetter('unknown task "nope"'));
      await waitFor(() => got.length === 1, timeoutMs, 'the poison delivery');
      const dead = await collect(broker, deadLetterQueueName('work'));
      await waitFor(() => dead.got.length === 1, timeoutMs, 'the dead letter');
      expect(dead.got[0]?.body).toBe('poison');
      expect(dead.got[0]?.headers[DEAD_LETTER_REASON_HEADER]).toBe('unknown task "nope"');
      expect(dead.got[0]?.headers[DEAD_LETTER_QUEUE_HEADER]).toBe('work');
      expect(dead.got[0]?.headers['x-test']).toBe('kept');
      await sleep(quietMs);
      expect(got).toHaveLength(1);
    });

    it('lists dead letters oldest first, with their reasons, and leaves them where they are', async (context) => {
      const broker = await connect(newPrefix());
      const dead = deadLettersOf(broker, () => context.skip());
      await deadLetterThree(broker);
      const listed = await dead.list('work');
      expect(listed.map((m) => [m.body, m.reason, m.queue])).toEqual([
        ['dead-0', 'reason 0', 'work'],
        ['dead-1', 'reason 1', 'work'],
        ['dead-2', 'reason 2', 'work'],
      ]);
      for (const [i, m] of listed.entries()) {
        expect(typeof m.id).toBe('string');
        expect(m.headers['x-test']).toBe(`kept-${i}`);
        expect(m.headers[DEAD_LETTER_REASON_HEADER]).toBeUndefined();
        expect(m.headers[DEAD_LETTER_QUEUE_HEADER]).toBeUndefined();
      }
      expect(new Set(listed.map((m) => m.id)).size).toBe(3);
      // Listing again shows the same messages in the same order: nothing was taken or reordered.
      expect((await dead.list('work')).map((m) => [m.id, m.body])).toEqual(listed.map((m) => [m.id, m.body]));
      expect((await dead.list('work', { limit: 2 })).map((m) => m.body)).toEqual(['dead-0', 'dead-1']);
      expect(await dead.list('other')).toEqual([]);
      await expect(dead.list('work', { limit: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(dead.list('work', { limit: 1001 })).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(dead.list('work', { max: 5 } as never)).rejects.toBeInstanceOf(InvalidOptionError);
    });

    it('redrives a dead letter by id, without the dead-letter headers, then the rest', async (context) => {
      const broker = await connect(newPrefix());
      const dead = deadLettersOf(broker, () => context.skip());
      await deadLetterThree(broker);
      const listed = await dead.list('work');
      const second = listed[1];
      expect(second?.body).toBe('dead-1');
      expect(await dead.redrive('work', { ids: [second?.id ?? ''] })).toBe(1);
      const again = await collect(broker, 'work');
      await waitFor(() => again.got.length === 1, timeoutMs, 'the redriven message');
      expect(again.got[0]?.body).toBe('dead-1');
      expect(again.got[0]?.headers['x-test']).toBe('kept-1');
      expect(again.got[0]?.headers[DEAD_LETTER_REASON_HEADER]).toBeUndefined();
      expect(again.got[0]?.headers[DEAD_LETTER_QUEUE_HEADER]).toBeUndefined();
      expect((await dead.list('work')).map((m) => m.body)).toEqual(['dead-0', 'dead-2']);
      expect(await dead.redrive('work', { ids: ['no-such-message'] })).toBe(0);
      expect(await dead.redrive('work')).toBe(2);
      await waitFor(() => again.got.length === 3, timeoutMs, 'the other two redriven messages');
      expect(again.got.map((d) => d.body).sort()).toEqual(['dead-0', 'dead-1', 'dead-2']);
      expect(await dead.list('work')).toEqual([]);
      await expect(dead.redrive('work', { ids: 'x' } as never)).rejects.toBeInstanceOf(InvalidOptionError);
      await sleep(quietMs);
      expect(again.got).toHaveLength(3);
    });

    it('drops a second publish with the same deduplication id where it deduplicates', async () => {
      const broker = await connect(newPrefix());
      await broker.publish('work', 'dedup', { deduplicationId: 'same-id' });
      await broker.publish('work', 'dedup', { deduplicationId: 'same-id' });
      const { got } = await collect(broker, 'work');
      await waitFor(() => got.length >= 1, timeoutMs, 'a delivery');
      await sleep(quietMs);
      expect(got).toHaveLength(broker.capabilities.deduplicates ? 1 : 2);
    });

    it('lets in-flight work finish on close, and does not redeliver what it acked', async () => {
      const prefix = newPrefix();
      const broker = await connect(prefix);
      await broker.publish('work', 'slow');
      let finished = false;
      const { got } = await collect(broker, 'work', async (d) => {
        await sleep(200);
        finished = true;
        await d.ack();
      });
      await waitFor(() => got.length === 1, timeoutMs, 'the slow delivery');
      await broker.close();
      expect(finished).toBe(true);
      const again = await connect(prefix);
      const after = await collect(again, 'work');
      await sleep(quietMs);
      expect(after.got).toHaveLength(0);
    });

    it('stops delivering to a cancelled consumer', async () => {
      const broker = await connect(newPrefix());
      const { got, consumer } = await collect(broker, 'work');
      await consumer.cancel();
      await broker.publish('work', 'after-cancel');
      await sleep(quietMs);
      expect(got).toHaveLength(0);
    });

    it('keeps queues of different prefixes apart', async () => {
      const a = await connect(newPrefix());
      const b = await connect(newPrefix());
      const ga = await collect(a, 'work');
      const gb = await collect(b, 'work');
      await a.publish('work', 'for-a');
      await b.publish('work', 'for-b');
      await waitFor(() => ga.got.length === 1 && gb.got.length === 1, timeoutMs, 'one delivery each');
      await sleep(quietMs);
      expect(ga.got.map((d) => d.body)).toEqual(['for-a']);
      expect(gb.got.map((d) => d.body)).toEqual(['for-b']);
    });
  });
}
