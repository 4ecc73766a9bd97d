import type { BaselineResult } from './broker-module.js';
import type { MachineInfo } from './machine.js';
import { round } from './stats.js';
import type { WorkloadResult } from './workload.js';

/** A number for a table: `digits` decimals at most, thousands separated. */
export const fmt = (n: number, digits = 0): string => round(n, digits).toLocaleString('en-US', { maximumFractionDigits: digits });
export const mb = (bytes: number): string => `${fmt(bytes / 2 ** 20)} MB`;

export interface ReportInput {
  readonly broker: string;
  /** `sqlite` or `postgres`. */
  readonly store: string;
  readonly prefetch: number;
  readonly warmup: number;
  /** Whether the warm-up ran on a runtime of its own (`--fresh-runtime`) rather than the measured one. */
  readonly freshRuntime?: boolean;
  readonly machine: MachineInfo;
  /** The no-op workload's result (the main table, and the JSON line's top level), when it ran. */
  readonly result: WorkloadResult | undefined;
  /** The flaky workload's result, when it ran: printed beside the no-op one. */
  readonly flaky?: WorkloadResult | undefined;
  /** How the flaky workload fails, for its table. */
  readonly flakyLabel?: string | undefined;
  readonly baseline?: BaselineResult | undefined;
}

/** Rows of `label  value`, labels padded to one width. */
export function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd()).join('\n');
}

/** Main-thread CPU µs per `n` (steps or attempts), or `-` off Linux. */
const mainUs = (x: WorkloadResult, n: number) => (x.mainThreadCpuMs === undefined ? '-' : `${fmt((x.mainThreadCpuMs * 1000) / n)} µs`);

/** The figures of one workload for the JSON line. */
function figures(x: WorkloadResult): Record<string, unknown> {
  return {
    workload: x.workload,
    chains: x.chains,
    steps: x.steps,
    attempts: x.attempts,
    startMs: round(x.startMs),
    startsPerSec: round(x.startsPerSec),
    wallMs: round(x.wallMs),
    chainsPerSec: round(x.chainsPerSec),
    stepsPerSec: round(x.stepsPerSec),
    attemptsPerSec: round(x.attemptsPerSec),
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
  };
}

/** The no-op and flaky workloads in columns (either may be missing). */
function sideBySide(noop: WorkloadResult | undefined, flaky: WorkloadResult, flakyLabel: string): string {
  const cols = noop ? [noop, flaky] : [flaky];
  const row = (label: string, f: (x: WorkloadResult) => string) => [label, ...cols.map(f)];
  return table([
    ['', ...cols.map((x) => x.workload)],
    row('chains x steps', (x) => `${fmt(x.chains)} x ${x.steps}`),
    row('attempts', (x) => fmt(x.attempts)),
    row('wall time', (x) => `${fmt(x.wallMs)} ms`),
    row('steps/s', (x) => fmt(x.stepsPerSec)),
    row('attempts/s', (x) => fmt(x.attemptsPerSec)),
    row('run latency p50', (x) => `${fmt(x.p50Ms)} ms`),
    row('run latency p99', (x) => `${fmt(x.p99Ms)} ms`),
    row('main thread / step', (x) => mainUs(x, x.chains * x.steps)),
    row('main thread / attempt', (x) => mainUs(x, x.attempts)),
    row('peak RSS', (x) => mb(x.peakRssBytes)),
    row('failed runs', (x) => String(x.failedRuns)),
  ]) + `\n  flaky: ${flakyLabel}`;
}

export function printReport(r: ReportInput): void {
  const main = r.result ?? r.flaky;
  if (!main) throw new Error('printReport: no workload ran');
  printMain(r, main);
  if (r.flaky) console.log(`\nFlaky workload${r.result ? ', beside the no-op one' : ''}\n${sideBySide(r.result, r.flaky, r.flakyLabel ?? '')}\n`);
  const json = {
    bench: 'taskchart',
    broker: r.broker,
    storeKind: r.store,
    prefetch: r.prefetch,
    warmup: r.warmup,
    warmupOn: r.freshRuntime ? 'own runtime' : 'measured runtime',
    ...figures(main),
    machine: r.machine,
    ...(r.result && r.flaky ? { flaky: figures(r.flaky) } : {}),
    ...(r.baseline && r.result ? { baseline: r.baseline, ratio: round(r.result.stepsPerSec / r.baseline.stepsPerSec, 3) } : {}),
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}

function printMain(r: ReportInput, x: WorkloadResult): void {
  const what = x.workload === 'noop' ? 'no-op steps' : `steps, ${r.flakyLabel ?? x.workload}`;
  const rows: Array<readonly [string, string]> = [
    ['workload', `${x.chains} chains x ${x.steps} ${what} (warm-up ${r.freshRuntime ? `${r.warmup} no-op chains on a runtime of their own` : `${r.warmup} chains of this workload on the measured runtime`}, not counted)`],
    ['broker / store', `${r.broker} / ${r.store === 'postgres' ? 'Postgres (a fresh schema, pg pool of 10)' : 'SQLite file (WAL, synchronous=NORMAL)'}, prefetch ${r.prefetch}`],
    ['start', `${fmt(x.startMs)} ms to durably start all runs (${fmt(x.startsPerSec)} runs/s)`],
    ['wall time', `${fmt(x.wallMs)} ms (first start -> last result)`],
    ['chains/s', fmt(x.chainsPerSec)],
    ['steps/s', fmt(x.stepsPerSec)],
    ['attempts', `${fmt(x.attempts)} task attempts (${fmt(x.attemptsPerSec)}/s)`],
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
  if (r.baseline && x.workload === 'noop') {
    const b = r.baseline;
    rows.push(['raw baseline', `${fmt(b.stepsPerSec)} steps/s, ${fmt(b.chainsPerSec)} chains/s, p50 ${fmt(b.p50Ms)} ms, p99 ${fmt(b.p99Ms)} ms`]);
    rows.push(['taskchart / raw', `${round(x.stepsPerSec / b.stepsPerSec, 2)}x steps/s`]);
  }
  console.log(`\nTaskchart benchmark\n${table(rows)}\n`);
}
