/**
 * How a process that consumes the queues itself follows the runs its `result()` calls wait for.
 * It sees most transitions in process; another process's commits reach it through the store. One
 * timer for all of them: once a period it loads each followed run that this process did not
 * advance within the period, and settles those that finished; a store hint (`Store.watch`) for a
 * followed run loads it at once. A point load per run instead of one event-log feed, timer and
 * abort signal per `result()` call.
 */
import type { RunRecord, Store, StoreChange } from '../ports/store.js';
import type { Logger } from '../runtime/runtime-options.js';

export interface StoreFollowerDeps {
  readonly store: Store;
  /** The check period (real time: `resultPoll`). */
  readonly periodMs: number;
  /** Whether this process committed a transition of the run within the last period (no need to look). */
  readonly recentlyAdvanced: (runId: string, periodMs: number) => boolean;
  /** Whether the run is settled (terminal or parked). */
  readonly isSettled: (record: RunRecord) => boolean;
  /** The run finished: its `result()` calls settle. */
  readonly settle: (record: RunRecord) => void;
  /** The store can keep nothing any more: the run's `result()` calls reject. */
  readonly fail: (runId: string, error: Error) => void;
  readonly logger: Logger;
}

export class StoreFollower {
  private readonly followed = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(private readonly deps: StoreFollowerDeps) {}

  follow(runId: string): void {
    if (this.closed) return;
    this.followed.add(runId);
    this.unwatch ??= this.deps.store.watch?.((change) => this.hinted(change));
    this.arm();
  }

  /** No `result()` call waits for the run any more. */
  unfollow(runId: string): void {
    this.followed.delete(runId);
  }

  close(): void {
    this.closed = true;
    this.followed.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.checkAll().finally(() => {
        if (this.followed.size > 0) this.arm();
      });
    }, this.deps.periodMs);
  }

  private hinted(change: StoreChange): void {
    if (change.runId === undefined) void this.checkAll(true);
    else if (this.followed.has(change.runId)) void this.check(change.runId);
  }

  private async checkAll(all = false): Promise<void> {
    for (const runId of [...this.followed]) {
      if (this.closed) return;
      if (all || !this.deps.recentlyAdvanced(runId, this.deps.periodMs)) await this.check(runId);
    }
  }

  private async check(runId: string): Promise<void> {
    try {
      const record = await this.deps.store.load(runId);
      if (record && this.deps.isSettled(record)) this.deps.settle(record);
    } catch (error) {
      if (error instanceof Error && error.name === 'StoreLostError') return this.deps.fail(runId, error);
      this.deps.logger.warn('could not read a run whose result() is awaited; reading it again later', { runId, error: String(error) });
    }
  }
}
