/**
 * Live progress from the run event feed: the printer follows `runtime.events()` (the store's
 * event log, whichever process commits) and prints each event of the tracked runs as it comes.
 * What it shows is what the store recorded, not what the tasks say about themselves.
 */
import type { RunEvent, RunInfo, RunStatus, Runtime } from '@taskchart/core';
import type { HistoryEntry } from '@taskchart/core/adapter';
import { since, type Out, type Paint } from './output.js';

export interface TrackedRun {
  readonly id: string;
  readonly label: string;
}

export interface RunState {
  readonly status: RunStatus;
  readonly history: readonly HistoryEntry[];
  readonly info: RunInfo;
}

const FINAL = new Set<RunEvent['type']>(['run.completed', 'run.failed', 'run.compensated', 'run.cancelled', 'run.parked']);

export class ProgressPrinter {
  /** Each tracked run's state once `stop()` returned (for the summary). */
  readonly states = new Map<string, RunState>();
  private readonly labels: Map<string, TrackedRun>;
  private readonly finished = new Set<string>();
  private following: Promise<void> = Promise.resolve();
  private feed: AsyncGenerator<RunEvent, void, undefined> | undefined;
  private readonly width: number;

  constructor(
    private readonly runtime: Runtime,
    private readonly runs: readonly TrackedRun[],
    private readonly out: Out,
    private readonly p: Paint,
    private readonly t0: number,
  ) {
    this.width = Math.max(...runs.map((r) => r.label.length));
    this.labels = new Map(runs.map((r) => [r.id, r]));
  }

  /**
   * Starts following the event feed. `_intervalMs` is kept for callers of the polling version:
   * the feed reads the log 50 ms after an empty read, backing off to the runtime's `resultPoll`.
   */
  start(_intervalMs?: number): void {
    const feed = this.runtime.events();
    this.feed = feed;
    this.following = (async () => {
      for await (const event of feed) {
        const run = this.labels.get(event.runId);
        if (!run) continue;
        this.out(this.format(run, event));
        if (FINAL.has(event.type)) this.finished.add(event.runId);
        if (this.finished.size === this.runs.length) break;
      }
    })().catch((e: unknown) => this.out(`progress feed failed: ${String(e)}`));
  }

  /** Prints what is left of the tracked runs' events (once they all finished), stops following, and loads their states. */
  async stop(): Promise<void> {
    const settled = await Promise.all(this.runs.map(async (r) => this.runtime.getRun(r.id)));
    // Every tracked run is final in the store: its last events are in the log, so the feed reaches them.
    if (settled.every((info) => info && FINAL.has(`run.${info.status}` as RunEvent['type']))) await this.following;
    // Some run is not final (the demo is stopping early): stop following; closing the runtime ends the feed.
    else void this.feed?.return();
    for (const info of settled) if (info) this.states.set(info.id, { status: info.status, history: info.history, info });
  }

  private format(run: TrackedRun, e: RunEvent): string {
    const p = this.p;
    const head = `${p.dim(since(this.t0, e.at))}  ${p.bold(run.label.padEnd(this.width))}  `;
    const step = ('step' in e ? (e.step ?? '') : '').padEnd(15);
    const attempt = 'attempt' in e ? `attempt ${e.attempt}` : '';
    const why = 'error' in e ? `${e.error.name}: ${e.error.message}` : '';
    switch (e.type) {
      case 'run.scheduled':
        return `${head}${p.dim(`◷ scheduled for ${new Date(e.dueAt).toISOString()}`)}`;
      case 'run.started':
        return `${head}${p.cyan('▶ run started')}`;
      case 'run.redriven':
        return `${head}${p.cyan(`↺ re-driven${e.step ? ` from ${e.step}` : ''}`)}`;
      case 'run.migrated':
        return `${head}${p.cyan(`↻ migrated from version ${e.fromVersion} to ${e.toVersion}`)}`;
      case 'run.cancelling':
        return `${head}${p.yellow(`■ cancelling${e.reason ? `: ${e.reason}` : ''}`)}`;
      case 'run.cancelled':
        return `${head}${p.yellow(`■ run cancelled${e.reason ? `: ${e.reason}` : ''}`)}`;
      case 'step.started':
        return `${head}  ${step} ${p.dim(`${attempt} started`)}`;
      case 'step.completed':
        return `${head}  ${step} ${p.green(`✓ done`)} ${p.dim(`(${attempt})`)}`;
      case 'step.failed':
        return `${head}  ${step} ${p.red(`✗ ${attempt} failed`)} ${p.dim(why)}`;
      case 'step.retrying':
        return `${head}  ${step} ${p.yellow(`↻ retry in ${e.delayMs} ms`)} ${p.dim(`(attempt ${e.attempt} next)`)}`;
      case 'compensation.started':
        return `${head}  ${step} ${p.magenta(`⟲ compensating (${attempt})`)}`;
      case 'compensation.completed':
        return `${head}  ${step} ${p.magenta('⟲ compensated')}`;
      case 'compensation.failed':
        return `${head}  ${step} ${p.red(`✗ compensation ${attempt} failed`)} ${p.dim(why)}`;
      case 'compensation.retrying':
        return `${head}  ${step} ${p.yellow(`↻ compensation retry in ${e.delayMs} ms`)}`;
      case 'run.completed':
        return `${head}${p.green('■ run completed')}`;
      case 'run.failed':
        return `${head}${p.red('■ run failed')}`;
      case 'run.compensated':
        return `${head}${p.magenta('■ run compensated (rolled back)')}`;
      case 'run.parked':
        return `${head}${p.red(`■ run parked: ${e.error.message}`)}`;
      case 'dead-letter.redriven':
        return `${head}  ${step} ${p.yellow('↻ dead letter sent back')} ${p.dim(e.reason)}`;
    }
  }
}
