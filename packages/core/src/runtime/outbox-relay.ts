import type { Clock, TimerHandle } from '../clock.js';
import { sign, SIGNATURE_HEADER } from '../messages.js';
import type { Broker, MessageHeaders, PublishOptions } from '../ports/broker.js';
import type { Claimant, NewOutboxEntry, OutboxEntry, Store } from '../ports/store.js';
import { Batcher } from './batcher.js';
import type { EagerSettle } from './eager-dispatch.js';
import type { FailureReport } from './failure-report.js';
import { outageDelay } from './outage-backoff.js';
import { isRefusal } from './refusal.js';
import { callFailureHooks, type Plugin } from './plugins.js';
import type { Logger } from './runtime-options.js';

export interface RelayOptions {
  readonly broker: Broker;
  readonly store: Store;
  readonly clock: Clock;
  readonly signingKey: string | undefined;
  /** The plugins whose `onFailure` hooks receive failure reports; none makes a hook-less relay. */
  readonly plugins: readonly Plugin[];
  /** This process's claimant id (a random UUID per runtime or client). */
  readonly owner: string;
  /** How long a claim on an outbox entry holds before another process may take it over. */
  readonly leaseMs: number;
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
 * half of the transactional outbox). Entries are claimed with a lease (`Claimant`): the committer
 * holds what it wrote, a sweep claims entries nobody holds (a dead claimer's once its lease ran
 * out), so many processes never publish one entry in parallel. A failed publish is deferred
 * (the claim kept until its backoff ends: 100 ms doubling, at most the sweep period) and then
 * claimed again; one the broker refused for good is never retried: `onRefused` fails what it
 * was for, then it is deleted. Failure reports (`queue: null`) are claimed only by a relay with
 * an `onFailure` hook, so a hook-less process never takes, deletes or drops one.
 */
export class OutboxRelay {
  private readonly inFlight = new Set<number>();
  private readonly active = new Set<Promise<void>>();
  private readonly deletes: Batcher<number, void>;
  /** Consecutive failed publishes of an entry, by id (for its backoff). */
  private readonly failures = new Map<number, number>();
  /** Sweeps scheduled for the end of a deferred entry's backoff. */
  private readonly retryTimers = new Set<TimerHandle>();
  private sweepTimer: TimerHandle | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** Runs an entry in this process instead of publishing it (eager dispatch); `undefined`: not taken. */
  private eager: ((entry: OutboxEntry, settle: EagerSettle, prepare: () => MessageHeaders | undefined) => Promise<void> | undefined) | undefined;
  /** Entries held by eager steps running here: their claims are renewed until they settle. */
  private readonly held = new Set<number>();
  private renewTimer: TimerHandle | undefined;
  /** Messages published without an outbox row (see `publishUnstored`), by the entry standing for them. */
  private readonly unstored = new WeakSet<OutboxEntry>();
  /** The id of the last unstored message: they count down from -1, apart from the store's ids. */
  private lastUnstored = 0;
  /** Whether this relay calls failure hooks (and so claims failure reports). */
  readonly hooks: boolean;

  constructor(private readonly options: RelayOptions) {
    this.hooks = options.plugins.some((p) => p.onFailure);
    this.deletes = new Batcher<number, void>(async (ids) => {
      await options.store.deleteOutbox(ids);
      return ids.map((): void => undefined);
    });
  }

  /** Who this relay claims as, now. */
  claimant(): Claimant {
    const { owner, leaseMs, clock } = this.options;
    return { owner, now: clock.now(), leaseMs, hooks: this.hooks };
  }

  /** Lets `take` run entries in this process instead of publishing them (see `EagerDispatch`). */
  setEager(take: (entry: OutboxEntry, settle: EagerSettle, prepare: () => MessageHeaders | undefined) => Promise<void> | undefined): void {
    this.eager = take;
  }

  /** Publishes `entries` now (this relay claimed them: it just committed them, or a sweep took them). */
  publish(entries: readonly OutboxEntry[]): void {
    for (const entry of entries) {
      if (this.inFlight.has(entry.id)) continue;
      if (entry.queue === null && !this.hooks) continue; // Never ours to call: left for a process with the hook.
      this.inFlight.add(entry.id);
      const eager = this.eager?.(entry, this.settleOf(entry), () => this.prepare(entry));
      if (eager) this.hold(entry.id);
      const p = (eager ?? this.deliver(entry)).finally(() => {
        this.inFlight.delete(entry.id);
        this.active.delete(p);
      });
      this.active.add(p);
    }
  }

  /**
   * Publishes messages committed without an outbox row (a broker that keeps nothing across a
   * crash: the run's `waiting` copies re-dispatch them at start). As outbox entries are, except
   * that nothing is deleted and a failed publish is retried from memory.
   */
  publishUnstored(runId: string, messages: readonly NewOutboxEntry[]): void {
    this.publish(
      messages.map((m) => {
        const entry: OutboxEntry = { id: --this.lastUnstored, runId, queue: m.queue, body: m.body, ...(m.options ? { options: m.options } : {}) };
        this.unstored.add(entry);
        return entry;
      }),
    );
  }

  /** How an eager step settles `entry`: deleted once its outcome is committed, or published after all. */
  private settleOf(entry: OutboxEntry): EagerSettle {
    let settled = this.unstored.has(entry);
    return {
      stored: !settled,
      settled: () => {
        settled = true;
        this.held.delete(entry.id);
      },
      done: async () => {
        this.held.delete(entry.id);
        if (settled) return;
        try {
          await this.deletes.submit(entry.id);
        } catch (error) {
          // Kept: once its claim runs out it is published, and found stale (the run moved on).
          this.options.logger.warn('could not delete the outbox entry of a step run here', { runId: entry.runId, error: String(error) });
        }
      },
      handOver: (delayMs) => {
        this.held.delete(entry.id);
        if (delayMs === undefined) return this.deliver(entry);
        const later: OutboxEntry = { ...entry, options: { ...entry.options, delayMs } };
        // Still a message without an outbox row when it was one: a failed publish is retried from memory.
        if (this.unstored.has(entry)) this.unstored.add(later);
        return this.deliver(later);
      },
    };
  }

  /**
   * Keeps the claim on `id` while an eager step runs: every half lease, the claims on every held
   * entry are extended by a lease, so no other process publishes the entry of a long step.
   */
  private hold(id: number): void {
    if (id < 0) return; // Unstored: no claim to keep.
    this.held.add(id);
    if (this.renewTimer !== undefined) return;
    const { clock, leaseMs } = this.options;
    const renew = () => {
      this.renewTimer = undefined;
      if (this.held.size === 0) return;
      const { store, owner } = this.options;
      store.deferOutbox(owner, [...this.held], clock.now() + leaseMs).catch((error: unknown) => {
        this.options.logger.warn('could not renew the claims of steps running here; another process may run them too once the claims run out', { error: String(error) });
      });
      this.renewTimer = clock.setTimeout(renew, leaseMs / 2);
    };
    this.renewTimer = clock.setTimeout(renew, leaseMs / 2);
  }

  /** Publishes a message that is not in the outbox (the re-delayed hop of an early timer). */
  async send(runId: string, queue: string, body: string, options: PublishOptions): Promise<void> {
    await this.options.broker.publish(queue, body, this.outgoing(runId, body, options));
  }

  /** What `body` is published with: the delay capped to the broker's, the run id and signature headers. */
  private outgoing(runId: string, body: string, options: PublishOptions): PublishOptions {
    const { broker, signingKey } = this.options;
    const delayMs = Math.min(options.delayMs ?? 0, broker.capabilities.maxDelayMs);
    const headers = { ...options.headers, 'x-taskchart-run': runId, ...(signingKey ? { [SIGNATURE_HEADER]: sign(body, signingKey) } : {}) };
    return { ...options, delayMs, headers };
  }

  /**
   * The headers `entry` would be published with, as an eager step's delivery carries them, or
   * `undefined` when the broker would refuse it (a refusal it knows of before sending): such a
   * step is never run here, so it fails the same way wherever it would have run.
   */
  private prepare(entry: OutboxEntry): MessageHeaders | undefined {
    const { broker } = this.options;
    const outgoing = this.outgoing(entry.runId, entry.body, entry.options ?? {});
    if (entry.queue !== null && broker.refusal?.(entry.queue, entry.body, outgoing)) return undefined;
    return outgoing.headers;
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const { logger } = this.options;
    try {
      if (entry.queue === null) await this.callHooks(entry);
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
    if (this.unstored.has(entry)) return;
    try {
      await this.deletes.submit(entry.id);
    } catch (error) {
      // Published but not marked: it will be published again (absorbed by idempotent transitions).
      logger.warn('could not delete a published outbox entry', { runId: entry.runId, error: String(error) });
    }
  }

  /** Keeps `entry` claimed until its backoff ends, then claims it again (it stays in the store meanwhile). */
  private async retryLater(entry: OutboxEntry, what: string, error: unknown): Promise<void> {
    if (this.stopped) return;
    const failures = this.failures.get(entry.id) ?? 0;
    this.failures.set(entry.id, failures + 1);
    const delayMs = outageDelay(failures, this.options.sweepMs);
    this.options.logger.warn(`${what}; the outbox keeps the message and retries it`, { runId: entry.runId, queue: entry.queue, delayMs, error: String(error) });
    const unstored = this.unstored.has(entry);
    if (!unstored) {
      try {
        await this.options.store.deferOutbox(this.options.owner, [entry.id], this.options.clock.now() + delayMs);
      } catch {
        // The store is down too: the claim runs out by itself and a sweep takes the entry again.
      }
    }
    if (this.stopped) return;
    const timer = this.options.clock.setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.stopped) return;
      // An unstored message is only in memory: publish it again from here.
      if (unstored) this.publish([entry]);
      else void this.sweep();
    }, delayMs);
    this.retryTimers.add(timer);
  }

  private async callHooks(entry: OutboxEntry): Promise<void> {
    const report = JSON.parse(entry.body) as FailureReport;
    await callFailureHooks(this.options.plugins, report, this.options.logger);
  }

  /**
   * Publishes everything of the store's outbox that nobody holds (used at start, after a crash):
   * claims and publishes page after page until a claim comes back empty. Entries whose publish
   * fails are deferred, so a broker that is down at start-up delays them instead of stalling start().
   */
  async republishAll(): Promise<number> {
    let count = 0;
    for (;;) {
      const batch = (await this.options.store.claimOutbox(this.claimant(), 1000)).filter((e) => !this.inFlight.has(e.id));
      if (batch.length === 0) return count;
      count += batch.length;
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

  /** Claims the entries nobody holds (a crashed process's, deferred ones whose backoff ended) and publishes them. */
  private sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const entries = await this.options.store.claimOutbox(this.claimant(), 1000);
        this.publish(entries.filter((e) => !this.inFlight.has(e.id)));
      } catch (error) {
        this.options.logger.warn('outbox sweep failed', { error: String(error) });
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
    await this.deletes.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer !== undefined) this.options.clock.clearTimeout(this.sweepTimer);
    for (const timer of this.retryTimers) this.options.clock.clearTimeout(timer);
    this.retryTimers.clear();
    await this.sweeping;
    await this.idle();
    // Every eager step has settled: no claim is held any more.
    this.held.clear();
    if (this.renewTimer !== undefined) this.options.clock.clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
  }
}
