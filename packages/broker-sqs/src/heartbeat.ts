/**
 * The visibility heartbeat: while a handler runs, its message's visibility timeout is pushed
 * forward every `intervalMs` (ChangeMessageVisibilityBatch, 10 per call), so a step that runs
 * longer than the visibility timeout is not handed to a second worker (Celery's duplicate-task
 * loop). A crashed worker stops beating, and its messages come back after one visibility
 * timeout. SQS caps a message's total invisibility at 12 hours from its receipt.
 */
import type { SqsErrorContext } from './options.js';
import type { SqsApi } from './sqs-api.js';

export interface HeartbeatEntry {
  readonly queue: string;
  readonly url: string;
  readonly receiptHandle: string;
}

export interface HeartbeatOptions {
  readonly intervalMs: number;
  readonly visibilityTimeoutSeconds: number;
  readonly onError: (error: unknown, context: SqsErrorContext) => void;
}

export class Heartbeat {
  private readonly entries = new Set<HeartbeatEntry>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly api: SqsApi,
    private readonly options: HeartbeatOptions,
  ) {}

  /** Keeps `entry` invisible until `untrack`. */
  track(entry: HeartbeatEntry): void {
    this.entries.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => {
        if (!this.beating) this.beating = this.beat().finally(() => (this.beating = undefined));
      }, this.options.intervalMs);
      this.timer.unref?.();
    }
  }

  untrack(entry: HeartbeatEntry): void {
    this.entries.delete(entry);
    if (this.entries.size === 0) this.stop();
  }

  get size(): number {
    return this.entries.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    const byUrl = new Map<string, HeartbeatEntry[]>();
    for (const e of this.entries) {
      const list = byUrl.get(e.url) ?? [];
      list.push(e);
      byUrl.set(e.url, list);
    }
    const calls: Promise<void>[] = [];
    for (const [url, list] of byUrl) {
      for (let i = 0; i < list.length; i += 10) {
        const chunk = list.slice(i, i + 10);
        calls.push(
          this.api.changeVisibilityBatch(url, chunk.map((e) => e.receiptHandle), this.options.visibilityTimeoutSeconds).then(
            ({ failed }) => {
              for (const [index, error] of failed) {
                const entry = chunk[index];
                // Settled meanwhile (deleted): nothing to extend.
                if (entry && this.entries.has(entry)) this.options.onError(error, { operation: 'heartbeat', queue: entry.queue });
              }
            },
            (error: unknown) => this.options.onError(error, { operation: 'heartbeat', ...(chunk[0] ? { queue: chunk[0].queue } : {}) }),
          ),
        );
      }
    }
    await Promise.all(calls);
  }
}
