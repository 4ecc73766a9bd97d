/**
 * `--latency`: idle latency, what one user starting one chain on an otherwise idle runtime waits.
 * One no-op chain at a time: `runtime.run()` (the run durably created), then `run.result()`,
 * which in the process that advances the run settles in process, right after the commit that
 * made the run terminal (no store polling on this path, and no store load: a run this process
 * has just created needs none).
 * `warmup` sequential runs first, not counted, then `runs` measured ones.
 */
import { performance } from 'node:perf_hooks';
import type { MachineInfo } from './machine.js';
import { profiled } from './profiler.js';
import { fmt, table } from './report.js';
import { round, summarise, type LatencySummary } from './stats.js';
import type { StoreKind } from './stores.js';
import type { Broker } from './taskchart.js';
import { mainThreadCpuMs } from './thread-cpu.js';
import { BenchSession, noopSpec } from './workload.js';

export interface LatencyOptions {
  readonly broker: Broker;
  readonly store: StoreKind;
  readonly steps: number;
  readonly runs: number;
  readonly warmup: number;
  readonly prefetch: number;
  /** Write a .cpuprofile of the measured runs to this file. */
  readonly profile: string | undefined;
}

export interface LatencyResult {
  readonly runs: number;
  readonly steps: number;
  /** `run()` call to `result()` resolved. */
  readonly total: LatencySummary & { readonly meanMs: number };
  /** `run()` call to `run()` resolved (the run durably created and its first message committed). */
  readonly start: LatencySummary;
  /** Main-thread CPU over the measured runs, per run: all the thread did meanwhile (an SQS receive loop's polls too). Linux only. */
  readonly mainThreadUsPerRun: number | undefined;
  readonly wallMs: number;
  /** Runs that did not complete, warm-up included. */
  readonly failedRuns: number;
  readonly warnings: number;
}

/** The targets of issue 13, per broker (on SQLite): none for the others. */
const TARGETS: Readonly<Record<string, { p50Ms: number; p99Ms: number }>> = {
  memory: { p50Ms: 1, p99Ms: 5 },
  amqp: { p50Ms: 3, p99Ms: 10 },
};

export async function runLatency(o: LatencyOptions): Promise<LatencyResult> {
  const session = await BenchSession.open({ spec: noopSpec(o.steps), prefetch: o.prefetch, broker: o.broker, store: o.store });
  const { runtime, spec } = session;
  let failedRuns = 0;
  /** One run, start to result; its two times in ms. */
  const one = async (i: number): Promise<readonly [number, number]> => {
    const t0 = performance.now();
    const run = await runtime.run(spec.chain, { i });
    const t1 = performance.now();
    try {
      await run.result();
    } catch {
      failedRuns++;
    }
    return [t1 - t0, performance.now() - t0];
  };
  try {
    for (let i = 0; i < o.warmup; i++) await one(i);
    const totals: number[] = [];
    const starts: number[] = [];
    const main0 = mainThreadCpuMs();
    const t0 = performance.now();
    await profiled(o.profile, async () => {
      for (let i = 0; i < o.runs; i++) {
        const [start, total] = await one(i);
        starts.push(start);
        totals.push(total);
      }
    });
    const wallMs = performance.now() - t0;
    const main1 = mainThreadCpuMs();
    return {
      runs: o.runs,
      steps: o.steps,
      total: { ...summarise(totals), meanMs: totals.reduce((a, b) => a + b, 0) / totals.length },
      start: summarise(starts),
      mainThreadUsPerRun: main0 === undefined || main1 === undefined ? undefined : ((main1 - main0) * 1000) / o.runs,
      wallMs,
      failedRuns,
      warnings: session.warnings,
    };
  } finally {
    await session.close();
  }
}

export function printLatency(r: { broker: string; store: string; warmup: number; prefetch: number; machine: MachineInfo; result: LatencyResult }): void {
  const x = r.result;
  const ms = (n: number) => `${fmt(n, 2)} ms`;
  const target = r.store === 'sqlite' ? TARGETS[r.broker] : undefined;
  const met = target && x.total.p50Ms < target.p50Ms && x.total.p99Ms < target.p99Ms;
  const rows: string[][] = [
    ['workload', `one ${x.steps}-step no-op chain at a time, ${x.runs} runs (after ${r.warmup} warm-up runs, not counted)`],
    ['broker / store', `${r.broker} / ${r.store}, prefetch ${r.prefetch}`],
    ['latency', `p50 ${ms(x.total.p50Ms)}, p90 ${ms(x.total.p90Ms)}, p99 ${ms(x.total.p99Ms)}, max ${ms(x.total.maxMs)}, mean ${ms(x.total.meanMs)} (run() call -> result() resolved)`],
    ['of which start', `p50 ${ms(x.start.p50Ms)}, p99 ${ms(x.start.p99Ms)} (run() call -> run() resolved: the run durably created)`],
    ...(target ? [['target', `p50 < ${target.p50Ms} ms, p99 < ${target.p99Ms} ms (issue 13): ${met ? 'met' : 'NOT met'}`]] : []),
    ...(x.mainThreadUsPerRun === undefined ? [] : [['main thread', `${fmt(x.mainThreadUsPerRun)} µs CPU per run (all the thread did meanwhile, background work included)`]]),
    ['wall time', `${fmt(x.wallMs)} ms for ${x.runs} runs`],
    ['failed runs', `${x.failedRuns} (warm-up included)`],
    ['machine', `${r.machine.cpus} x ${r.machine.model}, node ${r.machine.node}, load average ${r.machine.load1}`],
  ];
  console.log(`\nTaskchart idle latency\n${table(rows)}\n`);
  const json = {
    bench: 'taskchart-latency',
    broker: r.broker,
    storeKind: r.store,
    steps: x.steps,
    runs: x.runs,
    warmup: r.warmup,
    prefetch: r.prefetch,
    p50Ms: round(x.total.p50Ms, 3),
    p90Ms: round(x.total.p90Ms, 3),
    p99Ms: round(x.total.p99Ms, 3),
    maxMs: round(x.total.maxMs, 3),
    meanMs: round(x.total.meanMs, 3),
    startP50Ms: round(x.start.p50Ms, 3),
    startP99Ms: round(x.start.p99Ms, 3),
    ...(x.mainThreadUsPerRun === undefined ? {} : { mainThreadUsPerRun: round(x.mainThreadUsPerRun) }),
    ...(target ? { target, targetMet: met } : {}),
    wallMs: round(x.wallMs),
    failedRuns: x.failedRuns,
    warnings: x.warnings,
    machine: r.machine,
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}
