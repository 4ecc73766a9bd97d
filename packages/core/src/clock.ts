/**
 * Time, injected. The runtime, the memory broker and step timeouts read time only through a
 * `Clock`, so tests drive time with `ManualClock` (from `@taskchart/core/testing`) instead of
 * sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `callback` once, `ms` from now. Any finite `ms` works, however long (see {@link systemClock}). */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * The longest delay a host timer holds: 2^31-1 ms, about 24.8 days. Node fires a longer
 * `setTimeout` at once (with a `TimeoutOverflowWarning`).
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** The host's timer functions (Node's globals); a seam for testing the hops of long timers. */
export interface HostTimers {
  setTimeout(callback: () => void, ms: number): { unref?(): unknown };
  clearTimeout(handle: unknown): void;
}

const nodeTimers: HostTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A timer longer than {@link MAX_TIMER_MS}: a chain of host timers, of which `hop` is the armed one. */
class LongTimer {
  constructor(public hop: unknown) {}
}

/**
 * A clock on the host's timers. A delay over {@link MAX_TIMER_MS} is waited out in hops of at
 * most that length, re-armed one after the other; `clearTimeout` cancels the whole chain. Every
 * host timer is `unref`ed: a pending timer alone does not keep the process alive.
 */
export function createSystemClock(host: HostTimers = nodeTimers): Clock {
  const arm = (callback: () => void, ms: number) => {
    const handle = host.setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  };
  return {
    now: () => Date.now(),
    setTimeout(callback, ms) {
      if (!(ms > MAX_TIMER_MS)) return arm(callback, ms);
      let remaining = ms;
      const timer = new LongTimer(undefined);
      const hop = () => {
        const step = Math.min(remaining, MAX_TIMER_MS);
        remaining -= step;
        timer.hop = arm(remaining > 0 ? hop : callback, step);
      };
      hop();
      return timer;
    },
    clearTimeout: (handle) => host.clearTimeout(handle instanceof LongTimer ? handle.hop : handle),
  };
}

/** The clock of the real world: `Date.now()` and Node's timers, in hops for delays over 24.8 days. */
export const systemClock: Clock = createSystemClock();

/** A source of uniform random numbers in [0, 1). Jitter takes one; tests pass a seeded one. */
export type RandomSource = () => number;
