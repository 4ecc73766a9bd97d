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

interface Running {
  readonly startedAt: number;
  readonly abort: (reason: unknown) => void;
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
  private readonly byRun = new Map<string, Set<Running>>();
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private checking = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly periodMs: number,
    private readonly logger: Logger,
  ) {}

  /** Registers an attempt of run `runId`; returns the function that unregisters it (call it when the attempt settles). */
  add(runId: string, abort: (reason: unknown) => void): () => void {
    const running: Running = { startedAt: this.clock.now(), abort };
    let set = this.byRun.get(runId);
    if (!set) this.byRun.set(runId, (set = new Set()));
    set.add(running);
    this.arm();
    return () => {
      set.delete(running);
      if (set.size === 0 && this.byRun.get(runId) === set) this.byRun.delete(runId);
    };
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
    const set = this.byRun.get(runId);
    if (!set) return;
    this.byRun.delete(runId);
    for (const running of set) running.abort(reason);
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
      for (const [runId, set] of this.byRun) {
        for (const running of set) {
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
