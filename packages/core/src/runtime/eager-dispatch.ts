/**
 * Eager dispatch: a step whose queue this worker consumes, committed by this worker, runs here at
 * once (when a slot is free) instead of making a round trip through the broker. The committed
 * outbox entry is the safety net: it stays in the store, claimed by this process (its lease
 * renewed while the step runs), until the step's outcome is committed. If the process dies
 * meanwhile, the claim runs out and another process (or this one, restarted) publishes the entry
 * like any other, so nothing is lost; the step may run twice, as any step may (at least once).
 *
 * Slots: eager attempts have `prefetch` slots per queue of their own, beside the broker's
 * `prefetch` unacknowledged deliveries, so under load a chain's next steps keep running here
 * while the broker's deliveries start new chains: a worker runs at most twice `prefetch` task
 * attempts of one queue at a time. A slot is held while the task runs, not while its outcome
 * waits for its commit (which holds nothing of the user's). An entry that finds no free slot is
 * published as usual.
 */
import type { Delivery, MessageHeaders } from '../ports/broker.js';
import type { OutboxEntry } from '../ports/store.js';
import type { FromOutbox } from './message-handler.js';

/**
 * How an eager step's entry is settled: done with (deleted), or handed to the broker after all.
 * One object serves every entry (the entry is an argument), so an eager step allocates none.
 */
export interface EagerSettle {
  /**
   * The headers `entry` would be published with, as its delivery carries them, or `undefined`
   * when the broker would refuse it (a refusal it knows of before sending).
   */
  prepare(entry: OutboxEntry): MessageHeaders | undefined;
  /**
   * The step's outcome is committed: the entry is deleted, unless `settled` (the commit deleted
   * it, `RunWrite.settles`) or it is a message without an outbox row (negative id). Never rejects.
   */
  done(entry: OutboxEntry, settled: boolean): Promise<void>;
  /** The entry goes to the broker (published, then deleted), after `delayMs` when given. Never rejects. */
  handOver(entry: OutboxEntry, delayMs?: number): Promise<void>;
  /** The commit of the step's outcome deleted the entry: its claim is no longer kept. */
  settled(entry: OutboxEntry): void;
}

export class EagerDispatch {
  /** Per queue: eager steps whose attempt is running now. */
  private readonly running = new Map<string, number>();
  private open = false;

  constructor(
    private readonly queues: ReadonlySet<string>,
    private readonly slots: number,
    /** Handles a delivery of `queue` as the worker handles the broker's (never rejects; calls `outbox.attempted()` at the latest when it ends). */
    private readonly handle: (queue: string, delivery: Delivery, outbox: FromOutbox) => Promise<void>,
  ) {}

  /** Starts taking entries (once the worker consumes). */
  start(): void {
    this.open = true;
  }

  /** Stops taking entries (the worker is closing); those running finish. */
  stop(): void {
    this.open = false;
  }

  /**
   * Handles `entry` here when it is a message for a queue this worker consumes, due now, a slot
   * is free and the broker would carry it; resolves once it is settled. `undefined`: not taken
   * (publish it). A message the broker would refuse is not taken (it fails its step the same way
   * here as anywhere).
   */
  take(entry: OutboxEntry, settle: EagerSettle): Promise<void> | undefined {
    const queue = entry.queue;
    if (!this.open || queue === null || !this.queues.has(queue) || (entry.options?.delayMs ?? 0) > 0) return undefined;
    const running = this.running.get(queue) ?? 0;
    if (running >= this.slots) return undefined;
    const headers = settle.prepare(entry);
    if (!headers) return undefined;
    this.running.set(queue, running + 1);
    const delivery = new EagerDelivery(entry, headers, settle, this.running, queue);
    return this.handle(queue, delivery, delivery);
  }
}

/**
 * The delivery an eager step is handled as, with the headers it would have been published with
 * (the plugins', the run id, the signature): ack deletes the entry; a nack or a dead letter hands
 * it to the broker (a dead letter is decided again by whichever consumer receives it, and goes to
 * the dead-letter queue from there, with its reason). It is also the step's `FromOutbox`, and
 * holds the queue's slot until the attempt has run. One object per eager step, no closures.
 */
class EagerDelivery implements Delivery, FromOutbox {
  readonly body: string;
  readonly redeliveries = 0;
  readonly settles: number | undefined;
  /** The commit of the outcome deleted the entry. */
  private deleted = false;
  /** The slot is still held (the attempt has not run yet). */
  private holding = true;

  constructor(
    private readonly entry: OutboxEntry,
    readonly headers: MessageHeaders,
    private readonly settle: EagerSettle,
    private readonly running: Map<string, number>,
    private readonly queue: string,
  ) {
    this.body = entry.body;
    // A message without an outbox row (negative id) has nothing for the commit to delete.
    this.settles = entry.id < 0 ? undefined : entry.id;
  }

  /** Built when asked (a plugin's attempt context, a log): most eager steps never need it. */
  get id(): string {
    return `outbox:${this.entry.id}`;
  }

  ack(): Promise<void> {
    return this.settle.done(this.entry, this.deleted);
  }

  nack(options?: { delayMs?: number }): Promise<void> {
    return this.settle.handOver(this.entry, options?.delayMs);
  }

  deadLetter(): Promise<void> {
    return this.settle.handOver(this.entry);
  }

  settled(): void {
    this.deleted = true;
    this.settle.settled(this.entry);
  }

  /** The slot is the task's: freed once the attempt has run (its outcome's commit holds none). */
  attempted(): void {
    if (!this.holding) return;
    this.holding = false;
    this.running.set(this.queue, (this.running.get(this.queue) ?? 1) - 1);
  }
}
