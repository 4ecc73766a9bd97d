import { afterEach, describe, expect, it } from 'vitest';
import { createSystemClock, MAX_TIMER_MS, systemClock, type HostTimers } from '../src/clock.js';

const DAY = 86_400_000;

/** Host timers that fire only when told, recording every delay armed. */
function fakeHost() {
  const armed = new Map<number, { callback: () => void; ms: number; unrefed: boolean }>();
  let next = 1;
  const host: HostTimers = {
    setTimeout(callback, ms) {
      const id = next++;
      const timer = { callback, ms, unrefed: false };
      armed.set(id, timer);
      return { id, unref: () => (timer.unrefed = true) };
    },
    clearTimeout: (handle) => armed.delete((handle as { id: number }).id),
  };
  /** Fires the one armed timer (a chain of hops has one at a time). */
  const fire = () => {
    const [id, timer] = [...armed.entries()][0] ?? [];
    if (id === undefined || !timer) throw new Error('no timer armed');
    armed.delete(id);
    timer.callback();
  };
  return { host, armed, fire };
}

describe('system clock: timers longer than 2^31-1 ms', () => {
  it('waits out a 25-day delay in hops of at most 2^31-1 ms, each unref-ed, and calls back once at the end', () => {
    const { host, armed, fire } = fakeHost();
    const clock = createSystemClock(host);
    let fired = 0;
    clock.setTimeout(() => fired++, 25 * DAY);
    expect([...armed.values()].map((t) => [t.ms, t.unrefed])).toEqual([[MAX_TIMER_MS, true]]);
    fire();
    expect(fired).toBe(0);
    expect([...armed.values()].map((t) => [t.ms, t.unrefed])).toEqual([[25 * DAY - MAX_TIMER_MS, true]]);
    fire();
    expect(fired).toBe(1);
    expect(armed.size).toBe(0);
  });

  it('hops as often as needed: 365 days is 15 hops that add up to the delay', () => {
    const { host, armed, fire } = fakeHost();
    const clock = createSystemClock(host);
    let fired = 0;
    clock.setTimeout(() => fired++, 365 * DAY);
    const hops: number[] = [];
    while (armed.size > 0) {
      hops.push([...armed.values()][0]?.ms ?? -1);
      fire();
    }
    expect(fired).toBe(1);
    expect(hops).toHaveLength(Math.ceil((365 * DAY) / MAX_TIMER_MS));
    expect(hops.every((ms) => ms > 0 && ms <= MAX_TIMER_MS)).toBe(true);
    expect(hops.reduce((a, b) => a + b, 0)).toBe(365 * DAY);
  });

  it('clearTimeout cancels the whole chain, whichever hop is armed', () => {
    const { host, armed, fire } = fakeHost();
    const clock = createSystemClock(host);
    let fired = 0;
    const handle = clock.setTimeout(() => fired++, 60 * DAY);
    fire();
    expect(armed.size).toBe(1);
    clock.clearTimeout(handle);
    expect(armed.size).toBe(0);
    expect(fired).toBe(0);
  });

  it('arms a delay up to 2^31-1 ms as one host timer', () => {
    const { host, armed, fire } = fakeHost();
    const clock = createSystemClock(host);
    let fired = 0;
    const short = clock.setTimeout(() => fired++, 250);
    clock.setTimeout(() => fired++, MAX_TIMER_MS);
    expect([...armed.values()].map((t) => t.ms)).toEqual([250, MAX_TIMER_MS]);
    clock.clearTimeout(short);
    fire();
    expect(fired).toBe(1);
  });

  describe('on the real timers', () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    afterEach(() => {
      process.off('warning', onWarning);
    });

    it('a 25-day timer has not fired after a short real wait, and Node gave no TimeoutOverflowWarning', async () => {
      process.on('warning', onWarning);
      let fired = 0;
      const handle = systemClock.setTimeout(() => fired++, 25 * DAY);
      // A 1 ms timer armed after it fires after it: had the 25-day one overflowed to 1 ms, it would have fired first.
      await new Promise((r) => setTimeout(r, 30));
      await new Promise((r) => setImmediate(r));
      systemClock.clearTimeout(handle);
      expect(fired).toBe(0);
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
    });
  });
});
