/**
 * The attempts this worker is running, so a cancel reaches them: their `ctx.signal` aborts with a
 * `RunCancelledError`. A cancel committed in this process aborts them at once (`committed`). One
 * committed by another process (a web process, the CLI, another worker) is found by looking at the
 * store: every `periodMs`, the runs of the attempts that have been running longer than that are
 * loaded (a batch at a time) and those whose run was cancelled are aborted. Short attempts cost
 * one Set entry each and no store read.
 */
import type { Clock } from '../clock.js';
import { RunCancelledError } from '../errors.js';
import type { RunRecord, Store } from '../ports/store.js';
import type { PersistedChainSnapshot } from './decide.js';
import type { Logger } from './runtime-options.js';

/** What a cancel aborts: an attempt's signal. */
export interface Abortable {
  abort(reason: unknown): void;
}

/** An attempt's place in the registry; `unregister()` when the attempt settles. */
export interface Registration {
  unregister(): void;
}

/**
 * One registered attempt: a node of its run's list (most runs have one attempt running, so a
 * list, not a `Set` per run; and the node is its own unregister handle, so no closure either).
 */
class Running implements Registration {
  prev: Running | undefined;
  next: Running | undefined;

  constructor(
    private readonly byRun: Map<string, Running>,
    readonly runId: string,
    readonly startedAt: number,
    readonly target: Abortable,
  ) {}

  unregister(): void {
    const { prev, next } = this;
    if (prev) prev.next = next;
    else if (this.byRun.get(this.runId) === this) {
      // The head of its run's list (a list taken out by a cancel is not in the map any more).
      if (next) this.byRun.set(this.runId, next);
      else this.byRun.delete(this.runId);
    }
    if (next) next.prev = prev;
    this.prev = this.next = undefined;
  }
}

/** How many runs one check loads. */
const BATCH = 100;

/** The `RunCancelledError` of a run that was cancelled (it may still be compensating), or `undefined`. */
export function cancellationOf(record: RunRecord): RunCancelledError | undefined {
  const cancel = (record.snapshot as PersistedChainSnapshot | null | undefined)?.context?.cancel;
  if (record.status !== 'cancelled' && !cancel) return undefined;
  return new RunCancelledError(record.id, record.chain, cancel?.reason ?? null);
}

export class RunningAttempts {
  /** The newest running attempt of each run, heading the list of its others. */
  private readonly byRun = new Map<string, Running>();
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private checking = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly periodMs: number,
    private readonly logger: Logger,
  ) {}

  /** Registers an attempt of run `runId` (a cancel calls `target.abort`); unregister it when the attempt settles. */
  add(runId: string, target: Abortable): Registration {
    const running = new Running(this.byRun, runId, this.clock.now(), target);
    const head = this.byRun.get(runId);
    if (head) {
      running.next = head;
      head.prev = running;
    }
    this.byRun.set(runId, running);
    this.arm();
    return running;
  }

  /** A commit of this process: aborts the run's attempts when it cancelled the run. */
  committed(record: RunRecord): void {
    if (this.byRun.size === 0 || !this.byRun.has(record.id)) return;
    const cancelled = cancellationOf(record);
    if (cancelled) this.abortRun(record.id, cancelled);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private abortRun(runId: string, reason: RunCancelledError): void {
    let running = this.byRun.get(runId);
    if (!running) return;
    this.byRun.delete(runId);
    while (running) {
      const next: Running | undefined = running.next;
      running.target.abort(reason);
      running = next;
    }
  }

  private arm(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.check().finally(() => {
        if (this.byRun.size > 0) this.arm();
      });
    }, this.periodMs);
  }

  /** Loads the runs of the attempts running for longer than a period; aborts the cancelled ones. */
  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const before = this.clock.now() - this.periodMs;
      const due: string[] = [];
      for (const [runId, head] of this.byRun) {
        for (let running: Running | undefined = head; running; running = running.next) {
          if (running.startedAt <= before) {
            due.push(runId);
            break;
          }
        }
        if (due.length >= BATCH) break;
      }
      for (const runId of due) {
        const record = await this.store.load(runId);
        const cancelled = record && cancellationOf(record);
        if (cancelled) this.abortRun(runId, cancelled);
      }
    } catch (error) {
      this.logger.warn('could not check whether running attempts were cancelled; checking again later', { error: String(error) });
    } finally {
      this.checking = false;
    }
  }
}
