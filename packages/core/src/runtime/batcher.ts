/**
 * Group commit: items submitted while a flush is in flight wait for it and then go together in
 * the next one (as many as `maxBatch`); items submitted while nothing is in flight go at the end
 * of the tick. So many transitions share one store transaction, the more so the slower the store
 * (a Postgres round trip gathers everything the workers decided meanwhile), and many acks one
 * delete. One flush at a time.
 */
export class Batcher<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  /** The flush in flight, if any. */
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 512,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // While a flush is in flight, its end starts the next one.
      if (this.flushing || this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.kick());
    });
  }

  private kick(): void {
    this.scheduled = false;
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.flushing = (async () => {
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i] as R));
      } catch (error) {
        batch.forEach((b) => b.reject(error));
      }
    })().finally(() => {
      this.flushing = undefined;
      this.kick();
    });
  }

  /** Resolves once everything submitted so far has been flushed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      if (!this.flushing) this.kick();
      await this.flushing;
    }
  }
}
