/**
 * The broker port: moves messages between processes.
 *
 * Every adapter (memory, AMQP, SQS) implements this interface and runs the shared
 * contract suite from `@taskchart/core/testing`. Message bodies are opaque strings to the
 * broker; the runtime owns their format (see `messages.ts`).
 */
import { InvalidOptionError } from '../errors.js';
import { assertKnownKeys } from '../known-keys.js';

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

/** The most dead letters one `DeadLetterAccess.list` call returns. */
export const MAX_DEAD_LETTER_LIMIT = 1000;
/** How many dead letters `DeadLetterAccess.list` returns when no `limit` is given. */
export const DEFAULT_DEAD_LETTER_LIMIT = 100;

/** One message waiting in a dead-letter queue, as `DeadLetterAccess.list` shows it. */
export interface DeadLetterMessage {
  /** The broker's id for it: what `DeadLetterAccess.redrive({ ids })` takes. */
  readonly id: string;
  /** The queue it was dead-lettered from, as the runtime names it (the queue `list` was asked about). */
  readonly queue: string;
  /** Why it was dead-lettered (its {@link DEAD_LETTER_REASON_HEADER}; `''` when it has none). */
  readonly reason: string;
  readonly body: string;
  /** Its headers without the dead-letter ones: what a redrive publishes it with. */
  readonly headers: MessageHeaders;
}

export interface DeadLetterListOptions {
  /** The most messages to return, 1 to {@link MAX_DEAD_LETTER_LIMIT}. @defaultValue 100 */
  limit?: number;
}

export interface DeadLetterRedriveOptions {
  /** Only the messages with these ids (from `list`); ids not found are skipped. @defaultValue every message */
  ids?: readonly string[];
}

/**
 * Reading and re-driving dead-letter queues: what operators need after fixing what made the
 * runtime dead-letter messages (a missing chain, a bad deploy). Optional on a broker.
 */
export interface DeadLetterAccess {
  /**
   * Up to `limit` messages of `queue`'s dead-letter queue, oldest first, left where they are:
   * listing does not remove them and changes their order no more than the broker forces.
   */
  list(queue: string, options?: DeadLetterListOptions): Promise<DeadLetterMessage[]>;
  /**
   * Moves the messages `ids` names (every one without `ids`) from `queue`'s dead-letter queue
   * back to `queue`, without the dead-letter headers. Each is published (confirmed by the broker)
   * before it is removed from the dead-letter queue, so a crash in between may duplicate a message,
   * never lose one. Resolves with how many moved.
   */
  redrive(queue: string, options?: DeadLetterRedriveOptions): Promise<number>;
}

/** Checks `list` options for an adapter; returns the limit. Throws `InvalidOptionError` naming `owner`. */
export function deadLetterLimit(options: DeadLetterListOptions | undefined, owner: string): number {
  if (options === undefined) return DEFAULT_DEAD_LETTER_LIMIT;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`${owner}: options`, 'must be an object { limit? }');
  assertKnownKeys(options, ['limit'] satisfies Array<keyof DeadLetterListOptions>, owner);
  const limit = options.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LETTER_LIMIT) {
    throw new InvalidOptionError(`${owner}: limit`, `must be a whole number from 1 to ${MAX_DEAD_LETTER_LIMIT}, got ${String(limit)}`);
  }
  return limit;
}

/**
 * Checks `redrive` options for an adapter; returns the ids to move as a set, or `undefined` for
 * every message. Throws `InvalidOptionError` naming `owner`.
 */
export function deadLetterIds(options: DeadLetterRedriveOptions | undefined, owner: string): ReadonlySet<string> | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`${owner}: options`, 'must be an object { ids? }');
  assertKnownKeys(options, ['ids'] satisfies Array<keyof DeadLetterRedriveOptions>, owner);
  if (options.ids === undefined) return undefined;
  if (!Array.isArray(options.ids) || !options.ids.every((id) => typeof id === 'string' && id.length > 0)) {
    throw new InvalidOptionError(`${owner}: ids`, 'must be an array of message ids (non-empty strings)');
  }
  return new Set(options.ids);
}

/** `headers` without the dead-letter headers: what a re-driven message is published with. */
export function withoutDeadLetterHeaders(headers: MessageHeaders): Record<string, string> {
  const rest: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (name !== DEAD_LETTER_REASON_HEADER && name !== DEAD_LETTER_QUEUE_HEADER) rest[name] = value;
  return rest;
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
  /**
   * The `MessageRefusedError` a publish of this message would reject with for certain, from the
   * limits the adapter checks before sending (its size, characters, names), without sending it;
   * `undefined` when it would be sent. A runtime asks before it runs a step in its own process
   * instead of publishing it (eager dispatch), so a message the broker can never carry fails its
   * step the same way whether or not it could have run here. Optional: a broker without it is
   * taken to carry every message (the memory broker has no limits).
   */
  refusal?(queue: string, body: string, options?: PublishOptions): Error | undefined;
  /** Start consuming `queue`; the queue is created if the broker needs that. */
  consume(queue: string, handler: DeliveryHandler, options?: ConsumeOptions): Promise<Consumer>;
  /**
   * Listing and re-driving dead letters, on a broker that can (memory, RabbitMQ, SQS). Absent on
   * one that cannot: the client's `deadLetters()` then rejects with `RuntimeStateError`.
   */
  readonly deadLetters?: DeadLetterAccess;
  /** Cancel every consumer (letting in-flight deliveries settle) and release connections. */
  close(): Promise<void>;
}
