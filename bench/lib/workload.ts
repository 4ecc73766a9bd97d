import { performance } from 'node:perf_hooks';
import { chain, createRuntime, task, type Broker, type Chain, type Logger, type Task } from './taskchart.js';
import { CountingStore, type StoreStats } from './counting-store.js';
import { benchStore, type StoreKind } from './stores.js';
import { RssSampler } from './rss.js';
import { mainThreadCpuMs } from './thread-cpu.js';
import { summarise, type LatencySummary } from './stats.js';

/** What every no-op step receives and returns. */
export interface Payload {
  readonly i: number;
}

export interface WorkloadOptions {
  readonly chains: number;
  readonly steps: number;
  readonly prefetch: number;
  readonly broker: Broker;
  /** @defaultValue 'sqlite' */
  readonly store?: StoreKind;
}

export interface WorkloadResult extends LatencySummary {
  readonly chains: number;
  readonly steps: number;
  /** Time to durably start every run (all `runtime.run()` calls resolved). */
  readonly startMs: number;
  readonly startsPerSec: number;
  /** First `run()` call to last result. */
  readonly wallMs: number;
  readonly chainsPerSec: number;
  readonly stepsPerSec: number;
  readonly peakRssBytes: number;
  /** CPU time (user + system) this process spent between the first start and the last result. */
  readonly cpuMs: number;
  /** Steps per CPU-second: less sensitive than steps/s to other processes sharing the cores. */
  readonly stepsPerCpuSec: number;
  /** CPU time of the main thread alone (Linux only). */
  readonly mainThreadCpuMs: number | undefined;
  /** Steps per main-thread CPU-second: what one uncontended core would do (Linux only). */
  readonly stepsPerMainThreadCpuSec: number | undefined;
  /** Share of the wall time the event loop was busy (1 = the main thread never waited). */
  readonly eventLoopUtilization: number;
  readonly failedRuns: number;
  readonly warnings: number;
  /** What the runtime asked of the store during the whole phase. */
  readonly store: StoreStats;
}

/** A chain of `steps` tasks that return their input. */
export function noopChain(steps: number): Chain<Payload, Payload> {
  const tasks: Array<Task<Payload, Payload>> = Array.from({ length: steps }, (_, k) => task(`noop${k + 1}`, (x: Payload) => x));
  const [first, ...rest] = tasks;
  if (!first) throw new Error('a benchmark chain needs at least one step');
  return chain(`bench${steps}`, first, ...rest);
}

/**
 * Starts `chains` runs of a fresh `steps`-step no-op chain on a fresh SQLite file (WAL,
 * synchronous NORMAL: the store's defaults) or Postgres schema, waits for every result, and measures.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const target = benchStore(options.store ?? 'sqlite');
  let warnings = 0;
  const logger: Logger = {
    warn: () => void warnings++,
    error: (message, details) => {
      warnings++;
      if (warnings <= 5) console.error(`[taskchart] ${message}`, details ?? '');
    },
  };
  const bench = noopChain(options.steps);
  const store = new CountingStore(target.open());
  const runtime = createRuntime({ broker: options.broker, store, chains: [bench], prefetch: options.prefetch, logger });
  try {
    await runtime.start();
    const rss = new RssSampler(50);
    const latencies = new Array<number>(options.chains);
    let failedRuns = 0;
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const main0 = mainThreadCpuMs();
    const t0 = performance.now();
    let started = 0;
    let startedAt = t0;
    const runs = Array.from({ length: options.chains }, async (_, i) => {
      const begin = performance.now();
      const run = await runtime.run(bench, { i });
      if (++started === options.chains) startedAt = performance.now();
      try {
        await run.result();
      } catch {
        failedRuns++;
      }
      latencies[i] = performance.now() - begin;
    });
    await Promise.all(runs);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const main1 = mainThreadCpuMs();
    const mainMs = main0 === undefined || main1 === undefined ? undefined : main1 - main0;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const startMs = startedAt - t0;
    const peakRssBytes = rss.stop();
    return {
      chains: options.chains,
      steps: options.steps,
      startMs,
      startsPerSec: (options.chains / startMs) * 1000,
      wallMs,
      chainsPerSec: (options.chains / wallMs) * 1000,
      stepsPerSec: ((options.chains * options.steps) / wallMs) * 1000,
      ...summarise(latencies),
      peakRssBytes,
      cpuMs,
      stepsPerCpuSec: ((options.chains * options.steps) / cpuMs) * 1000,
      eventLoopUtilization: elu.utilization,
      mainThreadCpuMs: mainMs,
      stepsPerMainThreadCpuSec: mainMs ? ((options.chains * options.steps) / mainMs) * 1000 : undefined,
      failedRuns,
      warnings,
      store: store.stats(),
    };
  } finally {
    await runtime.close();
    await target.dispose();
  }
}
