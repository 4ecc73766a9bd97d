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

/** The publish options of an entry that has none (shared: not an object per publish). */
const NO_OPTIONS: PublishOptions = Object.freeze({});

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
  /** Publishes (and eager steps) under way: `idle()` waits until none is left. */
  private active = 0;
  /** Called when `active` drops to 0 (the `idle()` calls waiting for it). */
  private idleWaiters: Array<() => void> = [];
  private readonly deletes: Batcher<number, void>;
  /** Consecutive failed publishes of an entry, by id (for its backoff). */
  private readonly failures = new Map<number, number>();
  /** Sweeps scheduled for the end of a deferred entry's backoff. */
  private readonly retryTimers = new Set<TimerHandle>();
  private sweepTimer: TimerHandle | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** Runs an entry in this process instead of publishing it (eager dispatch); `undefined`: not taken. */
  private eager: ((entry: OutboxEntry, settle: EagerSettle) => Promise<void> | undefined) | undefined;
  /**
   * How eager steps settle their entries: one object for all of them (the entry is an argument),
   * so an eager step allocates no closures of the relay's.
   */
  private readonly settler: EagerSettle = {
    prepare: (entry) => this.prepare(entry),
    settled: (entry) => {
      this.held.delete(entry.id);
    },
    done: (entry, settled) => this.done(entry, settled),
    handOver: (entry, delayMs) => this.handOver(entry, delayMs),
  };
  /** Entries held by eager steps running here: their claims are renewed until they settle. */
  private readonly held = new Set<number>();
  private renewTimer: TimerHandle | undefined;
  /**
   * The id of the last message published without an outbox row (see `publishUnstored`): they
   * count down from -1, apart from the store's ids (which are positive), so a negative id is
   * what marks an entry as unstored.
   */
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
  setEager(take: (entry: OutboxEntry, settle: EagerSettle) => Promise<void> | undefined): void {
    this.eager = take;
  }

  /** Publishes `entries` now (this relay claimed them: it just committed them, or a sweep took them). */
  publish(entries: readonly OutboxEntry[]): void {
    for (const entry of entries) this.publishEntry(entry);
  }

  /**
   * Publishes messages committed without an outbox row (a broker that keeps nothing across a
   * crash: the run's `waiting` copies re-dispatch them at start). As outbox entries are, except
   * that nothing is deleted and a failed publish is retried from memory.
   */
  publishUnstored(runId: string, messages: readonly NewOutboxEntry[]): void {
    for (const m of messages) {
      const id = --this.lastUnstored;
      this.publishEntry(m.options ? { id, runId, queue: m.queue, body: m.body, options: m.options } : { id, runId, queue: m.queue, body: m.body });
    }
  }

  private publishEntry(entry: OutboxEntry): void {
    if (this.inFlight.has(entry.id)) return;
    if (entry.queue === null && !this.hooks) return; // Never ours to call: left for a process with the hook.
    this.inFlight.add(entry.id);
    const eager = this.eager?.(entry, this.settler);
    if (eager) this.hold(entry.id);
    this.active++;
    // A delivery ends its tracking itself (no second async frame per message published).
    if (eager) void this.track(entry, eager);
    else void this.deliver(entry, true);
  }

  /** Once `work` (running `entry` here) has settled, the entry is no longer in flight. */
  private async track(entry: OutboxEntry, work: Promise<void>): Promise<void> {
    try {
      await work;
    } finally {
      this.untrack(entry);
    }
  }

  /** `entry` (published, or run here) is no longer in flight. */
  private untrack(entry: OutboxEntry): void {
    this.inFlight.delete(entry.id);
    if (--this.active === 0 && this.idleWaiters.length > 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** An eager step's outcome is committed: its entry is deleted (unless the commit deleted it, `settled`, or it has no row). Never rejects. */
  private async done(entry: OutboxEntry, settled: boolean): Promise<void> {
    this.held.delete(entry.id);
    if (settled || entry.id < 0) return;
    try {
      await this.deletes.submit(entry.id);
    } catch (error) {
      // Kept: once its claim runs out it is published, and found stale (the run moved on).
      this.options.logger.warn('could not delete the outbox entry of a step run here', { runId: entry.runId, error: String(error) });
    }
  }

  /** An eager step gives its entry to the broker after all (published, then deleted), after `delayMs` when given. Never rejects. */
  private handOver(entry: OutboxEntry, delayMs: number | undefined): Promise<void> {
    this.held.delete(entry.id);
    if (delayMs === undefined) return this.deliver(entry);
    // Same id: still a message without an outbox row when it was one (a failed publish is retried from memory).
    return this.deliver({ ...entry, options: { ...entry.options, delayMs } });
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

  /**
   * What `body` is published with: the delay capped to the broker's, the run id and signature
   * headers. Field by field, not `{ ...options, delayMs, headers }`: on Node 20 a spread followed
   * by a key its source lacks takes V8's slow path, about 2 µs a call (it ran for every step).
   */
  private outgoing(runId: string, body: string, options: PublishOptions): PublishOptions {
    const delayMs = Math.min(options.delayMs ?? 0, this.options.broker.capabilities.maxDelayMs);
    const headers = this.headersOf(runId, body, options.headers);
    if (options === NO_OPTIONS) return { delayMs, headers };
    // Every field of PublishOptions (a field added there fails to compile here until it is copied).
    return { deduplicationId: options.deduplicationId, groupId: options.groupId, delayMs, headers } satisfies Record<keyof PublishOptions, unknown>;
  }

  /** The headers `body` goes with: `given` (the plugins'), the run id and the signature (no conditional spreads: this runs on every step). */
  private headersOf(runId: string, body: string, given: MessageHeaders | undefined): MessageHeaders {
    // Object.assign, not a spread: the key added next would take the spread's slow path (see `outgoing`).
    const headers: Record<string, string> = given ? Object.assign({}, given) : {};
    headers['x-taskchart-run'] = runId;
    const { signingKey } = this.options;
    if (signingKey) headers[SIGNATURE_HEADER] = sign(body, signingKey);
    return headers;
  }

  /**
   * The headers `entry` would be published with, as an eager step's delivery carries them, or
   * `undefined` when the broker would refuse it (a refusal it knows of before sending): such a
   * step is never run here, so it fails the same way wherever it would have run.
   */
  private prepare(entry: OutboxEntry): MessageHeaders | undefined {
    const { broker } = this.options;
    if (entry.queue === null || !broker.refusal) return this.headersOf(entry.runId, entry.body, entry.options?.headers);
    const outgoing = this.outgoing(entry.runId, entry.body, entry.options ?? NO_OPTIONS);
    if (broker.refusal(entry.queue, entry.body, outgoing)) return undefined;
    return outgoing.headers;
  }

  /** Publishes `entry` (or calls the hooks with it), then deletes its row; `tracked`: then it is no longer in flight. Never rejects. */
  private async deliver(entry: OutboxEntry, tracked = false): Promise<void> {
    const { logger } = this.options;
    try {
      try {
        if (entry.queue === null) await this.callHooks(entry);
        // As `send()` does, without its async frame (this runs for every message published).
        else await this.options.broker.publish(entry.queue, entry.body, this.outgoing(entry.runId, entry.body, entry.options ?? NO_OPTIONS));
      } catch (error) {
        if (!isRefusal(error)) return await this.retryLater(entry, 'publish failed', error);
        logger.error('the broker refused a message for good; failing what it was for instead of retrying it', { runId: entry.runId, queue: entry.queue, error: error.message });
        try {
          await this.options.onRefused(entry, error);
        } catch (failure) {
          return await this.retryLater(entry, 'could not record a refused message', failure);
        }
      }
      this.failures.delete(entry.id);
      if (entry.id < 0) return; // Unstored: no row to delete.
      try {
        await this.deletes.submit(entry.id);
      } catch (error) {
        // Published but not marked: it will be published again (absorbed by idempotent transitions).
        logger.warn('could not delete a published outbox entry', { runId: entry.runId, error: String(error) });
      }
    } finally {
      if (tracked) this.untrack(entry);
    }
  }

  /** Keeps `entry` claimed until its backoff ends, then claims it again (it stays in the store meanwhile). */
  private async retryLater(entry: OutboxEntry, what: string, error: unknown): Promise<void> {
    if (this.stopped) return;
    const failures = this.failures.get(entry.id) ?? 0;
    this.failures.set(entry.id, failures + 1);
    const delayMs = outageDelay(failures, this.options.sweepMs);
    this.options.logger.warn(`${what}; the outbox keeps the message and retries it`, { runId: entry.runId, queue: entry.queue, delayMs, error: String(error) });
    const unstored = entry.id < 0;
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
    while (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
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
