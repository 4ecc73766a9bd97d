/**
 * Group commit: items submitted while a flush is in flight wait for it and then go together in
 * the next one (as many as `maxBatch`); items submitted while nothing is in flight go at the end
 * of the tick. So many transitions share one store transaction, the more so the slower the store
 * (a Postgres round trip gathers everything the workers decided meanwhile), and many acks one
 * delete. One flush at a time.
 */
export class Batcher<T, R> {
  /**
   * The items waiting, and beside them (same index) how to settle each: parallel arrays, so a
   * submit adds no record of its own and a flush hands its items over without copying them out.
   */
  private items: T[] = [];
  private resolves: Array<(r: R) => void> = [];
  private rejects: Array<(e: unknown) => void> = [];
  private scheduled = false;
  /** The flush in flight, if any. */
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 512,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.items.push(item);
      this.resolves.push(resolve);
      this.rejects.push(reject);
      // While a flush is in flight, its end starts the next one.
      if (this.flushing || this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.kick());
    });
  }

  private kick(): void {
    this.scheduled = false;
    if (this.flushing || this.items.length === 0) return;
    let { items, resolves, rejects } = this;
    if (items.length <= this.maxBatch) {
      // All of it: the arrays themselves go, new ones take what comes next.
      this.items = [];
      this.resolves = [];
      this.rejects = [];
    } else {
      items = items.splice(0, this.maxBatch);
      resolves = resolves.splice(0, this.maxBatch);
      rejects = rejects.splice(0, this.maxBatch);
    }
    this.flushing = this.run(items, resolves, rejects).finally(() => {
      this.flushing = undefined;
      this.kick();
    });
  }

  /** Flushes `items` and settles each one's promise. */
  private async run(items: T[], resolves: Array<(r: R) => void>, rejects: Array<(e: unknown) => void>): Promise<void> {
    try {
      const results = await this.flush(items);
      for (let i = 0; i < resolves.length; i++) (resolves[i] as (r: R) => void)(results[i] as R);
    } catch (error) {
      for (const reject of rejects) reject(error);
    }
  }

  /** Resolves once everything submitted so far has been flushed. */
  async drain(): Promise<void> {
    while (this.items.length > 0 || this.flushing || this.scheduled) {
      if (!this.flushing) this.kick();
      await this.flushing;
    }
  }
}
