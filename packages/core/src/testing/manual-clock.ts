import type { Clock, TimerHandle } from '../clock.js';

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told (xstate's `SimulatedClock`, Temporal's time-skipping).
 * Pass it to the runtime and the memory broker; `advance(ms)` fires every timer that falls due,
 * in order, letting promise callbacks run between them.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.current + Math.max(0, ms), callback };
    this.timers.set(timer.id, timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer is due, if any. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }

  /** Moves time forward by `ms`, firing due timers in order; async work between them settles. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await settle();
      const due = [...this.timers.values()].filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers.delete(due.id);
      this.current = Math.max(this.current, due.at);
      due.callback();
    }
    this.current = target;
    await settle();
  }

  /** Jumps to the next due timer and fires it. Returns false when no timer is pending. */
  async runNext(): Promise<boolean> {
    const due = this.nextDue();
    if (due === undefined) return false;
    await this.advance(Math.max(0, due - this.current));
    return true;
  }
}

/** Lets pending promise callbacks and immediates run (several turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}
