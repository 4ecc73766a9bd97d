import { randomUUID } from 'node:crypto';
import { InvalidOptionError, type Broker, type Clock } from '@taskchart/core';
import {
  assertKnownKeys,
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  deadLetterIds,
  deadLetterLimit,
  deadLetterQueueName,
  systemClock,
  withoutDeadLetterHeaders,
  type ConsumeOptions,
  type Consumer,
  type DeadLetterAccess,
  type DeadLetterMessage,
  type Delivery,
  type DeliveryHandler,
  type MessageHeaders,
  type PublishOptions,
} from '@taskchart/core/adapter';

export interface MemoryBrokerOptions {
  /** Prepended to every queue name, to keep several runtimes apart on one hub. @defaultValue '' */
  queuePrefix?: string;
  /**
   * Time source for delayed messages. A delay may be any finite number of milliseconds: the
   * system clock waits out delays past Node's 2^31-1 ms timer limit in hops. @defaultValue the system clock
   */
  clock?: Clock;
  /**
   * Queues to share with other `memoryBroker` handles in this process (each handle then acts
   * like one connection to the same broker). @defaultValue a hub of this broker's own
   */
  hub?: MemoryHub;
}

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly headers: MessageHeaders;
  redeliveries: number;
}

interface ConsumerState {
  readonly handler: DeliveryHandler;
  readonly prefetch: number;
  readonly owner: MemoryBroker;
  /** Deliveries handed to the handler and not yet returned from it. */
  inFlight: number;
  cancelled: boolean;
  /** Called when `inFlight` drops to 0 (a `cancel()` waiting for the running handlers). */
  readonly drained: Array<() => void>;
}

class MemoryQueue {
  readonly ready: StoredMessage[] = [];
  readonly consumers: ConsumerState[] = [];
  private next = 0;
  private scheduled = false;

  constructor(
    readonly name: string,
    private readonly hub: MemoryHub,
    /** The queue's name without its broker's prefix (what dead letters record). */
    readonly logicalName: string,
  ) {}

  enqueue(message: StoredMessage): void {
    this.ready.push(message);
    this.schedulePump();
  }

  schedulePump(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.ready.length > 0) {
      const consumer = this.pickConsumer();
      if (!consumer) return;
      const message = this.ready.shift() as StoredMessage;
      this.deliver(consumer, message);
    }
  }

  private pickConsumer(): ConsumerState | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.next + i) % n];
      if (c && !c.cancelled && c.inFlight < c.prefetch) {
        this.next = (this.next + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private deliver(consumer: ConsumerState, message: StoredMessage): void {
    consumer.inFlight++;
    void this.handle(consumer, new MemoryDelivery(this, message));
  }

  /** Runs the consumer's handler on `delivery`; a delivery left unsettled goes back to the queue. */
  private async handle(consumer: ConsumerState, delivery: MemoryDelivery): Promise<void> {
    try {
      await consumer.handler(delivery);
    } catch {
      // A handler that throws gives the message back, as a real broker would on nack.
    }
    // Unsettled after the handler returned: give it back (redelivered).
    delivery.giveBack();
    consumer.inFlight--;
    this.schedulePump();
    if (consumer.inFlight === 0 && consumer.drained.length > 0) for (const wake of consumer.drained.splice(0)) wake();
  }

  /** Moves `message` to this queue's dead-letter queue, with `reason`. */
  deadLetter(message: StoredMessage, reason: string): void {
    const prefix = this.name.slice(0, this.name.length - this.logicalName.length);
    this.hub.queue(prefix + deadLetterQueueName(this.logicalName), deadLetterQueueName(this.logicalName)).enqueue({
      id: message.id,
      body: message.body,
      headers: { ...message.headers, [DEAD_LETTER_REASON_HEADER]: reason, [DEAD_LETTER_QUEUE_HEADER]: this.logicalName },
      redeliveries: 0,
    });
  }

  /** Gives `message` back: delivered again after `delayMs`. */
  redeliver(message: StoredMessage, delayMs: number): void {
    message.redeliveries++;
    this.hub.enqueueAfter(this, message, delayMs);
  }
}

/**
 * A message handed to a consumer: settled once, by the first of ack, nack, dead-letter, or the
 * handler returning (which gives it back). A class, not a literal with closures: one object per
 * delivery.
 */
class MemoryDelivery implements Delivery {
  readonly id: string;
  readonly body: string;
  readonly headers: MessageHeaders;
  readonly redeliveries: number;
  private settled = false;

  constructor(
    private readonly queue: MemoryQueue,
    private readonly message: StoredMessage,
  ) {
    this.id = message.id;
    this.body = message.body;
    this.headers = message.headers;
    this.redeliveries = message.redeliveries;
  }

  async ack(): Promise<void> {
    this.settled = true;
  }

  async nack(options?: { delayMs?: number }): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.queue.redeliver(this.message, options?.delayMs ?? 0);
  }

  async deadLetter(reason: string): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.queue.deadLetter(this.message, reason);
  }

  /** The handler returned: an unsettled delivery goes back to the queue at once. */
  giveBack(): void {
    if (this.settled) return;
    this.settled = true;
    this.message.redeliveries++;
    this.queue.enqueue(this.message);
  }
}
/** The queues of an in-process broker. Share one between handles to model several connections. */
export class MemoryHub {
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly timers = new Set<ReturnType<Clock['setTimeout']>>();
  /** Message ids are `<this hub's random prefix>-<count>`: unique, and far cheaper than a UUID per message. */
  private readonly idPrefix = `${randomUUID()}-`;
  private published = 0;

  constructor(readonly clock: Clock = systemClock) {}

  /** A new message id, unique across hubs. */
  messageId(): string {
    return this.idPrefix + ++this.published;
  }

  queue(name: string, logicalName = name): MemoryQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new MemoryQueue(name, this, logicalName);
      this.queues.set(name, q);
    }
    return q;
  }

  enqueueAfter(queue: MemoryQueue, message: StoredMessage, delayMs: number): void {
    if (delayMs <= 0) {
      queue.enqueue(message);
      return;
    }
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      queue.enqueue(message);
    }, delayMs);
    this.timers.add(handle);
  }

  /** Messages waiting in `queue` (not counting delayed or in-flight ones). */
  depth(queue: string): number {
    return this.queues.get(queue)?.ready.length ?? 0;
  }

  /** Drops every queued and delayed message (what a process crash does to an in-memory broker). */
  clear(): void {
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const q of this.queues.values()) q.ready.length = 0;
  }
}

/**
 * The in-process broker: the reference adapter of the broker contract. Messages live in this
 * process's memory, so it is not durable: the runtime keeps every pending step and timer in
 * the store and re-dispatches them on start.
 */
export class MemoryBroker implements Broker {
  readonly name = 'memory';
  readonly capabilities = { durable: false, maxDelayMs: Number.POSITIVE_INFINITY, deduplicates: false, maxMessageBytes: Number.POSITIVE_INFINITY } as const;
  readonly hub: MemoryHub;
  /**
   * Dead letters are the ready messages of `<queue>.dead`: listing reads them in place, a redrive
   * moves them to the back of `<queue>` at once (nothing to confirm in memory). Messages a
   * consumer of the dead-letter queue holds right now are not listed.
   */
  readonly deadLetters: DeadLetterAccess = {
    list: async (queue, options) => this.listDead(queue, deadLetterLimit(options, 'memoryBroker.deadLetters.list()')),
    redrive: async (queue, options) => this.redriveDead(queue, deadLetterIds(options, 'memoryBroker.deadLetters.redrive()')),
  };
  private readonly prefix: string;
  private readonly consumers = new Set<{ queue: MemoryQueue; state: ConsumerState }>();
  private readonly ownsHub: boolean;
  private closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('memoryBroker: options', 'must be an object');
    assertKnownKeys(options, ['queuePrefix', 'clock', 'hub'] satisfies Array<keyof MemoryBrokerOptions>, 'memoryBroker');
    const prefix = options.queuePrefix ?? '';
    if (typeof prefix !== 'string') throw new InvalidOptionError('memoryBroker: queuePrefix', 'must be a string');
    this.prefix = prefix;
    this.ownsHub = options.hub === undefined;
    this.hub = options.hub ?? new MemoryHub(options.clock ?? systemClock);
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new Error(`memory broker is closed: cannot publish to "${queue}"`);
    const delayMs = options.delayMs ?? 0;
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new InvalidOptionError('publish: delayMs', `must be a finite number >= 0, got ${delayMs}`);
    this.hub.enqueueAfter(this.hub.queue(this.prefix + queue, queue), { id: this.hub.messageId(), body, headers: { ...options.headers }, redeliveries: 0 }, delayMs);
  }

  async consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions = {}): Promise<Consumer> {
    if (this.closed) throw new Error(`memory broker is closed: cannot consume "${queue}"`);
    const prefetch = options.prefetch ?? 16;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new InvalidOptionError('consume: prefetch', `must be a whole number >= 1, got ${prefetch}`);
    const q = this.hub.queue(this.prefix + queue, queue);
    const state: ConsumerState = { handler, prefetch, owner: this, inFlight: 0, cancelled: false, drained: [] };
    q.consumers.push(state);
    const entry = { queue: q, state };
    this.consumers.add(entry);
    q.schedulePump();
    return { cancel: () => this.cancel(entry) };
  }

  private async cancel(entry: { queue: MemoryQueue; state: ConsumerState }): Promise<void> {
    entry.state.cancelled = true;
    const index = entry.queue.consumers.indexOf(entry.state);
    if (index >= 0) entry.queue.consumers.splice(index, 1);
    this.consumers.delete(entry);
    while (entry.state.inFlight > 0) await new Promise<void>((resolve) => entry.state.drained.push(resolve));
    entry.queue.schedulePump();
  }

  private deadQueue(queue: string, call: string): MemoryQueue {
    if (this.closed) throw new Error(`memory broker is closed: cannot ${call} "${queue}"`);
    if (typeof queue !== 'string' || queue.length === 0) throw new InvalidOptionError(`memoryBroker.deadLetters.${call}(): queue`, 'must be a non-empty string');
    const dead = deadLetterQueueName(queue);
    return this.hub.queue(this.prefix + dead, dead);
  }

  private listDead(queue: string, limit: number): DeadLetterMessage[] {
    return this.deadQueue(queue, 'list').ready.slice(0, limit).map((m) => ({
      id: m.id,
      queue,
      reason: m.headers[DEAD_LETTER_REASON_HEADER] ?? '',
      body: m.body,
      headers: withoutDeadLetterHeaders(m.headers),
    }));
  }

  private redriveDead(queue: string, ids: ReadonlySet<string> | undefined): number {
    const dead = this.deadQueue(queue, 'redrive');
    const target = this.hub.queue(this.prefix + queue, queue);
    const moving = dead.ready.filter((m) => ids === undefined || ids.has(m.id));
    for (const m of moving) {
      target.enqueue({ id: m.id, body: m.body, headers: withoutDeadLetterHeaders(m.headers), redeliveries: 0 });
      dead.ready.splice(dead.ready.indexOf(m), 1);
    }
    return moving.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => this.cancel(c)));
    if (this.ownsHub) this.hub.clear();
  }
}

export function memoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  return new MemoryBroker(options);
}
