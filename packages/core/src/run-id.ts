/**
 * The id a run gets when `run()` is not given one: a UUID version 7 (RFC 9562), whose first 48
 * bits are the creation time in epoch milliseconds and the other 74 random.
 *
 * Time-ordered ids keep what a store indexes by run id clustered: the runs started together, and
 * the history rows of their transitions (indexed by run id), sit on neighbouring index pages, so a
 * batch of transitions dirties a few pages instead of one per run. With random (version 4) ids,
 * most of the pages a SQLite commit wrote were leaves of the history's run-id index scattered
 * across the file. The id gives away when the run was created, as its `createdAt` does.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes are drawn this many ids at a time (one system call per 256 ids, not per id). */
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A new UUID version 7 for a run created at `now` (epoch ms), as `xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx`. */
export function newRunId(now: number): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const at = next;
  next += 16;
  // 48 bits of milliseconds, big-endian (times outside 0 .. 2^48 - 1 are clamped: the id stays well formed).
  let ms = Math.min(Math.max(Math.floor(now), 0), 2 ** 48 - 1);
  for (let i = 5; i >= 0; i--) {
    pool[at + i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  pool[at + 6] = ((pool[at + 6] as number) & 0x0f) | 0x70; // version 7
  pool[at + 8] = ((pool[at + 8] as number) & 0x3f) | 0x80; // variant 10
  let id = '';
  for (let i = 0; i < 16; i++) {
    id += HEX[pool[at + i] as number] as string;
    if (i === 3 || i === 5 || i === 7 || i === 9) id += '-';
  }
  return id;
}
