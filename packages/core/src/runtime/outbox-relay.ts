import type { Clock, TimerHandle } from '../clock.js';
import { sign, SIGNATURE_HEADER } from '../messages.js';
import type { Broker, PublishOptions } from '../ports/broker.js';
import type { OutboxEntry, Store } from '../ports/store.js';
import { Batcher } from './batcher.js';
import type { FailureReport } from './failure-report.js';
import { outageDelay } from './outage-backoff.js';
import { isRefusal } from './refusal.js';
import type { Logger } from './runtime-options.js';

export interface RelayOptions {
  readonly broker: Broker;
  readonly store: Store;
  readonly clock: Clock;
  readonly signingKey: string | undefined;
  readonly onFailure: ((report: FailureReport) => void | Promise<void>) | undefined;
  /** How often the store's outbox is swept; also the longest wait before a failed publish is retried. */
  readonly sweepMs: number;
  readonly logger: Logger;
  /**
   * Called when the broker refused `entry` for good (`MessageRefusedError`): fails what the
   * message was for. The entry is deleted once this resolves; when it rejects (the store is
   * down), the entry is kept and tried again later.
   */
  readonly onRefused: (entry: OutboxEntry, refusal: Error) => Promise<void>;
}

/**
 * Publishes committed outbox entries and deletes them once the broker has them (the second
 * half of the transactional outbox). An entry whose publish failed stays in the store and is
 * retried with exponential backoff (100 ms doubling, at most the sweep period); one the broker
 * refused for good is never retried: `onRefused` fails what it was for, then it is deleted. A
 * periodic sweep publishes entries this relay does not know of (left by a crash); a starting
 * runtime republishes whatever a crash left behind.
 */
export class OutboxRelay {
  private readonly inFlight = new Set<number>();
  private readonly active = new Set<Promise<void>>();
  private readonly deletes: Batcher<number, void>;
  /** Consecutive failed publishes of an entry, by id. */
  private readonly failures = new Map<number, number>();
  /** Entries waiting out their backoff before the next publish, by id. */
  private readonly retryTimers = new Map<number, TimerHandle>();
  private sweepTimer: TimerHandle | undefined;
  private seenLastSweep = new Set<number>();
  private stopped = false;

  constructor(private readonly options: RelayOptions) {
    this.deletes = new Batcher<number, void>(async (ids) => {
      await options.store.deleteOutbox(ids);
      return ids.map((): void => undefined);
    });
  }

  /** Publishes `entries` now (they were just committed). */
  publish(entries: readonly OutboxEntry[]): void {
    for (const entry of entries) {
      if (this.inFlight.has(entry.id)) continue;
      this.inFlight.add(entry.id);
      const p = this.deliver(entry).finally(() => {
        this.inFlight.delete(entry.id);
        this.active.delete(p);
      });
      this.active.add(p);
    }
  }

  /** Publishes a message that is not in the outbox (a re-dispatch from a run's pending list). */
  async send(runId: string, queue: string, body: string, options: PublishOptions): Promise<void> {
    const { broker, signingKey } = this.options;
    const delayMs = Math.min(options.delayMs ?? 0, broker.capabilities.maxDelayMs);
    const headers = { ...options.headers, 'x-taskchart-run': runId, ...(signingKey ? { [SIGNATURE_HEADER]: sign(body, signingKey) } : {}) };
    await broker.publish(queue, body, { ...options, delayMs, headers });
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const { logger } = this.options;
    try {
      if (entry.queue === null) await this.callHook(entry);
      else await this.send(entry.runId, entry.queue, entry.body, entry.options ?? {});
    } catch (error) {
      if (!isRefusal(error)) return this.retryLater(entry, 'publish failed', error);
      logger.error('the broker refused a message for good; failing what it was for instead of retrying it', { runId: entry.runId, queue: entry.queue, error: error.message });
      try {
        await this.options.onRefused(entry, error);
      } catch (failure) {
        return this.retryLater(entry, 'could not record a refused message', failure);
      }
    }
    this.failures.delete(entry.id);
    try {
      await this.deletes.submit(entry.id);
    } catch (error) {
      // Published but not marked: it will be published again (absorbed by idempotent transitions).
      logger.warn('could not delete a published outbox entry', { runId: entry.runId, error: String(error) });
    }
  }

  /** Publishes `entry` again after its backoff (it stays in the store meanwhile). */
  private retryLater(entry: OutboxEntry, what: string, error: unknown): void {
    if (this.stopped) return;
    const failures = this.failures.get(entry.id) ?? 0;
    this.failures.set(entry.id, failures + 1);
    const delayMs = outageDelay(failures, this.options.sweepMs);
    this.options.logger.warn(`${what}; the outbox keeps the message and retries it`, { runId: entry.runId, queue: entry.queue, delayMs, error: String(error) });
    this.retryTimers.set(
      entry.id,
      this.options.clock.setTimeout(() => {
        this.retryTimers.delete(entry.id);
        if (!this.stopped) this.publish([entry]);
      }, delayMs),
    );
  }

  private async callHook(entry: OutboxEntry): Promise<void> {
    const hook = this.options.onFailure;
    if (!hook) return;
    const report = JSON.parse(entry.body) as FailureReport;
    try {
      await hook(report);
    } catch (error) {
      // A throwing hook must not block the outbox: report and move on.
      this.options.logger.error('onFailure hook threw', { runId: report.runId, error: String(error) });
    }
  }

  /**
   * Publishes everything the store's outbox holds (used at start, after a crash): one pass.
   * Entries whose publish fails stay in the outbox for the sweep, so a broker that is down at
   * start-up delays them instead of stalling start().
   */
  async republishAll(): Promise<number> {
    const attempted = new Set<number>();
    for (;;) {
      const batch = (await this.options.store.outbox(attempted.size + 1000)).filter((e) => !this.inFlight.has(e.id) && !attempted.has(e.id));
      if (batch.length === 0) return attempted.size;
      for (const e of batch) attempted.add(e.id);
      this.publish(batch);
      await this.idle();
    }
  }

  startSweeping(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.sweep().finally(() => {
        if (!this.stopped) this.sweepTimer = this.options.clock.setTimeout(tick, this.options.sweepMs);
      });
    };
    this.sweepTimer = this.options.clock.setTimeout(tick, this.options.sweepMs);
  }

  /**
   * Publishes entries seen on two consecutive sweeps (so fresh ones of busy relays are left
   * alone) and not already waiting out a backoff here.
   */
  private async sweep(): Promise<void> {
    try {
      const entries = await this.options.store.outbox(1000);
      const stale = entries.filter((e) => this.seenLastSweep.has(e.id) && !this.inFlight.has(e.id) && !this.retryTimers.has(e.id));
      this.seenLastSweep = new Set(entries.map((e) => e.id));
      this.publish(stale);
    } catch (error) {
      this.options.logger.warn('outbox sweep failed', { error: String(error) });
    }
  }

  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
    await this.deletes.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer !== undefined) this.options.clock.clearTimeout(this.sweepTimer);
    for (const timer of this.retryTimers.values()) this.options.clock.clearTimeout(timer);
    this.retryTimers.clear();
    await this.idle();
  }
}
