/**
 * `pnpm bench`: N chains of S no-op steps, then the flaky workload (step 2 fails twice for 30 %
 * of 500 chains), on a broker + a store (a SQLite file, or a Postgres schema), every transition
 * durably committed. Prints tables and a `BENCH_JSON {...}` line for CI logs. Other modes:
 * `--workers 1,2,4` (worker processes, one count after the other), `--latency` (one chain at a
 * time), `--soak <steps>` (memory over rounds on one runtime). See bench/README.md.
 *
 *   node --conditions=source --import tsx bench/run.ts [--broker memory|amqp|sqs] [--store sqlite|postgres]
 *     [--workload noop|flaky|both] [--chains 2000] [--flaky-chains 500] [--steps 4] [--warmup 2000] [--fresh-runtime]
 *     [--prefetch 64] [--no-baseline] [--profile .tmp/bench.cpuprofile]
 *   ... bench/run.ts --workers 1,2,4 | --latency [--runs 300] | --soak 1000000   (node --expose-gc for the soak)
 */
import { randomUUID } from 'node:crypto';
import { parseArgs, type BenchArgs } from './lib/args.js';
import { loadBrokerModule, type BaselineResult, type BrokerModule } from './lib/broker-module.js';
import { flakyLabel, flakySpec } from './lib/flaky.js';
import { printLatency, runLatency } from './lib/latency.js';
import { machineInfo } from './lib/machine.js';
import { profiled } from './lib/profiler.js';
import { printReport } from './lib/report.js';
import { runScaleOut } from './lib/scale-out.js';
import { printScaleReport } from './lib/scale-report.js';
import { printSoak, runSoak } from './lib/soak.js';
import type { Broker } from './lib/taskchart.js';
import { runWorkload, type WorkloadOptions, type WorkloadResult } from './lib/workload.js';

/** Runs `body` on a fresh broker (a fresh queue prefix), and removes that prefix's queues after. */
async function onFreshBroker<T>(mod: BrokerModule, body: (broker: Broker) => Promise<T>): Promise<T> {
  const prefix = `tcb-${randomUUID().slice(0, 8)}-`;
  try {
    return await body(await mod.create(prefix));
  } finally {
    if (mod.cleanup) await mod.cleanup(prefix).catch((e: unknown) => console.warn(`cleanup of ${prefix} failed:`, e));
  }
}

function phase(mod: BrokerModule, opts: Omit<WorkloadOptions, 'broker'>): Promise<WorkloadResult> {
  return onFreshBroker(mod, (broker) => runWorkload({ ...opts, broker }));
}

/** The default mode: the no-op workload, the flaky one, or both, in one report. */
async function throughput(args: BenchArgs, mod: BrokerModule): Promise<void> {
  const base = { steps: args.steps, prefetch: args.prefetch, store: args.store };
  // Built first: a --steps it cannot use fails before anything runs.
  const flakyWorkload = args.workload === 'noop' ? undefined : flakySpec(args.steps);
  // --fresh-runtime: the warm-up on a runtime of its own, the measured round on a fresh one.
  if (args.freshRuntime && args.warmup > 0) {
    const w = await phase(mod, { ...base, chains: args.warmup });
    console.log(`warm-up: ${w.chains} chains in ${Math.round(w.wallMs)} ms on a runtime of its own (not counted)`);
  }
  let result: WorkloadResult | undefined;
  let flaky: WorkloadResult | undefined;
  let baseline: BaselineResult | undefined;
  if (args.workload !== 'flaky') {
    const warmup = args.freshRuntime ? 0 : args.warmup;
    result = await phase(mod, { ...base, chains: args.chains, warmup, measure: (round) => profiled(args.profile, round) });
    // The baseline warms up as the runtime did (none of its own with --fresh-runtime, as before).
    if (mod.baseline && !args.noBaseline) baseline = await mod.baseline({ chains: args.chains, steps: args.steps, warmup });
  }
  if (flakyWorkload) {
    // With both, --profile is the no-op run's: one profile per file.
    // Alone, it is the measured workload: warmed up like the no-op one (with its own chains).
    // Beside the no-op one, it runs after it in the same process, on a runtime of its own.
    flaky =
      args.workload === 'flaky'
        ? await phase(mod, { ...base, chains: args.flakyChains, spec: flakyWorkload, warmup: args.freshRuntime ? 0 : args.warmup, measure: (round) => profiled(args.profile, round) })
        : await phase(mod, { ...base, chains: args.flakyChains, spec: flakyWorkload });
  }
  printReport({ broker: args.broker, store: args.store, prefetch: args.prefetch, warmup: args.warmup, freshRuntime: args.freshRuntime, machine: machineInfo(), result, flaky, flakyLabel: flakyLabel(args.flakyChains), baseline });
  if ((result?.failedRuns ?? 0) + (flaky?.failedRuns ?? 0) > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const mod = await loadBrokerModule(args.broker);
  const common = { broker: args.broker, store: args.store, warmup: args.warmup, prefetch: args.prefetch };
  try {
    if (args.workers) {
      const points = await runScaleOut({ broker: args.broker, mod, store: args.store, workers: args.workers, chains: args.chains, steps: args.steps, warmup: args.warmup, prefetch: args.prefetch });
      printScaleReport({ broker: args.broker, store: args.store, chains: args.chains, steps: args.steps, warmup: args.warmup, prefetch: args.prefetch, machine: machineInfo(), points });
      if (points.some((p) => p.failedRuns > 0)) process.exitCode = 1;
    } else if (args.latency) {
      const result = await onFreshBroker(mod, (broker) => runLatency({ broker, store: args.store, steps: args.steps, runs: args.runs, warmup: args.warmup, prefetch: args.prefetch, profile: args.profile }));
      printLatency({ ...common, machine: machineInfo(), result });
      if (result.failedRuns > 0) process.exitCode = 1;
    } else if (args.soak !== undefined) {
      const totalSteps = args.soak;
      const result = await onFreshBroker(mod, (broker) => runSoak({ broker, store: args.store, totalSteps, chains: args.chains, steps: args.steps, warmup: args.warmup, prefetch: args.prefetch }));
      printSoak({ ...common, machine: machineInfo(), result });
      if (result.failedRuns > 0) process.exitCode = 1;
    } else {
      await throughput(args, mod);
    }
  } finally {
    if (mod.shutdown) await mod.shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
