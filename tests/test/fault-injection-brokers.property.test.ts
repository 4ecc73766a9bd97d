/**
 * The fault-injection property of `fault-injection.property.test.ts`, on the real brokers: the
 * same scenarios (crashes before/after a commit, a publish or an ack; transient store and broker
 * failures; duplicated and delayed deliveries; flaky steps), the same invariants, but RabbitMQ
 * and SQS keep and redeliver what a crashed process had not acknowledged, on real time. Fewer
 * cases than on memory (each takes real seconds): `FAULT_RUNS_BROKERS=n` for more.
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { openTestEndpoint } from '../../packages/broker-sqs/test/sqs-endpoint.js';
import { scenarioArb } from './sim/arbitraries.js';
import { amqpBackend, sqsBackend, type SimBackend } from './sim/backends.js';
import { checkInvariants } from './sim/invariants.js';
import { REGRESSIONS } from './sim/regressions.js';
import { simulate } from './sim/simulation.js';

// SQS_ENDPOINT, or a local fauxqs server started here (as the adapter's own tests do).
const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

const BACKENDS: ReadonlyArray<{ name: string; make: () => SimBackend; runs: number }> = [
  { name: 'amqp', make: () => amqpBackend(), runs: 20 },
  { name: 'sqs', make: () => sqsBackend(sqs), runs: 6 },
];

describe.each(BACKENDS)('fault injection on a real broker (fast-check): $name', ({ make, runs }) => {
  it('every run ends exactly once, side effects once by key, compensations exactly for completed steps in reverse order', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        checkInvariants(scenario, await simulate(scenario, make()));
      }),
      { numRuns: Number(process.env['FAULT_RUNS_BROKERS'] ?? runs), interruptAfterTimeLimit: 480_000 },
    );
  });

  it.each(REGRESSIONS.map((r) => [r.name, r.scenario] as const))('regression: %s', { timeout: 120_000 }, async (_name, scenario) => {
    checkInvariants(scenario, await simulate(scenario, make()));
  });
});
