import type { BaselineResult } from './broker-module.js';
import type { MachineInfo } from './machine.js';
import { round } from './stats.js';
import type { WorkloadResult } from './workload.js';

const fmt = (n: number, digits = 0) => round(n, digits).toLocaleString('en-US', { maximumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20)} MB`;

export interface ReportInput {
  readonly broker: string;
  /** `sqlite` or `postgres`. */
  readonly store: string;
  readonly prefetch: number;
  readonly warmup: number;
  readonly machine: MachineInfo;
  readonly result: WorkloadResult;
  readonly baseline?: BaselineResult | undefined;
}

function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

export function printReport(r: ReportInput): void {
  const x = r.result;
  const rows: Array<readonly [string, string]> = [
    ['workload', `${x.chains} chains x ${x.steps} no-op steps (warm-up ${r.warmup} chains, not counted)`],
    ['broker / store', `${r.broker} / ${r.store === 'postgres' ? 'Postgres (a fresh schema, pg pool of 10)' : 'SQLite file (WAL, synchronous=NORMAL)'}, prefetch ${r.prefetch}`],
    ['start', `${fmt(x.startMs)} ms to durably start all runs (${fmt(x.startsPerSec)} runs/s)`],
    ['wall time', `${fmt(x.wallMs)} ms (first start -> last result)`],
    ['chains/s', fmt(x.chainsPerSec)],
    ['steps/s', fmt(x.stepsPerSec)],
    ['run latency', `p50 ${fmt(x.p50Ms)} ms, p99 ${fmt(x.p99Ms)} ms, max ${fmt(x.maxMs)} ms (start -> result)`],
    ['CPU', `${fmt(x.cpuMs)} ms user+sys (${fmt((x.cpuMs / x.wallMs) * 100)}% of one core), ${fmt(x.stepsPerCpuSec)} steps per CPU-second; event loop busy ${fmt(x.eventLoopUtilization * 100)}% of the wall time`],
    ...(x.mainThreadCpuMs !== undefined && x.stepsPerMainThreadCpuSec !== undefined
      ? [['main thread', `${fmt(x.mainThreadCpuMs)} ms CPU: ${fmt(x.stepsPerMainThreadCpuSec)} steps per main-thread CPU-second (an uncontended core's steps/s)`] as const]
      : []),
    ['peak RSS', mb(x.peakRssBytes)],
    ['failed runs', String(x.failedRuns)],
    [
      'store calls',
      `${fmt(x.store.commitCalls)} commit transactions for ${fmt(x.store.writes)} run writes (mean ${fmt(x.store.writes / Math.max(1, x.store.commitCalls), 1)}, max ${x.store.maxBatch} per transaction), ` +
        `${fmt(x.store.historyRows)} history rows, ${fmt(x.store.outboxRows)} outbox rows, ${fmt(x.store.deleteOutboxCalls)} outbox-delete transactions, ${fmt(x.store.loads)} loads, ~${fmt(x.store.meanRowJsonBytes)} B snapshot+pending JSON per write`,
    ],
    ['machine', `${r.machine.cpus} x ${r.machine.model}, ${r.machine.memGb} GB, node ${r.machine.node} (${r.machine.platform}), load average ${r.machine.load1}`],
  ];
  if (r.baseline) {
    const b = r.baseline;
    rows.push(['raw baseline', `${fmt(b.stepsPerSec)} steps/s, ${fmt(b.chainsPerSec)} chains/s, p50 ${fmt(b.p50Ms)} ms, p99 ${fmt(b.p99Ms)} ms`]);
    rows.push(['taskchart / raw', `${round(x.stepsPerSec / b.stepsPerSec, 2)}x steps/s`]);
  }
  console.log(`\nTaskchart benchmark\n${table(rows)}\n`);
  const json = {
    bench: 'taskchart',
    broker: r.broker,
    storeKind: r.store,
    chains: x.chains,
    steps: x.steps,
    prefetch: r.prefetch,
    warmup: r.warmup,
    startMs: round(x.startMs),
    startsPerSec: round(x.startsPerSec),
    wallMs: round(x.wallMs),
    chainsPerSec: round(x.chainsPerSec),
    stepsPerSec: round(x.stepsPerSec),
    p50Ms: round(x.p50Ms),
    p99Ms: round(x.p99Ms),
    maxMs: round(x.maxMs),
    peakRssMb: round(x.peakRssBytes / 2 ** 20),
    cpuMs: round(x.cpuMs),
    stepsPerCpuSec: round(x.stepsPerCpuSec),
    eventLoopUtilization: round(x.eventLoopUtilization, 3),
    ...(x.mainThreadCpuMs !== undefined ? { mainThreadCpuMs: round(x.mainThreadCpuMs), stepsPerMainThreadCpuSec: round(x.stepsPerMainThreadCpuSec ?? 0) } : {}),
    failedRuns: x.failedRuns,
    store: x.store,
    warnings: x.warnings,
    machine: r.machine,
    ...(r.baseline ? { baseline: r.baseline, ratio: round(x.stepsPerSec / r.baseline.stepsPerSec, 3) } : {}),
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}
