/**
 * Live progress read from the store: every `intervalMs` the printer loads each unfinished run
 * (`runtime.getRun`) and prints the history entries it has not printed yet, oldest first.
 * What it shows is what `runtime.getRun()` answers, not what the tasks say about themselves.
 */
import { isTerminal, type HistoryEntry, type RunInfo, type RunStatus, type Runtime } from '@taskchart/core';
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

export class ProgressPrinter {
  private readonly printed = new Map<string, number>();
  readonly states = new Map<string, RunState>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling: Promise<void> = Promise.resolve();
  private readonly width: number;

  constructor(
    private readonly runtime: Runtime,
    private readonly runs: readonly TrackedRun[],
    private readonly out: Out,
    private readonly p: Paint,
    private readonly t0: number,
  ) {
    this.width = Math.max(...runs.map((r) => r.label.length));
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.poll()).catch((e: unknown) => this.out(`progress poll failed: ${String(e)}`));
    }, intervalMs);
  }

  /** Stops polling and prints whatever is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await this.poll();
  }

  private async poll(): Promise<void> {
    const fresh: Array<{ run: TrackedRun; entry: HistoryEntry }> = [];
    for (const run of this.runs) {
      // A terminal run has nothing more to say once its last entries are printed.
      const known = this.states.get(run.id);
      if (known && isTerminal(known.status)) continue;
      const info = await this.runtime.getRun(run.id);
      if (!info) continue;
      this.states.set(info.id, { status: info.status, history: info.history, info });
      const done = this.printed.get(info.id) ?? 0;
      for (const entry of info.history.slice(done)) fresh.push({ run, entry });
      this.printed.set(info.id, info.history.length);
    }
    fresh.sort((a, b) => a.entry.at - b.entry.at);
    for (const f of fresh) this.out(this.format(f.run, f.entry));
  }

  private format(run: TrackedRun, e: HistoryEntry): string {
    const p = this.p;
    const head = `${p.dim(since(this.t0, e.at))}  ${p.bold(run.label.padEnd(this.width))}  `;
    const step = (e.step ?? '').padEnd(15);
    const attempt = e.attempt === undefined ? '' : `attempt ${e.attempt}`;
    const why = e.error ? `${e.error.name}: ${e.error.message}` : '';
    switch (e.type) {
      case 'run.started':
        return `${head}${p.cyan('▶ run started')}`;
      case 'step.started':
        return `${head}  ${step} ${p.dim(`${attempt} started`)}`;
      case 'step.completed':
        return `${head}  ${step} ${p.green(`✓ done`)} ${p.dim(`(${attempt})`)}`;
      case 'step.failed':
        return `${head}  ${step} ${p.red(`✗ ${attempt} failed`)} ${p.dim(why)}`;
      case 'step.retrying':
        return `${head}  ${step} ${p.yellow(`↻ retry in ${e.delayMs ?? '?'} ms`)} ${p.dim(`(attempt ${e.attempt ?? '?'} next)`)}`;
      case 'compensation.started':
        return `${head}  ${step} ${p.magenta(`⟲ compensating (${attempt})`)}`;
      case 'compensation.completed':
        return `${head}  ${step} ${p.magenta('⟲ compensated')}`;
      case 'compensation.failed':
        return `${head}  ${step} ${p.red(`✗ compensation ${attempt} failed`)} ${p.dim(why)}`;
      case 'compensation.retrying':
        return `${head}  ${step} ${p.yellow(`↻ compensation retry in ${e.delayMs ?? '?'} ms`)}`;
      case 'run.completed':
        return `${head}${p.green('■ run completed')}`;
      case 'run.failed':
        return `${head}${p.red('■ run failed')}`;
      case 'run.compensated':
        return `${head}${p.magenta('■ run compensated (rolled back)')}`;
      case 'run.parked':
        return `${head}${p.red(`■ run parked: ${e.error?.message ?? 'the loaded definition cannot continue it'}`)}`;
    }
  }
}
