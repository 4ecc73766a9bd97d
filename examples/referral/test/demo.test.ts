import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runDemo } from '../src/demo.js';
import { DOOMED_TENANT, TENANTS } from '../src/tenants.js';

const dir = mkdtempSync(join(tmpdir(), 'taskchart-referral-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs the referral demo: every run terminal, the doomed one rolled back, the others completed after retries', { timeout: 20_000 }, async () => {
  const lines: string[] = [];
  const result = await runDemo({
    dbPath: join(dir, 'demo.db'),
    out: (line) => lines.push(line),
    // Shorter than the demo's own backoff and latencies; same flow.
    retry: { maxRetries: 4, backoff: { initial: '20ms', max: '200ms', jitter: 'none' } },
    latencyMs: [2, 10],
    pollMs: 20,
  });

  expect(result.runs).toHaveLength(TENANTS.length);
  expect(result.runs.every((r) => ['completed', 'compensated', 'failed'].includes(r.status))).toBe(true);
  const compensated = result.runs.filter((r) => r.status === 'compensated');
  expect(compensated.map((r) => r.tenantId)).toEqual([DOOMED_TENANT]);
  expect(result.runs.filter((r) => r.status === 'completed')).toHaveLength(TENANTS.length - 1);

  // Transient risk-API failures were retried, and the doomed run used all its attempts.
  expect(result.runs.filter((r) => r.status === 'completed').some((r) => r.retries > 0)).toBe(true);
  const doomed = compensated[0];
  expect(doomed?.retries).toBe(4);
  expect(lines.some((l) => l.includes('↻ retry in 20 ms'))).toBe(true);

  // onFailure reported the risk check once, then the rollback voided the tenant's guarantee.
  expect(result.failures).toHaveLength(1);
  expect(result.failures[0]).toMatchObject({ runId: `referral-${DOOMED_TENANT}`, task: 'riskCheck', attempts: 5, compensation: false });
  expect(result.services.ledger.forTenant(DOOMED_TENANT)?.status).toBe('voided');
  for (const t of TENANTS.filter((x) => x.tenantId !== DOOMED_TENANT)) {
    expect(result.services.ledger.forTenant(t.tenantId)?.status).toBe('issued');
  }
  expect(result.services.mailbox.sent.size).toBe(TENANTS.length - 1);

  // Live progress and the summary came from the store.
  expect(lines.some((l) => l.includes('■ run compensated (rolled back)'))).toBe(true);
  expect(lines.some((l) => l.includes('has failed 5 times'))).toBe(true);
  expect(lines.some((l) => l.startsWith('totals: 8 runs, 7 completed, 1 compensated'))).toBe(true);
});
