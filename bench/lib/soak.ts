/**
 * `--soak <steps>`: the no-op workload in rounds of `chains` runs on ONE runtime and ONE store
 * (what a long-lived worker is), until `steps` steps are done, sampling memory after each round:
 * RSS (after a full GC when node runs with `--expose-gc`, so rounds compare) and the V8 heap used.
 * Prints the first measured round against the last, the growth and the peak RSS (sampled every
 * 50 ms during the rounds). A warm-up round of `warmup` chains runs first on the same runtime.
 *
 * The store keeps every finished run (that is the product), so the SQLite file grows with the
 * runs; that is on disk (SQLite's page cache is bounded), and the report gives its size. The
 * benchmark itself keeps nothing across rounds but one figure per round.
 */
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { MachineInfo } from './machine.js';
import { fmt, mb, table } from './report.js';
import { percentile, round } from './stats.js';
import type { StoreKind } from './stores.js';
import type { Broker } from './taskchart.js';
import { BenchSession, noopSpec } from './workload.js';

export interface SoakOptions {
  readonly broker: Broker;
  readonly store: StoreKind;
  /** Stop after the round that reaches this many steps. */
  readonly totalSteps: number;
  readonly chains: number;
  readonly steps: number;
  readonly warmup: number;
  readonly prefetch: number;
}

export interface SoakRound {
  readonly round: number;
  /** Steps done by the end of this round (warm-up not counted). */
  readonly steps: number;
  readonly stepsPerSec: number;
  /** After the round (and a full GC when exposed). */
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** What V8 holds for its heap (used or not): most of the gap between heap used and RSS. */
  readonly heapTotalBytes: number;
  /** Highest RSS sampled during the round. */
  readonly peakRssBytes: number;
}

export interface SoakResult {
  /** RSS before the runtime opened (node, tsx's loader and the modules: the floor). */
  readonly startRssBytes: number;
  readonly rounds: readonly SoakRound[];
  readonly chains: number;
  readonly steps: number;
  /** Whether each sample followed a forced full GC (`--expose-gc`). */
  readonly gc: boolean;
  readonly failedRuns: number;
  readonly warnings: number;
  /** The SQLite file and its WAL at the end, in bytes (undefined for Postgres). */
  readonly storeFile: { readonly dbBytes: number; readonly walBytes: number } | undefined;
  readonly wallMs: number;
}

const forceGc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0; // No WAL file right now.
  }
};

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  forceGc?.();
  const startRssBytes = process.memoryUsage.rss();
  const session = await BenchSession.open({ spec: noopSpec(o.steps), prefetch: o.prefetch, broker: o.broker, store: o.store });
  const perRound = o.chains * o.steps;
  const total = Math.ceil(o.totalSteps / perRound);
  const rounds: SoakRound[] = [];
  let failedRuns = 0;
  const t0 = performance.now();
  try {
    if (o.warmup > 0) failedRuns += (await session.round(o.warmup)).failedRuns;
    for (let n = 1; n <= total; n++) {
      const r = await session.round(o.chains);
      failedRuns += r.failedRuns;
      forceGc?.();
      const mem = process.memoryUsage();
      const sample: SoakRound = {
        round: n,
        steps: n * perRound,
        stepsPerSec: r.stepsPerSec,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        peakRssBytes: r.peakRssBytes,
      };
      rounds.push(sample);
      // About ten progress lines, whatever the length of the soak.
      if (n === 1 || n === total || n % Math.max(1, Math.round(total / 10)) === 0) {
        console.log(`round ${n}/${total}: ${fmt(sample.steps)} steps, ${fmt(r.stepsPerSec)} steps/s, RSS ${mb(sample.rssBytes)}, heap used ${mb(sample.heapUsedBytes)}, failed runs ${failedRuns}`);
      }
    }
    const file = o.store === 'sqlite' ? session.storeEnv.TCB_SQLITE_FILE : undefined;
    return {
      startRssBytes,
      rounds,
      chains: o.chains,
      steps: o.steps,
      gc: forceGc !== undefined,
      failedRuns,
      warnings: session.warnings,
      storeFile: file ? { dbBytes: sizeOf(file), walBytes: sizeOf(`${file}-wal`) } : undefined,
      wallMs: performance.now() - t0,
    };
  } finally {
    await session.close();
  }
}

const growthPct = (first: number, last: number) => ((last - first) / first) * 100;

/** Median RSS of the first and of the last tenth of the rounds (at least one each): steadier than one sample. */
function rssEnds(rounds: readonly SoakRound[]): { first: number; last: number } {
  const k = Math.max(1, Math.floor(rounds.length / 10));
  const median = (xs: readonly SoakRound[]) => percentile(xs.map((s) => s.rssBytes).sort((a, b) => a - b), 50);
  return { first: median(rounds.slice(0, k)), last: median(rounds.slice(-k)) };
}

export function printSoak(r: { broker: string; store: string; warmup: number; prefetch: number; machine: MachineInfo; result: SoakResult }): void {
  const x = r.result;
  const first = x.rounds[0];
  const last = x.rounds[x.rounds.length - 1];
  if (!first || !last) throw new Error('printSoak: no round ran');
  const peak = Math.max(...x.rounds.map((s) => s.peakRssBytes));
  const rssGrowth = growthPct(first.rssBytes, last.rssBytes);
  const heapGrowth = growthPct(first.heapUsedBytes, last.heapUsedBytes);
  const tenth = rssEnds(x.rounds);
  const tenthGrowth = growthPct(tenth.first, tenth.last);
  const tenthRounds = Math.max(1, Math.floor(x.rounds.length / 10));
  const pct = (n: number) => `${n >= 0 ? '+' : ''}${fmt(n, 1)} %`;
  const after = x.gc ? 'after a full GC' : 'no forced GC: run node with --expose-gc for comparable samples';
  const rows: string[][] = [
    ['workload', `${fmt(last.steps)} steps: ${x.rounds.length} rounds of ${fmt(x.chains)} chains x ${x.steps} no-op steps on one runtime and store (warm-up ${r.warmup} chains first)`],
    ['broker / store', `${r.broker} / ${r.store}, prefetch ${r.prefetch}`],
    ['RSS', `before the runtime opened ${mb(x.startRssBytes)}; first round ${mb(first.rssBytes)}, last round ${mb(last.rssBytes)}: ${pct(rssGrowth)} (${after})`],
    ['RSS, steadier', `median of the first ${tenthRounds} rounds ${mb(tenth.first)}, of the last ${tenthRounds} ${mb(tenth.last)}: ${pct(tenthGrowth)}`],
    ['peak RSS', `${mb(peak)} (sampled every 50 ms during the rounds)`],
    ['heap used', `first round ${mb(first.heapUsedBytes)}, last round ${mb(last.heapUsedBytes)}: ${pct(heapGrowth)} (V8 heap held: ${mb(first.heapTotalBytes)}, then ${mb(last.heapTotalBytes)})`],
    ['steps/s', `first round ${fmt(first.stepsPerSec)}, last round ${fmt(last.stepsPerSec)}, lowest ${fmt(Math.min(...x.rounds.map((s) => s.stepsPerSec)))}`],
    ...(x.storeFile ? [['SQLite file', `${mb(x.storeFile.dbBytes)} + ${mb(x.storeFile.walBytes)} WAL at the end (on disk: the store keeps every finished run)`]] : []),
    ['wall time', `${fmt(x.wallMs / 1000, 1)} s`],
    ['failed runs', String(x.failedRuns)],
    ['machine', `${r.machine.cpus} x ${r.machine.model}, node ${r.machine.node}, load average ${r.machine.load1}`],
  ];
  console.log(`\nTaskchart soak\n${table(rows)}\n`);
  const json = {
    bench: 'taskchart-soak',
    broker: r.broker,
    storeKind: r.store,
    totalSteps: last.steps,
    rounds: x.rounds.length,
    chainsPerRound: x.chains,
    steps: x.steps,
    warmup: r.warmup,
    prefetch: r.prefetch,
    gc: x.gc,
    startRssMb: round(x.startRssBytes / 2 ** 20),
    firstRssMb: round(first.rssBytes / 2 ** 20),
    lastRssMb: round(last.rssBytes / 2 ** 20),
    rssGrowthPct: round(rssGrowth),
    rssTenthGrowthPct: round(tenthGrowth),
    peakRssMb: round(peak / 2 ** 20),
    firstHeapUsedMb: round(first.heapUsedBytes / 2 ** 20),
    lastHeapUsedMb: round(last.heapUsedBytes / 2 ** 20),
    heapGrowthPct: round(heapGrowth),
    firstStepsPerSec: round(first.stepsPerSec),
    lastStepsPerSec: round(last.stepsPerSec),
    ...(x.storeFile ? { storeFileMb: round(x.storeFile.dbBytes / 2 ** 20), storeWalMb: round(x.storeFile.walBytes / 2 ** 20) } : {}),
    wallMs: round(x.wallMs),
    failedRuns: x.failedRuns,
    warnings: x.warnings,
    machine: r.machine,
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}
