/**
 * Resolves once `predicate()` holds, polling every 10 ms; rejects after `timeoutMs`, naming
 * `what`, or with what the predicate threw. The predicate may be async (a store or broker read):
 * its promise is awaited before the next poll, not taken for `true`.
 */
export function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (held: boolean) => {
      if (held) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(poll, 10);
    };
    const poll = () => {
      try {
        const held = predicate();
        if (typeof held === 'boolean') tick(held);
        else held.then(tick, reject);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    poll();
  });
}
