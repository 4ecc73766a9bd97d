/**
 * `inspectRuns`: reads the store's event log (from its start, then following it) and replays
 * each run as a live XState actor would inspect itself — so a run that hopped between workers,
 * crashed and restarted is drawn as one actor walking its states.
 */
import type { AnyChain } from '@taskchart/core';
import { backoffDelay, type HistoryEntry, type StoredEvent, type TimerHandle } from '@taskchart/core/adapter';
import { compileInspectOptions, type CompiledInspectOptions, type InspectRunsOptions } from './options.js';
import { RunReplay } from './run-replay.js';

/** What `inspectRuns` returns. */
export interface RunInspection {
  /**
   * Resolves once the replay ends: when the log is read to its end (`follow: false`), when the
   * one followed run (`runId`) has ended, or after `stop()`. Never rejects: read failures are
   * retried and logged.
   */
  readonly done: Promise<void>;
  /** Stops reading the log; resolves once the reader has stopped. */
  stop(): Promise<void>;
}

/** Log entries read per store call. */
const PAGE_SIZE = 500;
/** Read failures are retried after `poll` doubled per failure, at most this long. */
const MAX_RETRY_MS = 10_000;

interface Followed {
  readonly chain: AnyChain;
  readonly replay: RunReplay;
  /** The completed steps' outputs, as the store last told them. */
  outputs: Record<string, unknown>;
}

/**
 * Feeds `options.inspector` the inspection events of the runs in `options.store`: for each run,
 * its actor registered with its chain's machine definition, then the events it received and its
 * snapshots, in order. Live by default; `follow: false` replays what the log holds and stops.
 */
export function inspectRuns(options: InspectRunsOptions): RunInspection {
  const o = compileInspectOptions(options);
  const reader = new LogReader(o);
  const done = reader.run();
  return {
    done,
    stop: async () => {
      reader.stop();
      await done;
    },
  };
}

class LogReader {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly runs = new Map<string, Followed>();
  /** Runs of a chain this reader was not given: reported once, then skipped. */
  private readonly skipped = new Set<string>();
  private cursor: string | undefined;
  /** The last run whose replay ended (completed, failed, compensated). */
  private ended: string | undefined;

  constructor(private readonly o: CompiledInspectOptions) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async run(): Promise<void> {
    const unwatch = this.o.store.watch?.((change) => {
      if (this.o.runId === undefined || change.runId === undefined || change.runId === this.o.runId) this.wake?.();
    });
    let failures = 0;
    try {
      while (!this.stopped) {
        let page: StoredEvent[];
        try {
          page = await this.o.store.events({ after: this.cursor, runId: this.o.runId, chain: this.o.chain, limit: PAGE_SIZE });
          failures = 0;
        } catch (error) {
          failures++;
          const delayMs = backoffDelay({ initialMs: this.o.pollMs, maxMs: MAX_RETRY_MS, factor: 2, jitter: 'none' }, failures - 1);
          this.o.logger.warn('inspectRuns: reading the event log failed; retrying', { delayMs, error: String(error) });
          await this.sleep(delayMs);
          continue;
        }
        if (page.length === 0) {
          if (!this.o.follow) break;
          await this.sleep(this.o.pollMs);
          continue;
        }
        // A failure and what it caused (a retry, with the delay the runtime drew) are one commit:
        // a failure that ends a page is read again with the next page, so the two are seen together.
        const last = page.at(-1);
        const usable = page.length > 1 && last?.entry.type.endsWith('.failed') ? page.slice(0, -1) : page;
        for (let i = 0; i < usable.length && !this.stopped; i++) {
          const event = usable[i]!;
          const next = page[i + 1];
          await this.handle(event, next && next.runId === event.runId ? next.entry : undefined);
          this.cursor = event.cursor;
        }
        if (this.o.runId !== undefined && this.finished(this.o.runId)) break;
      }
    } finally {
      unwatch?.();
    }
  }

  /** Whether `runId` (the one run followed) has ended: its replay is then dropped. */
  private finished(runId: string): boolean {
    return this.ended === runId;
  }

  private async handle(event: StoredEvent, next: HistoryEntry | undefined): Promise<void> {
    const { runId, entry } = event;
    if (entry.type === 'run.started') {
      const chain = this.o.chains.get(event.chain);
      if (!chain) {
        if (!this.skipped.has(event.chain)) this.o.logger.warn(`inspectRuns: runs of chain "${event.chain}" are skipped: it is not in the chains given`, { runId });
        this.skipped.add(event.chain);
        return;
      }
      const record = await this.o.store.load(runId);
      if (!record) return;
      const replay = RunReplay.start(chain, runId, record.input, this.o.emit);
      this.runs.set(runId, { chain, replay, outputs: outputsOf(record.snapshot) });
      return;
    }
    const followed = this.runs.get(runId);
    // A run whose start this reader did not see (a chain it was not given): nothing to draw.
    if (!followed) return;
    if (entry.type === 'step.completed' && entry.step !== undefined && !(entry.step in followed.outputs)) {
      const record = await this.o.store.load(runId);
      if (record) followed.outputs = outputsOf(record.snapshot);
    }
    followed.replay.apply(entry, next, (step) => followed.outputs[step]);
    if (entry.type === 'run.completed' || entry.type === 'run.failed' || entry.type === 'run.compensated' || entry.type === 'run.cancelled') {
      this.runs.delete(runId);
      this.ended = runId;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined = undefined;
      const done = () => {
        if (timer !== undefined) this.o.clock.clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      timer = this.o.clock.setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/** The completed steps' outputs kept in a persisted chain snapshot. */
function outputsOf(snapshot: unknown): Record<string, unknown> {
  const context = (snapshot as { context?: { outputs?: unknown } } | undefined)?.context;
  const outputs = context?.outputs;
  return outputs && typeof outputs === 'object' ? { ...(outputs as Record<string, unknown>) } : {};
}
