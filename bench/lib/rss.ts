/** Samples the process's resident set size every `intervalMs` and keeps the peak. */
export class RssSampler {
  private peak = process.memoryUsage.rss();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling and returns the peak in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}
