/**
 * Deterministic "randomness" for the demo: every draw is a hash of (seed, key), so the outcome
 * of an attempt does not depend on the order in which concurrent runs happen to call it.
 */
export function chance(seed: number, key: string): number {
  // FNV-1a over the key, then a murmur3 finaliser mixed with the seed: uniform enough for a demo.
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** A whole number in [min, max], drawn from (seed, key). */
export function between(seed: number, key: string, min: number, max: number): number {
  return min + Math.floor(chance(seed, key) * (max - min + 1));
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejects with the abort reason as given, like node:timers/promises
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the abort reason as given, as above
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
