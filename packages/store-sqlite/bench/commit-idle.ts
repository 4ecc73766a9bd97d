/**
 * The cost of one commit at idle: `store.commit()` awaited one at a time, each a chain's step as
 * the runtime writes it (the run row, a history row of two entries, no outbox), 5 commits per run
 * (an insert, then 4 compare-and-swap updates). What a run pays per transition when nothing else
 * is going on: the latency bench's floor.
 *
 *   node --conditions=source --import tsx packages/store-sqlite/bench/commit-idle.ts [--runs 2000] [--rounds 7] [--gap-us 0] [--pause-ms 0]
 *     [--compare /path/to/other/packages/store-sqlite/src/index.ts]
 *
 * With `--compare`, the other checkout's store runs too, alternating round by round in this process;
 * medians of each are printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Store } from '@taskchart/core';
import type { Claimant, HistoryEntry, RunRecord } from '@taskchart/core/adapter';
import { sqliteStore } from '../src/index.js';

type OpenStore = (path: string) => Store;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '7' },
    'gap-us': { type: 'string', default: '0' },
    'pause-ms': { type: 'string', default: '0' },
    compare: { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const ROUNDS = Number(values.rounds);
const COMMITS = RUNS * 5;
/** Main-thread work between commits (a busy wait), as a runtime does between a run's transitions. */
const GAP_MS = Number(values['gap-us']) / 1000;
/** A pause after each run (its 5 commits), as between the chains of a user now and then. */
const PAUSE_MS = Number(values['pause-ms']);
const busyWait = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

/** Nanoseconds the main thread has run on a CPU (Linux schedstat). */
const mainThreadCpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const quantile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;

const snapshot = { status: 'active', value: { step2: 'running' }, context: { input: { n: 1 }, outputs: { a: { n: 1 }, b: { n: 2 } } }, historyValue: {}, children: {} };
const waiting = [{ kind: 'step' as const, step: 'b', attempt: 1 }];
const history = [
  { type: 'step.completed', at: 1, step: 'a', attempt: 1 },
  { type: 'step.started', at: 1, step: 'b', attempt: 1 },
] as unknown as HistoryEntry[];
const record = (id: string, version: number): RunRecord =>
  ({ id, chain: 'bench', status: 'running', version, step: 'b', attempt: 1, totalAttempts: version, waiting, snapshot, input: { n: 1 }, createdAt: 1, updatedAt: Date.now() }) as unknown as RunRecord;

async function round(open: OpenStore, dir: string, n: number, label: string): Promise<{ wall: number; cpu: number; p50: number; p99: number; slow: number; slowMs: number }> {
  const path = join(dir, `${label}-${n}.db`);
  const store = open(path);
  const each = new Float64Array(COMMITS);
  try {
    const claimant: Claimant = { owner: 'bench', now: Date.now(), leaseMs: 30_000, hooks: true };
    const cpu0 = mainThreadCpuNs();
    const t0 = performance.now();
    let k = 0;
    for (let i = 0; i < RUNS; i++) {
      const id = `${label}-${n}-${i}`;
      for (let v = 1; v <= 5; v++) {
        const s = performance.now();
        const [result] = await store.commit([{ record: record(id, v), expectedVersion: v === 1 ? null : v - 1, history, outbox: [] }], claimant);
        each[k++] = performance.now() - s;
        if (GAP_MS > 0) busyWait(GAP_MS);
        if (!result?.ok) throw new Error(`${label}: a write was refused`);
      }
      if (PAUSE_MS > 0) await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
    // The busy waits between commits are not the store's: left out of wall and CPU.
    const wall = performance.now() - t0 - GAP_MS * COMMITS - PAUSE_MS * RUNS;
    const cpu = mainThreadCpuNs() - cpu0 - GAP_MS * 1e6 * COMMITS;
    each.sort();
    let slow = 0;
    let slowMs = 0;
    for (const t of each) {
      if (t <= 1) continue;
      slow++;
      slowMs += t;
    }
    return { slow, slowMs, wall: (wall * 1000) / COMMITS, cpu: cpu / 1000 / COMMITS, p50: quantile(each, 0.5) * 1000, p99: quantile(each, 0.99) * 1000 };
  } finally {
    await store.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tc-commit-idle-'));
  try {
    const stores: Array<[string, OpenStore]> = [['this', (path) => sqliteStore(path)]];
    if (values.compare !== undefined) {
      const other = (await import(pathToFileURL(resolve(values.compare)).href)) as { sqliteStore: OpenStore };
      stores.push(['compare', (path) => other.sqliteStore(path)]);
    }
    const figures = new Map(stores.map(([label]) => [label, { wall: [] as number[], cpu: [] as number[], p50: [] as number[], p99: [] as number[], slow: [] as number[], slowMs: [] as number[] }]));
    for (const [label, open] of stores) await round(open, dir, -1, label);
    for (let n = 0; n < ROUNDS; n++) {
      for (const [label, open] of n % 2 === 0 ? stores : [...stores].reverse()) {
        const r = await round(open, dir, n, label);
        const f = figures.get(label);
        f?.wall.push(r.wall);
        f?.cpu.push(r.cpu);
        f?.p50.push(r.p50);
        f?.p99.push(r.p99);
        f?.slow.push(r.slow);
        f?.slowMs.push(r.slowMs);
      }
    }
    const ours = figures.get('this');
    const theirs = figures.get('compare');
    if (ours && theirs) {
      const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / (b[i] ?? NaN))).toFixed(3);
      console.log(`this / compare, medians of ${ROUNDS} paired rounds: wall ${ratio(ours.wall, theirs.wall)}, main-thread CPU ${ratio(ours.cpu, theirs.cpu)}`);
    }
    for (const [label, f] of figures) {
      console.log(
        `${label.padEnd(8)} median of ${ROUNDS}: ${median(f.wall).toFixed(1)} µs wall, ${median(f.cpu).toFixed(1)} µs main-thread CPU per commit; ` +
          `per commit p50 ${median(f.p50).toFixed(1)} µs, p99 ${median(f.p99).toFixed(1)} µs; over 1 ms: ${median(f.slow)} commits, ${median(f.slowMs).toFixed(1)} ms in all  (wall: ${f.wall.map((x) => x.toFixed(1)).join(' ')})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
