/**
 * Listing and re-driving a RabbitMQ dead-letter queue (`<prefix><queue>.dead`).
 *
 * Each call opens a channel of its own and takes messages with `basic.get` (no consumer, no
 * prefetch): a listed message is only peeked, and is given back (requeued) when the call ends,
 * which returns it to its place in the queue; a re-driven one is published to the work queue
 * with a publisher confirm first, then acked. Closing the channel requeues whatever the call
 * still holds, so a failure half-way loses nothing (a crash between the confirm and the ack
 * leaves a duplicate; a connection lost before the confirm does not: that publish is not sent
 * again, the message is back in the dead-letter queue, and the call rejects). While a call runs, the messages it holds are invisible to consumers of
 * the dead-letter queue (there normally are none). Calls of one broker handle run one at a time.
 */
import { createHash } from 'node:crypto';
import type { Channel, Message, Options } from 'amqplib';
import { InvalidOptionError } from '@taskchart/core';
import {
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  deadLetterIds,
  deadLetterLimit,
  deadLetterQueueName,
  withoutDeadLetterHeaders,
  type DeadLetterAccess,
  type DeadLetterListOptions,
  type DeadLetterMessage,
  type DeadLetterRedriveOptions,
} from '@taskchart/core/adapter';
import type { AmqpConnection, DeliveryHold } from './connection.js';
import { AmqpUnavailableError, DeliveryReleased } from './errors.js';
import { REDELIVERIES_HEADER, republishProperties, userHeaders } from './headers.js';
import type { DeclarationCache, Topology } from './topology.js';

/** Headers a re-driven message leaves behind: the dead-letter ones, and the redelivery count (it starts afresh). */
const REDRIVE_DROPS: ReadonlySet<string> = new Set([DEAD_LETTER_REASON_HEADER, DEAD_LETTER_QUEUE_HEADER, REDELIVERIES_HEADER]);

export interface AmqpDeadLetterDeps {
  readonly connection: AmqpConnection;
  readonly topology: Topology;
  readonly declarations: DeclarationCache;
  readonly queuePrefix: string;
  readonly publishTimeoutMs: number;
  /** Throws when the broker is closed. */
  assertOpen(what: string): void;
  /**
   * Publishes to the work queue `fullQueue` and resolves once RabbitMQ confirmed; rejects with
   * `DeliveryReleased`, unsent, once `hold` says the message it moves went back with its channel.
   */
  publish(fullQueue: string, content: Buffer, properties: Options.Publish, hold: DeliveryHold): Promise<void>;
}

/** The id `list` shows for `message`: its AMQP message id (every message this adapter sends has one), else a hash of its body. */
function idOf(message: Message): string {
  const id: unknown = message.properties.messageId;
  if (typeof id === 'string' && id.length > 0) return id;
  return `sha256:${createHash('sha256').update(message.content).digest('hex')}`;
}

export class AmqpDeadLetters implements DeadLetterAccess {
  /** The call in progress: calls of one handle run one after the other. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: AmqpDeadLetterDeps) {}

  list(queue: string, options?: DeadLetterListOptions): Promise<DeadLetterMessage[]> {
    return this.serial(async () => {
      const limit = deadLetterLimit(options, 'amqpBroker.deadLetters.list()');
      return this.withDeadQueue(queue, 'list', async (channel, fullDead) => {
        const listed: DeadLetterMessage[] = [];
        while (listed.length < limit) {
          const message = await channel.get(fullDead, { noAck: false });
          if (message === false) break;
          const headers = userHeaders(message.properties.headers);
          listed.push({ id: idOf(message), queue, reason: headers[DEAD_LETTER_REASON_HEADER] ?? '', body: message.content.toString('utf8'), headers: withoutDeadLetterHeaders(headers) });
        }
        // Peeked only: every message goes back to its place (closing the channel would too).
        channel.nackAll(true);
        return listed;
      });
    });
  }

  redrive(queue: string, options?: DeadLetterRedriveOptions): Promise<number> {
    return this.serial(async () => {
      const ids = deadLetterIds(options, 'amqpBroker.deadLetters.redrive()');
      const fullQueue = this.deps.queuePrefix + queue;
      return this.withDeadQueue(queue, 'redrive', async (channel, fullDead, count, hold) => {
        let moved = 0;
        // At most the messages there when the call began: dead letters arriving meanwhile wait for the next call.
        for (let seen = 0; seen < count; seen++) {
          const message = await channel.get(fullDead, { noAck: false });
          if (message === false) break;
          if (ids !== undefined && !ids.has(idOf(message))) continue; // held until the end, then requeued in place
          try {
            await this.deps.publish(fullQueue, message.content, republishProperties(message, REDRIVE_DROPS), hold);
          } catch (error) {
            if (!(error instanceof DeliveryReleased)) throw error;
            throw new AmqpUnavailableError(`the connection to RabbitMQ was lost while re-driving the dead letters of "${queue}": ${moved} moved, the others are still in "${fullDead}"`, { cause: error });
          }
          channel.ack(message);
          moved++;
        }
        channel.nackAll(true);
        return moved;
      });
    });
  }

  private serial<T>(call: () => Promise<T>): Promise<T> {
    const result = this.tail.then(call, call);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `fn` on a channel of its own with the dead-letter queue of `queue` declared (an empty
   * one when nothing was dead-lettered yet) and its message count, and whether the channel still
   * holds what it took; the channel is closed after, which gives back anything still unacked.
   */
  private async withDeadQueue<T>(queue: string, call: string, fn: (channel: Channel, fullDead: string, count: number, hold: DeliveryHold) => Promise<T>): Promise<T> {
    this.deps.assertOpen(`${call} the dead letters of "${queue}"`);
    if (typeof queue !== 'string' || queue.length === 0) throw new InvalidOptionError(`amqpBroker.deadLetters.${call}(): queue`, 'must be a non-empty string');
    const fullDead = this.deps.queuePrefix + deadLetterQueueName(queue);
    const session = await this.deps.connection.session(Date.now() + this.deps.publishTimeoutMs);
    const channel = await session.model.createChannel();
    // A channel error (the connection dropped) fails the call in progress through its rejected request.
    channel.on('error', () => undefined);
    let open = true;
    channel.on('close', () => {
      open = false;
    });
    const hold: DeliveryHold = () => open && this.deps.connection.isCurrent(session);
    try {
      await this.deps.topology.ensure(channel, this.deps.declarations.work(fullDead));
      const { messageCount } = await channel.checkQueue(fullDead);
      return await fn(channel, fullDead, messageCount, hold);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }
}
