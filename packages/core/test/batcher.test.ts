import { describe, expect, it } from 'vitest';
import { Batcher } from '../src/runtime/batcher.js';

describe('Batcher', () => {
  it('flushes what was submitted together, at most maxBatch at a time, in order, each submit resolving with its own result', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number, string>(async (items) => {
      flushed.push([...items]);
      return items.map((n) => `r${n}`);
    }, 2);
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.submit(n)));
    expect(results).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(flushed).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('gathers items submitted during a flush into the next one', async () => {
    const flushed: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>(async (items) => {
      flushed.push([...items]);
      if (flushed.length === 1) await gate;
      return items;
    });
    const first = batcher.submit(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const later = [batcher.submit(2), batcher.submit(3)];
    release();
    expect(await Promise.all([first, ...later])).toEqual([1, 2, 3]);
    expect(flushed).toEqual([[1], [2, 3]]);
  });

  it('rejects every submit of a failed flush, and only those', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(async (items) => {
      if (++calls === 1) throw new Error('store down');
      return items;
    }, 2);
    const settled = await Promise.allSettled([1, 2, 3].map((n) => batcher.submit(n)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 3 });
    await batcher.drain();
  });
});
