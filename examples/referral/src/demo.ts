/**
 * The referral demo as a function: starts one run per tenant on a fresh SQLite file, prints live
 * progress from the store, prints `onFailure` reports and a summary, and returns what happened
 * (the test asserts on it).
 */
import { rmSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createRuntime, RunFailedError, type FailureReport, type Logger, type RetryOptions } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { createBroker, removeQueues, type BrokerName } from './broker.js';
import { printFailure } from './failure-report.js';
import { paint, type Out } from './output.js';
import { ProgressPrinter } from './progress.js';
import { GuaranteeLedger, Mailbox, RiskApi, type Services } from './services.js';
import { printSummary, summarise, type RunSummary } from './summary.js';
import { demoRetry, referralChain, type Referral } from './tasks.js';
import { DOOMED_TENANT, TENANTS } from './tenants.js';

export interface DemoOptions {
  /** The SQLite file; deleted (with its WAL) before the demo starts. */
  readonly dbPath: string;
  /** @defaultValue 'memory' */
  readonly broker?: BrokerName;
  /** Where the demo prints. @defaultValue console.log */
  readonly out?: Out;
  /** @defaultValue false */
  readonly color?: boolean;
  /** Seeds the flaky risk API and the simulated latencies. @defaultValue 1 */
  readonly seed?: number;
  /** @defaultValue {@link demoRetry} */
  readonly retry?: RetryOptions;
  /** Simulated latency of one call to a service, in ms. @defaultValue [40, 160] */
  readonly latencyMs?: readonly [number, number];
  /** @defaultValue {@link TENANTS} */
  readonly tenants?: readonly Referral[];
  /** Tenants whose risk check always fails. @defaultValue [{@link DOOMED_TENANT}] */
  readonly alwaysFailFor?: readonly string[];
  /** How often progress polls the store. @defaultValue 100 */
  readonly pollMs?: number;
}

export interface DemoResult {
  readonly runs: readonly RunSummary[];
  readonly failures: readonly FailureReport[];
  readonly services: Services;
  readonly wallMs: number;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const out = options.out ?? ((line: string) => console.log(line));
  const p = paint(options.color ?? false);
  const seed = options.seed ?? 1;
  const retry = options.retry ?? demoRetry;
  const tenants = options.tenants ?? TENANTS;
  const latencyMs = options.latencyMs ?? [40, 160];
  const services: Services = {
    ledger: new GuaranteeLedger(),
    mailbox: new Mailbox(),
    riskApi: new RiskApi({ seed, failureRate: 0.45, alwaysFailFor: new Set(options.alwaysFailFor ?? [DOOMED_TENANT]), maxTransientFailures: 3, latencyMs }),
    latencyMs,
    seed,
  };
  const referral = referralChain(services, retry);

  for (const suffix of ['', '-wal', '-shm']) rmSync(`${options.dbPath}${suffix}`, { force: true });
  mkdirSync(dirname(options.dbPath), { recursive: true });

  const failures: FailureReport[] = [];
  const logger: Logger = { warn: (m, d) => out(p.yellow(`[taskchart] ${m} ${d ? JSON.stringify(d) : ''}`)), error: (m, d) => out(p.red(`[taskchart] ${m} ${d ? JSON.stringify(d) : ''}`)) };
  const brokerName = options.broker ?? 'memory';
  const queuePrefix = `referral-demo-${randomUUID().slice(0, 8)}-`;
  const broker = await createBroker(brokerName, queuePrefix);
  const runtime = createRuntime({
    broker,
    store: sqliteStore(options.dbPath),
    chains: [referral],
    logger,
    onFailure: (report) => {
      failures.push(report);
      printFailure(report, out, p);
    },
  });

  const backoff = retry.backoff;
  out(p.bold('Taskchart demo: tenant referrals'));
  out(p.dim(`  chain      fetchQuote -> riskCheck (flaky third-party API, seed ${seed}) -> createGuarantee -> notifyLandlord`));
  out(p.dim(`  broker     ${brokerName}; store: SQLite ${options.dbPath} (WAL)`));
  out(
    p.dim(
      `  retries    maxRetries ${retry.maxRetries ?? 'default'}, backoff ${String(backoff?.initial ?? 'default')} doubling up to ${String(backoff?.max ?? 'default')}, jitter ${backoff?.jitter ?? 'default'}` +
        ' (demo values: production would use seconds to minutes, e.g. 4s up to 10m)',
    ),
  );
  out(p.dim(`  tenant ${DOOMED_TENANT}'s risk check never goes through: that run exhausts its retries and is rolled back`));
  out('');

  const t0 = Date.now();
  let printer: ProgressPrinter | undefined;
  try {
    await runtime.start();
    const handles = await Promise.all(tenants.map((t) => runtime.run(referral, t, { id: `referral-${t.tenantId}` })));
    printer = new ProgressPrinter(
      runtime,
      handles.map((h, i) => ({ id: h.id, label: `${tenants[i]?.tenantId ?? '?'} ${tenants[i]?.tenant ?? ''}` })),
      out,
      p,
      t0,
    );
    printer.start(options.pollMs ?? 100);
    const outcomes = await Promise.allSettled(handles.map((h) => h.result()));
    await printer.stop();
    const wallMs = Date.now() - t0;

    const unexpected = outcomes.filter((o) => o.status === 'rejected' && !(o.reason instanceof RunFailedError));
    for (const u of unexpected) if (u.status === 'rejected') out(p.red(`unexpected: ${String(u.reason)}`));

    const runs = handles.map((h, i) => {
      const t = tenants[i];
      return summarise(h.id, t?.tenantId ?? '?', t?.tenant ?? '?', printer?.states.get(h.id), services.ledger);
    });
    printSummary(runs, out, p);
    out(
      `${p.bold('services')}: risk API called ${services.riskApi.calls} times (${services.riskApi.failures} failures); ` +
        `${services.mailbox.sent.size} landlords notified; wall time ${(wallMs / 1000).toFixed(1)} s`,
    );
    out(p.dim(`inspect a run: sqlite3 ${options.dbPath} "select e.value ->> 'type', e.value ->> 'step', e.value ->> 'attempt', e.value ->> 'delayMs' from taskchart_history h, json_each(h.entries) e where h.run_id = 'referral-${DOOMED_TENANT}' order by h.seq"`));
    return { runs, failures, services, wallMs };
  } finally {
    await printer?.stop().catch(() => undefined);
    await runtime.close();
    // Each demo run uses queues of its own prefix on a shared server: delete them.
    await removeQueues(brokerName, broker, queuePrefix).catch((e: unknown) => out(p.yellow(`could not delete the demo's queues: ${String(e)}`)));
  }
}
