/**
 * Collects items submitted in the same tick and hands them to `flush` together: many
 * transitions share one store transaction (group commit), many acks one delete.
 */
export class Batcher<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 512,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.kick();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.kick());
      }
    });
  }

  private kick(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = this.running.then(async () => {
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i] as R));
      } catch (error) {
        batch.forEach((b) => b.reject(error));
      }
    });
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.kick());
    }
  }

  /** Resolves once everything submitted so far has been flushed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled) {
      this.kick();
      await this.running;
    }
    await this.running;
  }
}
