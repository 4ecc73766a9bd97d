/**
 * Time, injected. The runtime, the memory broker and step timeouts read time only through a
 * `Clock`, so tests drive time with `ManualClock` (from `@taskchart/core/testing`) instead of
 * sleeping.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | object;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A source of uniform random numbers in [0, 1). Jitter takes one; tests pass a seeded one. */
export type RandomSource = () => number;
