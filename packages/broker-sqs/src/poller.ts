/**
 * One consumer of one queue: receive loops, each asking for at most the free prefetch (and at
 * most `receiveBatchSize`) messages per ReceiveMessage, hands each to the handler with the
 * heartbeat running, and survives failed receives by backing off and polling again. A message
 * that arrives before its due time (a delay longer than one SQS hop) is deferred, never held.
 *
 * With a fixed `receiveConcurrency`, that many long-poll loops run all the time. Adaptive (the
 * default), one long poll runs at idle, and each receive that comes back full while prefetch is
 * free starts one more loop (up to the prefetch's worth of receives, at most 10), which drains the
 * backlog with receives that do not wait (WaitTimeSeconds 0) and ends at the first receive that
 * comes back short, or when the prefetch is taken. So a burst is received several round trips at
 * a time, and an idle queue still costs one long poll per `waitTimeSeconds`.
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
  private readonly loops = new Set<Promise<void>>();

  constructor(
    private readonly queue: string,
    private readonly handler: DeliveryHandler,
    private readonly prefetch: number,
    private readonly deps: PollerDeps,
    private readonly onCancelled: (poller: Poller) => void,
  ) {}

  start(): void {
    const concurrency = this.deps.options.receiveConcurrency;
    for (let i = 0; i < (concurrency === 'adaptive' ? 1 : concurrency); i++) this.spawn(true);
  }

  /** Starts a receive loop: a lasting long-poll loop, or (`lasting` false) one that drains a backlog and ends. */
  private spawn(lasting: boolean): void {
    const loop = this.run(lasting);
    this.loops.add(loop);
    void loop.finally(() => this.loops.delete(loop));
  }

  /** Whether a receive of `got` messages (asked for `max`) says there is more to drain than the loops running can take. */
  private shouldWiden(got: number, max: number): boolean {
    const { receiveConcurrency, receiveBatchSize } = this.deps.options;
    if (receiveConcurrency !== 'adaptive' || this.cancelled || got < max) return false;
    const limit = Math.min(10, Math.ceil(this.prefetch / receiveBatchSize));
    return this.loops.size < limit && this.prefetch - this.inFlight - this.reserved > 0;
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
    while (this.loops.size > 0) await Promise.all([...this.loops]);
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.onCancelled(this);
  }

  private async run(lasting: boolean): Promise<void> {
    const { api, directory, options } = this.deps;
    let failures = 0;
    while (!this.cancelled) {
      const free = this.prefetch - this.inFlight - this.reserved;
      if (free <= 0) {
        if (!lasting) return; // the prefetch is taken: the lasting loop receives again as it frees up
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
          // A draining loop never waits: when the backlog is gone it ends instead of holding prefetch.
          { max, waitSeconds: lasting ? options.waitTimeSeconds : 0, visibilitySeconds: options.visibilityTimeoutSeconds },
          // Not aborted on cancel: a server may already have handed out messages to a request we
          // drop, hiding them for a visibility timeout. Cancel waits (≤ waitTimeSeconds) instead.
        );
        failures = 0;
      } catch (error) {
        this.reserved -= max;
        if (this.cancelled) break;
        if (isQueueDoesNotExist(error)) directory.invalidate(this.queue);
        options.onError(error, { operation: 'ReceiveMessage', queue: this.queue });
        if (!lasting) return; // the lasting loop backs off and keeps polling
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
      if (this.shouldWiden(messages.length, max)) this.spawn(false);
      else if (!lasting && messages.length < max) return; // the backlog is drained
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
