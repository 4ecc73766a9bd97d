/**
 * One consumer of one queue: `receiveConcurrency` long-poll loops, each asking for at most the
 * free prefetch (and at most `receiveBatchSize`) messages per ReceiveMessage, hands each to the handler with the
 * heartbeat running, and survives failed receives by backing off and polling again. A message
 * that arrives before its due time (a delay longer than one SQS hop) is deferred, never held.
 */
import type { Consumer, Delivery, DeliveryHandler } from '@taskchart/core/adapter';
import { attributesToHeaders, dueAtOf } from './attributes.js';
import type { Heartbeat, HeartbeatEntry } from './heartbeat.js';
import type { CompiledSqsOptions } from './options.js';
import type { QueueDirectory, ResolvedQueue } from './queue-directory.js';
import { backoffDelay } from './retry-strategy.js';
import { isQueueDoesNotExist, type ReceivedMessage, type SqsApi } from './sqs-api.js';

/** What the poller needs from its broker to settle messages. */
export interface SettleOperations {
  ack(queue: ResolvedQueue, message: ReceivedMessage): Promise<void>;
  nack(queue: ResolvedQueue, message: ReceivedMessage, delayMs: number): Promise<void>;
  deadLetter(queue: ResolvedQueue, message: ReceivedMessage, reason: string): Promise<void>;
  /** Puts back a message that arrived before `dueAt`, to arrive again later. */
  defer(queue: ResolvedQueue, message: ReceivedMessage, dueAt: number): Promise<void>;
}

/**
 * When a message whose handler threw (or returned without settling it) comes back: after
 * 2^(receives-1) seconds, capped at the visibility timeout, so a handler bug does not spin a
 * hot redelivery loop. An explicit `nack()` is immediate.
 */
export function unsettledDelayMs(receiveCount: number, visibilityTimeoutSeconds: number): number {
  return Math.min(visibilityTimeoutSeconds, 2 ** Math.min(Math.max(0, receiveCount - 1), 16)) * 1000;
}

export interface PollerDeps {
  readonly api: SqsApi;
  readonly directory: QueueDirectory;
  readonly heartbeat: Heartbeat;
  readonly options: CompiledSqsOptions;
  readonly settle: SettleOperations;
}

export class Poller implements Consumer {
  private cancelled = false;
  private readonly abort = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private inFlight = 0;
  /** Messages asked for by receives in flight: counted against prefetch until they return. */
  private reserved = 0;
  private readonly waiters = new Set<() => void>();
  private loop: Promise<unknown> | undefined;

  constructor(
    private readonly queue: string,
    private readonly handler: DeliveryHandler,
    private readonly prefetch: number,
    private readonly deps: PollerDeps,
    private readonly onCancelled: (poller: Poller) => void,
  ) {}

  start(): void {
    this.loop = Promise.all(Array.from({ length: this.deps.options.receiveConcurrency }, () => this.run()));
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  async cancel(): Promise<void> {
    if (!this.cancelled) {
      this.cancelled = true;
      this.abort.abort();
      this.wake();
    }
    await this.loop;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.onCancelled(this);
  }

  private async run(): Promise<void> {
    const { api, directory, options } = this.deps;
    let failures = 0;
    while (!this.cancelled) {
      const free = this.prefetch - this.inFlight - this.reserved;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.waiters.delete(done);
            resolve();
          };
          this.waiters.add(done);
        });
        continue;
      }
      const max = Math.min(free, options.receiveBatchSize);
      let resolved: ResolvedQueue;
      let messages: ReceivedMessage[];
      this.reserved += max;
      try {
        resolved = await directory.resolve(this.queue);
        messages = await api.receive(
          resolved.url,
          { max, waitSeconds: options.waitTimeSeconds, visibilitySeconds: options.visibilityTimeoutSeconds },
          // Not aborted on cancel: a server may already have handed out messages to a request we
          // drop, hiding them for a visibility timeout. Cancel waits (≤ waitTimeSeconds) instead.
        );
        failures = 0;
      } catch (error) {
        this.reserved -= max;
        if (this.cancelled) break;
        if (isQueueDoesNotExist(error)) directory.invalidate(this.queue);
        options.onError(error, { operation: 'ReceiveMessage', queue: this.queue });
        await this.sleep(backoffDelay(failures++, options.retryBaseDelayMs, options.retryMaxDelayMs, options.random) + options.retryBaseDelayMs);
        continue;
      }
      this.reserved -= max;
      if (this.cancelled) {
        // Received as we were cancelled: give them back at once rather than after the visibility timeout.
        await this.release(resolved, messages);
        break;
      }
      for (const message of messages) this.dispatch(resolved, message);
    }
  }

  private dispatch(queue: ResolvedQueue, message: ReceivedMessage): void {
    const dueAt = dueAtOf(message.attributes);
    if (dueAt !== undefined && dueAt > this.deps.options.clock.now()) {
      this.track(
        this.deps.settle.defer(queue, message, dueAt).catch((error: unknown) => {
          // It comes back after the visibility timeout and is deferred then.
          this.deps.options.onError(error, { operation: 'defer', queue: this.queue });
        }),
      );
      return;
    }
    this.inFlight++;
    this.track(this.deliver(queue, message));
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  private async deliver(queue: ResolvedQueue, message: ReceivedMessage): Promise<void> {
    const { heartbeat, settle, options } = this.deps;
    const entry: HeartbeatEntry = { queue: this.queue, url: queue.url, receiptHandle: message.receiptHandle };
    heartbeat.track(entry);
    let settled: Promise<void> | undefined;
    const once = (action: () => Promise<void>): Promise<void> => {
      if (!settled) {
        heartbeat.untrack(entry);
        settled = action();
      }
      return settled;
    };
    const delivery: Delivery = {
      id: message.messageId,
      body: message.body,
      headers: attributesToHeaders(message.attributes),
      redeliveries: Math.max(0, message.receiveCount - 1),
      ack: () => once(() => settle.ack(queue, message)),
      nack: (o) => once(() => settle.nack(queue, message, o?.delayMs ?? 0)),
      deadLetter: (reason) => once(() => settle.deadLetter(queue, message, reason)),
    };
    try {
      await this.handler(delivery);
    } catch {
      // A handler that throws gives the message back (below), as an unsettled one does.
    }
    try {
      if (settled) await settled.catch(() => undefined); // the handler saw any failure itself
      else await once(() => settle.nack(queue, message, unsettledDelayMs(message.receiveCount, options.visibilityTimeoutSeconds)));
    } catch (error) {
      options.onError(error, { operation: 'ChangeMessageVisibility', queue: this.queue });
    } finally {
      heartbeat.untrack(entry);
      this.inFlight--;
      this.wake();
    }
  }

  private async release(queue: ResolvedQueue, messages: readonly ReceivedMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      try {
        await this.deps.api.changeVisibilityBatch(
          queue.url,
          chunk.map((m) => m.receiptHandle),
          0,
        );
      } catch (error) {
        this.deps.options.onError(error, { operation: 'release', queue: this.queue });
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.abort.signal;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}
