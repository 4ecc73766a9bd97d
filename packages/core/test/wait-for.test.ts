import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/testing/index.js';

describe('waitFor', () => {
  it('resolves once a sync predicate holds', async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, 1_000, 'three polls');
    expect(n).toBe(3);
  });

  it('awaits an async predicate instead of taking its promise for true', async () => {
    let n = 0;
    await waitFor(async () => {
      await Promise.resolve();
      return ++n >= 3;
    }, 1_000, 'three async polls');
    expect(n).toBe(3);
    await expect(waitFor(() => Promise.resolve(false), 50, 'a predicate that never holds')).rejects.toThrow('timed out after 50 ms waiting for a predicate that never holds');
  });

  it('rejects with what the predicate threw or rejected with', async () => {
    await expect(
      waitFor(() => {
        throw new Error('read failed');
      }, 1_000, 'x'),
    ).rejects.toThrow('read failed');
    await expect(waitFor(() => Promise.reject(new Error('async read failed')), 1_000, 'x')).rejects.toThrow('async read failed');
  });
});
