/**
 * `pnpm bench`: N chains of S no-op steps on a broker + a store (a SQLite file, or a Postgres
 * schema), every transition durably committed. Prints a table and a `BENCH_JSON {...}` line for CI
 * logs. With `--workers 1,2,4`: worker processes, one count after the other (scale-out mode).
 * See bench/README.md.
 *
 *   node --conditions=source --import tsx bench/run.ts [--broker memory|amqp|sqs] [--store sqlite|postgres]
 *     [--workers 1,2,4] [--chains 2000] [--steps 4] [--warmup 200] [--prefetch 64] [--no-baseline]
 *     [--profile .tmp/bench.cpuprofile]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from './lib/args.js';
import { loadBrokerModule, type BaselineResult, type BrokerModule } from './lib/broker-module.js';
import { machineInfo } from './lib/machine.js';
import { profiled } from './lib/profiler.js';
import { printReport } from './lib/report.js';
import { runScaleOut } from './lib/scale-out.js';
import { printScaleReport } from './lib/scale-report.js';
import type { StoreKind } from './lib/stores.js';
import { runWorkload, type WorkloadResult } from './lib/workload.js';

async function phase(mod: BrokerModule, opts: { chains: number; steps: number; prefetch: number; store: StoreKind }): Promise<WorkloadResult> {
  const prefix = `tcb-${randomUUID().slice(0, 8)}-`;
  try {
    return await runWorkload({ ...opts, broker: await mod.create(prefix) });
  } finally {
    if (mod.cleanup) await mod.cleanup(prefix).catch((e: unknown) => console.warn(`cleanup of ${prefix} failed:`, e));
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const mod = await loadBrokerModule(args.broker);
  try {
    if (args.workers) {
      const points = await runScaleOut({ broker: args.broker, mod, store: args.store, workers: args.workers, chains: args.chains, steps: args.steps, warmup: args.warmup, prefetch: args.prefetch });
      printScaleReport({ broker: args.broker, store: args.store, chains: args.chains, steps: args.steps, warmup: args.warmup, prefetch: args.prefetch, machine: machineInfo(), points });
      if (points.some((p) => p.failedRuns > 0)) process.exitCode = 1;
      return;
    }
    if (args.warmup > 0) {
      const w = await phase(mod, { chains: args.warmup, steps: args.steps, prefetch: args.prefetch, store: args.store });
      console.log(`warm-up: ${w.chains} chains in ${Math.round(w.wallMs)} ms (not counted)`);
    }
    const result = await profiled(args.profile, () => phase(mod, { chains: args.chains, steps: args.steps, prefetch: args.prefetch, store: args.store }));
    let baseline: BaselineResult | undefined;
    if (mod.baseline && !args.noBaseline) baseline = await mod.baseline({ chains: args.chains, steps: args.steps });
    printReport({ broker: args.broker, store: args.store, prefetch: args.prefetch, warmup: args.warmup, machine: machineInfo(), result, baseline });
    if (result.failedRuns > 0) process.exitCode = 1;
  } finally {
    if (mod.shutdown) await mod.shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
