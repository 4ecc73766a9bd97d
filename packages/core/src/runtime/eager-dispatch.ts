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

/** How an eager step's entry is settled: done with (deleted), or handed to the broker after all. */
export interface EagerSettle {
  /** Whether the entry is an outbox row (else a message published without one: nothing to delete). */
  readonly stored: boolean;
  /** The step's outcome is committed: the entry is deleted. Never rejects. */
  done(): Promise<void>;
  /** The entry goes to the broker (published, then deleted), after `delayMs` when given. Never rejects. */
  handOver(delayMs?: number): Promise<void>;
  /** The commit of the step's outcome deleted the entry (`RunWrite.settles`): `done()` deletes nothing. */
  settled(): void;
}

export class EagerDispatch {
  /** Per queue: eager steps whose attempt is running now. */
  private readonly running = new Map<string, number>();
  private open = false;

  constructor(
    private readonly queues: ReadonlySet<string>,
    private readonly slots: number,
    /** Handles a delivery of `queue` as the worker handles the broker's (never rejects). */
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
   * (publish it). `prepare` gives the headers it would be published with, or `undefined` when the
   * broker would refuse it (such a message fails its step the same way here as anywhere).
   */
  take(entry: OutboxEntry, settle: EagerSettle, prepare: () => MessageHeaders | undefined): Promise<void> | undefined {
    const queue = entry.queue;
    if (!this.open || queue === null || !this.queues.has(queue) || (entry.options?.delayMs ?? 0) > 0) return undefined;
    const running = this.running.get(queue) ?? 0;
    if (running >= this.slots) return undefined;
    const headers = prepare();
    if (!headers) return undefined;
    this.running.set(queue, running + 1);
    // The slot is the task's: freed once the attempt has run (its outcome's commit holds none).
    let held = true;
    const free = () => {
      if (!held) return;
      held = false;
      this.running.set(queue, (this.running.get(queue) ?? 1) - 1);
    };
    return this.handle(queue, eagerDelivery(entry, headers, settle), { settles: settle.stored ? entry.id : undefined, settled: () => settle.settled(), attempted: free }).finally(free);
  }
}

/**
 * The delivery an eager step is handled as, with the headers it would have been published with
 * (the plugins', the run id, the signature): ack deletes the entry; a nack or a dead letter hands
 * it to the broker (a dead letter is decided again by whichever consumer receives it, and goes to
 * the dead-letter queue from there, with its reason).
 */
function eagerDelivery(entry: OutboxEntry, headers: MessageHeaders, settle: EagerSettle): Delivery {
  return {
    id: `outbox:${entry.id}`,
    body: entry.body,
    headers,
    redeliveries: 0,
    ack: () => settle.done(),
    nack: (options) => settle.handOver(options?.delayMs),
    deadLetter: () => settle.handOver(),
  };
}
