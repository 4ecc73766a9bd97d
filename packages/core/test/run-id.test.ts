import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newRunId } from '../src/run-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The epoch milliseconds in an id's first 48 bits. */
const timeOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('newRunId', () => {
  it('is a UUID version 7 carrying its creation time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (now) => {
        const id = newRunId(now);
        expect(id).toMatch(UUID_V7);
        expect(timeOf(id)).toBe(now);
      }),
      { numRuns: 2_000 },
    );
  });

  it('orders ids made in different milliseconds by time, as strings (what keeps an index on them clustered)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 10_000_000 }), (earlier, gap) => {
        const later = Math.min(earlier + gap, 2 ** 48 - 1);
        expect(newRunId(earlier) < newRunId(later)).toBe(true);
      }),
    );
  });

  it('never repeats within one millisecond (74 random bits; the pool of random bytes is refilled)', () => {
    const ids = new Set(Array.from({ length: 20_000 }, () => newRunId(1_800_000_000_000)));
    expect(ids.size).toBe(20_000);
  });

  it('keeps a well-formed id for times outside what 48 bits hold', () => {
    expect(timeOf(newRunId(-5))).toBe(0);
    expect(timeOf(newRunId(2 ** 50))).toBe(2 ** 48 - 1);
    expect(newRunId(Number.NaN)).toMatch(UUID_V7);
  });
});
