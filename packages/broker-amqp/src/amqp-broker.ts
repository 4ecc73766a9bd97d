/**
 * The RabbitMQ adapter of the broker port.
 *
 * Topology (names after `queuePrefix`): the work queue `<queue>`, its dead letters in
 * `<queue>.dead`, and one shared delay ladder (`taskchart.delay` headers exchange, up to 26 TTL
 * queues `taskchart.delay.<2^k>ms`). See `delay-ladder.ts` and the README.
 */
import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';
import { InvalidOptionError, MessageRefusedError, type Broker } from '@taskchart/core';
import { DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER, deadLetterQueueName, type BrokerCapabilities, type ConsumeOptions, type Consumer, type Delivery, type DeliveryHandler, type PublishOptions } from '@taskchart/core/adapter';
import { AmqpConsumer, safeAck, safeRequeue } from './amqp-consumer.js';
import { AmqpConnection, type DeliveryHold } from './connection.js';
import { AmqpDeadLetters } from './dead-letter-access.js';
import { DELAY_LEVEL_HEADER, delayExchangeName, DUE_AT_HEADER, pickDelayLevel } from './delay-ladder.js';
import { AmqpUnavailableError, DeliveryReleased } from './errors.js';
import { numericHeader, REDELIVERIES_HEADER, republishProperties, userHeaders } from './headers.js';
import { fitShortstr, MAX_SHORTSTR_BYTES, MessageRefusal, refusalReason } from './limits.js';
import { compileOptions, type AmqpBrokerOptions, type ResolvedAmqpOptions } from './options.js';
import { DeclarationCache, Topology, type TopologyNames } from './topology.js';

function validDelay(option: string, delayMs: number | undefined): number {
  const ms = delayMs ?? 0;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new InvalidOptionError(option, `must be a finite number >= 0, got ${String(ms)}`);
  return ms;
}

/** The longest dead-letter reason kept in the header (longer ones are cut, marked with "…"). */
const MAX_DEAD_REASON_CHARS = 4_096;

export class AmqpBroker implements Broker {
  readonly name = 'amqp';
  /**
   * Durable; any delay (hops of at most 2^25 ms are chained); no deduplication (RabbitMQ has none
   * built in); messages up to the `maxMessageBytes` option (128 MiB by default).
   */
  readonly capabilities: BrokerCapabilities;
  readonly options: ResolvedAmqpOptions;
  /** Listing and re-driving dead letters, with `basic.get` on a channel of each call's own (see `dead-letter-access.ts`). */
  readonly deadLetters: AmqpDeadLetters;
  private readonly topology = new Topology();
  private readonly connection: AmqpConnection;
  private readonly declarations: DeclarationCache;
  private readonly consumers = new Set<AmqpConsumer>();
  private readonly publishing = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: AmqpBrokerOptions) {
    this.options = compileOptions(options);
    this.capabilities = { durable: true, maxDelayMs: Number.POSITIVE_INFINITY, deduplicates: false, maxMessageBytes: this.options.maxMessageBytes };
    this.connection = new AmqpConnection(this.options, this.topology);
    this.declarations = new DeclarationCache(this.options.queuePrefix);
    this.deadLetters = new AmqpDeadLetters({
      connection: this.connection,
      topology: this.topology,
      declarations: this.declarations,
      queuePrefix: this.options.queuePrefix,
      publishTimeoutMs: this.options.publishTimeoutMs,
      assertOpen: (what) => this.assertOpen(what),
      publish: async (fullQueue, content, properties, hold) => {
        try {
          await this.track(this.send(fullQueue, content, properties, undefined, hold));
        } catch (error) {
          if (error instanceof MessageRefusal) throw new MessageRefusedError(this.name, fullQueue.slice(this.options.queuePrefix.length), error.reason);
          throw error;
        }
      },
    });
  }

  /** The queues and exchanges this handle declared so far (full names), e.g. for cleanup with `deleteTopology`. */
  declared(): TopologyNames {
    return this.topology.names();
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    this.assertOpen(`publish to "${queue}"`);
    const delayMs = validDelay('publish: delayMs', options.delayMs);
    const headers: MessagePropertyHeaders = { ...options.headers };
    // A deduplication id is caller data of any length (the runtime's holds the run id): one over
    // AMQP's 255-byte message-id is replaced by its hash, the same on every publish of it.
    const properties: Options.Publish = { persistent: true, messageId: fitShortstr(options.deduplicationId ?? randomUUID()), headers };
    const fullQueue = this.options.queuePrefix + queue;
    const content = Buffer.from(body, 'utf8');
    // Checked before anything is sent: amqplib would throw half-way through the publish, or the
    // server close the channel, failing the other publishes in flight with it.
    const refused = this.refused(queue, content, properties);
    if (refused) throw refused;
    try {
      await this.track(this.send(fullQueue, content, properties, delayMs > 0 ? Date.now() + delayMs : undefined));
    } catch (error) {
      if (error instanceof MessageRefusal) throw new MessageRefusedError(this.name, queue, error.reason);
      throw error;
    }
  }

  /** The refusal a publish of `body` to `queue` meets for certain (see `Broker.refusal`), without sending it. */
  refusal(queue: string, body: string, options: PublishOptions = {}): MessageRefusedError | undefined {
    const properties: Options.Publish = { persistent: true, messageId: fitShortstr(options.deduplicationId ?? randomUUID()), headers: { ...options.headers } };
    return this.refused(queue, Buffer.from(body, 'utf8'), properties);
  }

  /** Why AMQP can never carry `content` with `properties` to `queue` (its name, size, header frame). */
  private refused(queue: string, content: Buffer, properties: Options.Publish): MessageRefusedError | undefined {
    const fullQueue = this.options.queuePrefix + queue;
    const nameBytes = Buffer.byteLength(fullQueue, 'utf8');
    const reason =
      nameBytes > MAX_SHORTSTR_BYTES
        ? `the queue name "${fullQueue.slice(0, 40)}…" is ${nameBytes} bytes long with its prefix, over AMQP's limit of ${MAX_SHORTSTR_BYTES} bytes`
        : refusalReason(content, properties, this.options.maxMessageBytes);
    return reason === undefined ? undefined : new MessageRefusedError(this.name, queue, reason);
  }

  /**
   * Sends `content` to the work queue `fullQueue` — directly when `dueAt` is absent or already
   * reached, otherwise to the delay ladder level that fits the time left. `properties.headers`
   * must not hold the ladder's headers (see `republishProperties`). With `hold`, it moves a
   * delivery (or a dead letter being re-driven): it is not sent once the delivery went back to RabbitMQ with its channel (it then
   * rejects with `DeliveryReleased`; see `AmqpConnection.publish`).
   */
  private send(fullQueue: string, content: Buffer, properties: Options.Publish, dueAt: number | undefined, hold?: DeliveryHold): Promise<void> {
    const deadline = Date.now() + this.options.publishTimeoutMs;
    const level = dueAt === undefined ? undefined : pickDelayLevel(dueAt - Date.now());
    if (level === undefined) return this.connection.publish(this.declarations.work(fullQueue), '', fullQueue, content, properties, deadline, hold);
    const headers: MessagePropertyHeaders = { ...(properties.headers as MessagePropertyHeaders | undefined), [DELAY_LEVEL_HEADER]: String(level), [DUE_AT_HEADER]: String(dueAt) };
    // Routed by the level header to the level's TTL queue; the routing key (the work queue's
    // name) is what brings it back when the TTL expires.
    return this.connection.publish(this.declarations.delayed(fullQueue, level), delayExchangeName(this.options.queuePrefix), fullQueue, content, { ...properties, headers }, deadline, hold);
  }

  async consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions = {}): Promise<Consumer> {
    this.assertOpen(`consume "${queue}"`);
    const prefetch = options.prefetch ?? this.options.prefetch;
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65_535) throw new InvalidOptionError('consume: prefetch', `must be a whole number between 1 and 65535, got ${prefetch}`);
    const fullQueue = this.options.queuePrefix + queue;
    const deadBytes = Buffer.byteLength(this.options.queuePrefix + deadLetterQueueName(queue), 'utf8');
    if (deadBytes > MAX_SHORTSTR_BYTES) {
      throw new InvalidOptionError('consume: queue', `"${queue}" with its prefix and dead-letter suffix is ${deadBytes} bytes long, over AMQP's limit of ${MAX_SHORTSTR_BYTES} bytes for a queue name`);
    }
    const consumer: AmqpConsumer = new AmqpConsumer(
      this.connection,
      this.topology,
      fullQueue,
      this.declarations.work(fullQueue),
      prefetch,
      (message, channel, hold) => this.receive(queue, fullQueue, message, channel, hold, handler),
      this.options.onError,
      (c) => this.consumers.delete(c),
    );
    this.consumers.add(consumer);
    try {
      await consumer.start(Date.now() + this.options.publishTimeoutMs);
    } catch (error) {
      this.consumers.delete(consumer);
      throw error;
    }
    return consumer;
  }

  /**
   * One raw delivery: re-delayed if it is not due yet, otherwise handed to `handler` as a
   * `Delivery`. Each publish that moves it (a hop, a delayed nack, a dead letter) is confirmed
   * before the original is acked, and is not sent again once `hold` says the original went back
   * to RabbitMQ with its channel: the redelivered original carries on, alone.
   */
  private async receive(queue: string, fullQueue: string, message: ConsumeMessage, channel: Channel, hold: DeliveryHold, handler: DeliveryHandler): Promise<void> {
    const raw = message.properties.headers;
    const dueAt = numericHeader(raw, DUE_AT_HEADER);
    if (dueAt !== undefined && pickDelayLevel(dueAt - Date.now()) !== undefined) {
      // Back from a delay hop but not due yet: down the ladder again.
      try {
        await this.track(this.send(fullQueue, message.content, republishProperties(message), dueAt, hold));
        safeAck(channel, message);
      } catch (error) {
        if (error instanceof DeliveryReleased) return; // redelivered by RabbitMQ: it hops from there
        safeRequeue(channel, message);
        throw error;
      }
      return;
    }

    let settled = false;
    /**
     * Runs `action` once for this delivery; a failed action gives the message back. One whose
     * delivery already went back with its channel resolves, as an ack on a closed channel does.
     */
    const settle = async (action: () => Promise<void> | void): Promise<void> => {
      if (settled) return;
      settled = true;
      try {
        await action();
      } catch (error) {
        if (error instanceof DeliveryReleased) return;
        safeRequeue(channel, message);
        throw error;
      }
    };
    const redeliveries = (numericHeader(raw, REDELIVERIES_HEADER) ?? 0) + (message.fields.redelivered ? 1 : 0);
    const delivery: Delivery = {
      id: typeof message.properties.messageId === 'string' ? message.properties.messageId : `${fullQueue}#${message.fields.deliveryTag}`,
      body: message.content.toString('utf8'),
      headers: userHeaders(raw),
      redeliveries,
      ack: () => settle(() => safeAck(channel, message)),
      nack: (options) =>
        settle(async () => {
          const delayMs = validDelay('nack: delayMs', options?.delayMs);
          if (delayMs === 0) return safeRequeue(channel, message);
          // A delayed redelivery is a new message down the ladder; the count travels in a header.
          const properties = republishProperties(message);
          properties.headers = { ...(properties.headers as MessagePropertyHeaders | undefined), [REDELIVERIES_HEADER]: String(redeliveries + 1) };
          await this.track(this.send(fullQueue, message.content, properties, Date.now() + delayMs, hold));
          safeAck(channel, message);
        }),
      deadLetter: (reason) =>
        settle(async () => {
          const kept = reason.length > MAX_DEAD_REASON_CHARS ? `${reason.slice(0, MAX_DEAD_REASON_CHARS)}…` : reason;
          const headers: MessagePropertyHeaders = { ...userHeaders(raw), [DEAD_LETTER_REASON_HEADER]: kept, [DEAD_LETTER_QUEUE_HEADER]: queue };
          const dead = this.options.queuePrefix + deadLetterQueueName(queue);
          await this.track(this.send(dead, message.content, { ...republishProperties(message), headers }, undefined, hold));
          safeAck(channel, message);
        }),
    };
    try {
      await handler(delivery);
    } catch (error) {
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
    }
    // The handler returned (or threw) without settling: give the message back.
    if (!settled) {
      settled = true;
      safeRequeue(channel, message);
    }
  }

  private track(publish: Promise<void>): Promise<void> {
    this.publishing.add(publish);
    void publish.catch(() => undefined).finally(() => this.publishing.delete(publish));
    return publish;
  }

  private assertOpen(what: string): void {
    if (this.closing) throw new AmqpUnavailableError(`amqp broker is closed: cannot ${what}`);
  }

  /**
   * Cancels every consumer (in-flight deliveries settle first), waits for publishes in progress
   * (each bounded by `publishTimeoutMs`), then closes the connection.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.consumers].map((c) => c.cancel()));
      while (this.publishing.size > 0) await Promise.allSettled([...this.publishing]);
      await this.connection.close();
    })();
    return this.closing;
  }
}

/** A RabbitMQ broker. Connects lazily, on the first publish or consume. */
export function amqpBroker(options: AmqpBrokerOptions): AmqpBroker {
  return new AmqpBroker(options);
}
