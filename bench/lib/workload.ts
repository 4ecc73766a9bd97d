import { performance } from 'node:perf_hooks';
import { chain, createRuntime, task, type Broker, type Chain, type Logger, type Runtime, type Task } from './taskchart.js';
import { CountingStore, type StoreStats } from './counting-store.js';
import { benchStore, type BenchStore, type StoreKind } from './stores.js';
import { RssSampler } from './rss.js';
import { mainThreadCpuMs } from './thread-cpu.js';
import { summarise, type LatencySummary } from './stats.js';

/** What every benchmark step receives and returns. */
export interface Payload {
  readonly i: number;
}

/** Counts task invocations (every attempt, failed ones included). */
export interface AttemptCounter {
  n: number;
}

/** A chain the benchmark runs, and what it takes to measure it. */
export interface WorkloadSpec {
  /** How reports name it (`noop`, `flaky`). */
  readonly name: string;
  readonly chain: Chain<Payload, Payload>;
  /** Steps one run completes (failed attempts not counted). */
  readonly steps: number;
  /** Incremented by every task attempt of `chain`. */
  readonly attempts: AttemptCounter;
}

export interface WorkloadOptions {
  readonly chains: number;
  readonly steps: number;
  readonly prefetch: number;
  readonly broker: Broker;
  /** @defaultValue 'sqlite' */
  readonly store?: StoreKind;
  /** @defaultValue the no-op chain of `steps` steps */
  readonly spec?: WorkloadSpec;
  /** Chains run first on the same runtime and store, not counted. @defaultValue 0 */
  readonly warmup?: number;
  /** Wraps the measured round only (a profiler): not the warm-up. */
  readonly measure?: <T>(round: () => Promise<T>) => Promise<T>;
}

export interface WorkloadResult extends LatencySummary {
  /** `noop` or `flaky`. */
  readonly workload: string;
  readonly chains: number;
  readonly steps: number;
  /** Task attempts during the round (failed ones included). */
  readonly attempts: number;
  readonly attemptsPerSec: number;
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
  /** Warnings and errors the runtime logged since the session opened. */
  readonly warnings: number;
  /** What the runtime asked of the store during the round. */
  readonly store: StoreStats;
}

/** A chain of `steps` tasks that return their input; `attempts` (when given) counts their calls. */
export function noopChain(steps: number, attempts?: AttemptCounter): Chain<Payload, Payload> {
  const tasks: Array<Task<Payload, Payload>> = Array.from({ length: steps }, (_, k) =>
    task(`noop${k + 1}`, (x: Payload) => {
      if (attempts) attempts.n++;
      return x;
    }),
  );
  const [first, ...rest] = tasks;
  if (!first) throw new Error('a benchmark chain needs at least one step');
  return chain(`bench${steps}`, first, ...rest);
}

/** The no-op workload: every step returns its input at once. */
export function noopSpec(steps: number): WorkloadSpec {
  const attempts: AttemptCounter = { n: 0 };
  return { name: 'noop', chain: noopChain(steps, attempts), steps, attempts };
}

/**
 * One runtime on a fresh store (a SQLite file, WAL, synchronous NORMAL: the store's defaults; or
 * a Postgres schema) running one workload, in as many rounds as asked: `runWorkload` runs one,
 * the soak many on the same runtime and store (so what a long-lived worker keeps, it keeps).
 */
export class BenchSession {
  private constructor(
    readonly spec: WorkloadSpec,
    readonly runtime: Runtime,
    private readonly store: CountingStore,
    private readonly target: BenchStore,
    private readonly logged: { warnings: number },
  ) {}

  static async open(options: { spec: WorkloadSpec; prefetch: number; broker: Broker; store?: StoreKind | undefined }): Promise<BenchSession> {
    const target = benchStore(options.store ?? 'sqlite');
    const store = new CountingStore(target.open());
    const logged = { warnings: 0 };
    const logger: Logger = {
      warn: () => void logged.warnings++,
      error: (message, details) => {
        if (++logged.warnings <= 5) console.error(`[taskchart] ${message}`, details ?? '');
      },
    };
    const runtime = createRuntime({ broker: options.broker, store, chains: [options.spec.chain], prefetch: options.prefetch, logger });
    const session = new BenchSession(options.spec, runtime, store, target, logged);
    try {
      await runtime.start();
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  get warnings(): number {
    return this.logged.warnings;
  }

  /** The store's file or schema (for the soak's size figure). */
  get storeEnv(): Readonly<Record<string, string>> {
    return this.target.env;
  }

  /** Starts `chains` runs at once (inputs `{ i: 0 }` .. `{ i: chains - 1 }`), waits for every result, and measures. */
  async round(chains: number): Promise<WorkloadResult> {
    const { runtime, spec } = this;
    const steps = spec.steps;
    this.store.resetStats();
    const rss = new RssSampler(50);
    const latencies = new Array<number>(chains);
    let failedRuns = 0;
    const attempts0 = spec.attempts.n;
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const main0 = mainThreadCpuMs();
    const t0 = performance.now();
    let started = 0;
    let startedAt = t0;
    const runs = Array.from({ length: chains }, async (_, i) => {
      const begin = performance.now();
      const run = await runtime.run(spec.chain, { i });
      if (++started === chains) startedAt = performance.now();
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
    const attempts = spec.attempts.n - attempts0;
    return {
      workload: spec.name,
      chains,
      steps,
      attempts,
      attemptsPerSec: (attempts / wallMs) * 1000,
      startMs,
      startsPerSec: (chains / startMs) * 1000,
      wallMs,
      chainsPerSec: (chains / wallMs) * 1000,
      stepsPerSec: ((chains * steps) / wallMs) * 1000,
      ...summarise(latencies),
      peakRssBytes,
      cpuMs,
      stepsPerCpuSec: ((chains * steps) / cpuMs) * 1000,
      eventLoopUtilization: elu.utilization,
      mainThreadCpuMs: mainMs,
      stepsPerMainThreadCpuSec: mainMs ? ((chains * steps) / mainMs) * 1000 : undefined,
      failedRuns,
      warnings: this.logged.warnings,
      store: this.store.stats(),
    };
  }

  /** Closes the runtime (and with it the store), then deletes the file or drops the schema. */
  async close(): Promise<void> {
    try {
      await this.runtime.close();
    } finally {
      await this.target.dispose();
    }
  }
}

/**
 * One round of `chains` runs of the workload (default: no-op) on its own runtime and fresh store,
 * after `warmup` chains on that same runtime (not counted), as a long-lived worker is warm.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const session = await BenchSession.open({ spec: options.spec ?? noopSpec(options.steps), prefetch: options.prefetch, broker: options.broker, store: options.store });
  try {
    if ((options.warmup ?? 0) > 0) {
      const warm = await session.round(options.warmup ?? 0);
      if (warm.failedRuns > 0) throw new Error(`${warm.failedRuns} of the ${warm.chains} warm-up runs failed`);
    }
    const measure = options.measure ?? ((round) => round());
    return await measure(() => session.round(options.chains));
  } finally {
    await session.close();
  }
}
