/** The table and `BENCH_JSON` line of the scale-out mode (`bench/run.ts --workers …`). */
import type { MachineInfo } from './machine.js';
import type { ScalePoint } from './scale-out.js';
import { round } from './stats.js';

const fmt = (n: number, digits = 0) => round(n, digits).toLocaleString('en-US', { maximumFractionDigits: digits });
/** CPU µs per step, or `-` when not measured. */
const perStep = (ms: number | undefined, steps: number) => (ms === undefined ? '-' : fmt((ms * 1000) / steps));

export interface ScaleReportInput {
  readonly broker: string;
  readonly store: string;
  readonly chains: number;
  readonly steps: number;
  readonly warmup: number;
  readonly prefetch: number;
  readonly machine: MachineInfo;
  readonly points: readonly ScalePoint[];
}

export function printScaleReport(r: ScaleReportInput): void {
  const steps = r.chains * r.steps;
  const base = r.points.find((p) => p.workers === 1)?.stepsPerSec ?? r.points[0]?.stepsPerSec ?? Number.NaN;
  const header = ['workers', 'steps/s', 'vs 1 worker', 'wall', 'start all', 'p50 / p99 run', 'CPU µs/step: workers', 'producer', 'postgres', 'rabbitmq', 'busy cores', 'writes/commit', 'loads/step', 'CAS conflicts', 'failed'];
  const rows = r.points.map((p) => [
    String(p.workers),
    fmt(p.stepsPerSec),
    `${fmt(p.stepsPerSec / base, 2)}x`,
    `${fmt(p.wallMs)} ms`,
    `${fmt(p.startMs)} ms`,
    `${fmt(p.p50Ms)} / ${fmt(p.p99Ms)} ms`,
    perStep(p.workerCpuMs, steps),
    perStep(p.producerCpuMs, steps),
    perStep(p.serverCpuMs['postgres'], steps),
    perStep(p.serverCpuMs['beam.smp'], steps),
    p.machineBusyCores === undefined ? '-' : fmt(p.machineBusyCores, 2),
    fmt(p.storeCalls.writes / Math.max(1, p.storeCalls.commitCalls), 1),
    fmt(p.storeCalls.loads / steps, 2),
    fmt(p.storeCalls.conflicts),
    String(p.failedRuns),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  console.log(
    [
      '',
      'Taskchart scale-out benchmark',
      `  ${r.chains} chains x ${r.steps} no-op steps per worker count (warm-up ${r.warmup} chains each, not counted); all started at once by a producer`,
      `  (a client in this process); wall = first start -> last result. Broker ${r.broker}, store ${r.store}, prefetch ${r.prefetch} per worker process.`,
      `  machine: ${r.machine.cpus} x ${r.machine.model}, ${r.machine.memGb} GB, node ${r.machine.node}, load average ${r.machine.load1} at the end`,
      '',
      line(header),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.map(line),
      '',
    ].join('\n'),
  );
  const json = {
    bench: 'taskchart-scale-out',
    broker: r.broker,
    store: r.store,
    chains: r.chains,
    steps: r.steps,
    warmup: r.warmup,
    prefetch: r.prefetch,
    points: r.points.map((p) => ({
      workers: p.workers,
      stepsPerSec: round(p.stepsPerSec),
      speedup: round(p.stepsPerSec / base, 3),
      wallMs: round(p.wallMs),
      startMs: round(p.startMs),
      p50Ms: round(p.p50Ms),
      p99Ms: round(p.p99Ms),
      workerCpuMs: p.workerCpuMs === undefined ? null : round(p.workerCpuMs),
      producerCpuMs: round(p.producerCpuMs),
      serverCpuMs: Object.fromEntries(Object.entries(p.serverCpuMs).map(([k, v]) => [k, round(v)])),
      machineBusyCores: p.machineBusyCores === undefined ? null : round(p.machineBusyCores, 2),
      storeCalls: p.storeCalls,
      failedRuns: p.failedRuns,
    })),
    machine: r.machine,
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}
