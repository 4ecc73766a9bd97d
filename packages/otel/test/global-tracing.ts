/** The tracing of a test file run by vitest (worker fixtures use ./tracing.ts alone: it imports no vitest). */
import { afterAll, beforeAll } from 'vitest';
import { memoryTracing, registerGlobals, type Tracing } from './tracing.js';

/** A test file's tracing: an in-memory provider registered as the global one for the whole file, shut down after it. */
export function globalMemoryTracing(): Tracing {
  const tracing = memoryTracing();
  let unregister: (() => void) | undefined;
  beforeAll(() => {
    unregister = registerGlobals(tracing.provider);
  });
  afterAll(async () => {
    unregister?.();
    await tracing.provider.shutdown();
  });
  return tracing;
}
