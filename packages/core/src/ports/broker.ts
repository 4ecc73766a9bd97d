/**
 * The broker port: moves messages between processes.
 *
 * Every adapter (memory, AMQP, SQS) implements this interface and runs the shared
 * contract suite from `@taskchart/core/testing`. Message bodies are opaque strings to the
 * broker; the runtime owns their format (see `messages.ts`).
 */

/** Headers carried beside a message body. Values are strings on every broker. */
export type MessageHeaders = Readonly<Record<string, string>>;

/** Header naming why a message was dead-lettered. */
export const DEAD_LETTER_REASON_HEADER = 'x-taskchart-dead-reason';
/**
 * Header naming the queue a dead-lettered message came from, as the runtime names it (without
 * the adapter's prefix), so it can be handed straight back to `publish`.
 */
export const DEAD_LETTER_QUEUE_HEADER = 'x-taskchart-dead-queue';

/**
 * The dead-letter queue of `queue`, as the runtime names it. Adapters prefix it like any queue
 * and may map characters their broker forbids (SQS: `work.dead` becomes `work-dead`).
 */
export function deadLetterQueueName(queue: string): string {
  return `${queue}.dead`;
}

export interface PublishOptions {
  /**
   * Deliver no sooner than this many milliseconds from now. A broker delivers a delay longer
   * than its {@link BrokerCapabilities.maxDelayMs} early; the runtime re-delays such messages
   * hop by hop, so adapters never have to hold one in memory.
   * @defaultValue 0
   */
  delayMs?: number;
  /**
   * A stable id for this message. Brokers that deduplicate (SQS FIFO) drop a second publish of
   * the same id within their window; others ignore it. The runtime's transitions are idempotent
   * whether or not the broker deduplicates.
   */
  deduplicationId?: string;
  /** Messages of one group stay ordered where the broker supports it (SQS FIFO `MessageGroupId`). */
  groupId?: string;
  headers?: MessageHeaders;
}

export interface BrokerMessage {
  /** The broker's id for this delivery's message (stable across redeliveries where the broker allows). */
  readonly id: string;
  readonly body: string;
  readonly headers: MessageHeaders;
  /** How many times this message was delivered before, as far as the broker knows (0 on the first). */
  readonly redeliveries: number;
}

export interface Delivery extends BrokerMessage {
  /** The message is done with: remove it from the queue. */
  ack(): Promise<void>;
  /**
   * Give the message back: it is delivered again (to this or another consumer), after
   * `delayMs` where the broker supports a redelivery delay.
   */
  nack(options?: { delayMs?: number }): Promise<void>;
  /** Move the message to the queue's dead-letter queue, recording `reason` in its headers. */
  deadLetter(reason: string): Promise<void>;
}

export interface ConsumeOptions {
  /**
   * The most unacknowledged deliveries handed to this consumer at once.
   * @defaultValue 16
   */
  prefetch?: number;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface Consumer {
  /**
   * Stop receiving new deliveries. Resolves once every delivery already handed to the handler
   * has settled (the handler returned and the delivery was acked, nacked or dead-lettered);
   * deliveries the handler left unsettled are given back to the broker.
   */
  cancel(): Promise<void>;
}

export interface BrokerCapabilities {
  /**
   * Whether published messages survive a crash of this process (RabbitMQ, SQS: yes; memory: no).
   * With a non-durable broker, a starting runtime re-dispatches every unfinished step and
   * pending timer from the store.
   */
  readonly durable: boolean;
  /** The longest delay one publish can hold (SQS: 15 minutes). `Infinity` when unbounded. */
  readonly maxDelayMs: number;
  /** Whether `deduplicationId` is honoured. */
  readonly deduplicates: boolean;
  /**
   * The largest message (body and headers, in UTF-8 bytes) one publish can carry; `Infinity`
   * when unbounded. A larger one makes `publish()` reject with `MessageRefusedError`.
   */
  readonly maxMessageBytes: number;
}

export interface Broker {
  /** A short name for logs and errors (`memory`, `amqp`, `sqs`). */
  readonly name: string;
  readonly capabilities: BrokerCapabilities;
  /**
   * Publish `body` to `queue`. Resolves only once the broker has taken responsibility for the
   * message (publisher confirm, HTTP 200); rejects if it could not, never silently drops it.
   * Rejects with `MessageRefusedError` when the message can never be accepted (too large, a
   * character or id the broker cannot carry), and with any other error when a retry may succeed.
   * One refused message must never stop the adapter from publishing others.
   */
  publish(queue: string, body: string, options?: PublishOptions): Promise<void>;
  /** Start consuming `queue`; the queue is created if the broker needs that. */
  consume(queue: string, handler: DeliveryHandler, options?: ConsumeOptions): Promise<Consumer>;
  /** Cancel every consumer (letting in-flight deliveries settle) and release connections. */
  close(): Promise<void>;
}
