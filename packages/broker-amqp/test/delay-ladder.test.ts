import { describe, expect, it } from 'vitest';
import { DELAY_LEVELS_MS, pickDelayLevel } from '../src/index.js';

/** The levels a message goes through for `delayMs`, when every hop takes exactly its level. */
function hops(delayMs: number): number[] {
  const out: number[] = [];
  let left = delayMs;
  for (let level = pickDelayLevel(left); level !== undefined; level = pickDelayLevel(left)) {
    out.push(level);
    left -= level;
  }
  return out;
}

describe('delay ladder', () => {
  it('has a bounded number of levels, 1 ms to about 9.3 hours', () => {
    expect(DELAY_LEVELS_MS).toHaveLength(26);
    expect(DELAY_LEVELS_MS[0]).toBe(1);
    expect(DELAY_LEVELS_MS.at(-1)).toBe(2 ** 25);
  });

  it('picks the largest level not longer than the time left', () => {
    expect(pickDelayLevel(0)).toBeUndefined();
    expect(pickDelayLevel(0.9)).toBeUndefined();
    expect(pickDelayLevel(-5)).toBeUndefined();
    expect(pickDelayLevel(Number.NaN)).toBeUndefined();
    expect(pickDelayLevel(1)).toBe(1);
    expect(pickDelayLevel(600)).toBe(512);
    expect(pickDelayLevel(1024)).toBe(1024);
    expect(pickDelayLevel(1023.9)).toBe(512);
    expect(pickDelayLevel(2 ** 40)).toBe(2 ** 25);
  });

  it('never holds a message past its due time, and adds up to the delay exactly', () => {
    for (const delay of [1, 7, 600, 4_000, 600_000, 3_600_000, 24 * 3_600_000]) {
      const path = hops(delay);
      expect(path.reduce((a, b) => a + b, 0)).toBe(delay);
      // One hop per set bit below 2^25, plus one per whole 2^25 ms above.
      expect(path.length).toBeLessThanOrEqual(26 + Math.floor(delay / 2 ** 25));
    }
    expect(hops(4_000)).toEqual([2048, 1024, 512, 256, 128, 32]);
  });
});
