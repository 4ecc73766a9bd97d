import type { RunEvent } from '@taskchart/core';

/** Reads `feed` until `count` events came, then stops it (break). */
export async function take(feed: AsyncIterable<RunEvent>, count: number): Promise<RunEvent[]> {
  const got: RunEvent[] = [];
  if (count === 0) return got;
  for await (const event of feed) {
    got.push(event);
    if (got.length === count) break;
  }
  return got;
}
