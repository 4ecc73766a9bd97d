/**
 * Collects single calls (acks, publishes) into SQS batch calls: a batch goes out when it holds
 * `maxSize` entries or `maxBytes` of payload, or `windowMs` after its first entry. Each caller's
 * promise settles with its own entry's outcome.
 */
import type { BatchOutcome } from './sqs-api.js';

export interface BatcherOptions<T> {
  readonly maxSize: number;
  readonly windowMs: number;
  /** Total payload one batch may carry (SQS: 1 MiB per SendMessageBatch). @defaultValue unbounded */
  readonly maxBytes?: number;
  readonly sizeOf?: (entry: T) => number;
  /** Sends one batch; entries missing from `failed` succeeded. */
  readonly flush: (key: string, entries: readonly T[]) => Promise<BatchOutcome>;
}

interface Pending<T> {
  readonly entry: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Open<T> {
  readonly items: Pending<T>[];
  bytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class Batcher<T> {
  private readonly open = new Map<string, Open<T>>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: BatcherOptions<T>) {}

  /** Adds `entry` to the open batch of `key` (a queue URL); resolves once it was sent. */
  add(key: string, entry: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const size = this.options.sizeOf?.(entry) ?? 0;
      let batch = this.open.get(key);
      if (batch && this.options.maxBytes !== undefined && batch.bytes + size > this.options.maxBytes) {
        this.send(key);
        batch = undefined;
      }
      if (!batch) {
        batch = { items: [], bytes: 0, timer: undefined };
        this.open.set(key, batch);
        const b = batch;
        if (this.options.windowMs > 0) b.timer = setTimeout(() => this.open.get(key) === b && this.send(key), this.options.windowMs);
        else queueMicrotask(() => this.open.get(key) === b && this.send(key));
      }
      batch.items.push({ entry, resolve, reject });
      batch.bytes += size;
      if (batch.items.length >= this.options.maxSize) this.send(key);
    });
  }

  private send(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    if (batch.timer) clearTimeout(batch.timer);
    const run = (async () => {
      try {
        const { failed } = await this.options.flush(
          key,
          batch.items.map((p) => p.entry),
        );
        batch.items.forEach((p, i) => {
          const error = failed.get(i);
          if (error) p.reject(error);
          else p.resolve();
        });
      } catch (error) {
        for (const p of batch.items) p.reject(error);
      }
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  /** Sends every open batch now and waits for all batches in flight. */
  async drain(): Promise<void> {
    for (const key of [...this.open.keys()]) this.send(key);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
