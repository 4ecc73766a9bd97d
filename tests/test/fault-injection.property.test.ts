import fc from 'fast-check';
import { describe, it } from 'vitest';
import { scenarioArb } from './sim/arbitraries.js';
import { checkInvariants } from './sim/invariants.js';
import { REGRESSIONS } from './sim/regressions.js';
import { simulate } from './sim/simulation.js';

describe('fault injection (fast-check)', () => {
  it('every run ends exactly once, side effects once by key, compensations exactly for completed steps in reverse order', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        checkInvariants(scenario, await simulate(scenario));
      }),
      { numRuns: Number(process.env['FAULT_RUNS'] ?? 150), interruptAfterTimeLimit: 200_000 },
    );
  });

  it.each(REGRESSIONS.map((r) => [r.name, r.scenario] as const))('regression: %s', { timeout: 30_000 }, async (_name, scenario) => {
    checkInvariants(scenario, await simulate(scenario));
  });
});
