/**
 * The store's write path alone: records what a real runtime asks of the store (memory broker,
 * `chains` x `steps` no-op steps: every `commit` batch and every `deleteOutbox`, in order), then
 * replays those calls into fresh SQLite files (WAL, synchronous NORMAL) and times them. No XState,
 * no broker: only the store's own cost per step.
 *
 *   node --conditions=source --import tsx packages/store-sqlite/bench/commit-replay.ts [--chains 2000] [--steps 4] [--rounds 7]
 *     [--compare /path/to/other/packages/store-sqlite/src/index.ts] [--pragma 'wal_autocheckpoint = 4000' ...]
 *
 * With `--compare`, the other checkout's store is replayed too, alternating round by round in this
 * process (the fairest comparison on a shared, noisy machine); medians of each are printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chain, createRuntime, task, type Store } from '@taskchart/core';
import type { Claimant, RunWrite } from '@taskchart/core/adapter';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '../src/index.js';

type Op = { readonly kind: 'commit'; readonly writes: readonly RunWrite[]; readonly claimant: Claimant } | { readonly kind: 'delete'; readonly ids: readonly number[] };
type OpenStore = (path: string) => Store;

const { values } = parseArgs({
  options: {
    chains: { type: 'string', default: '2000' },
    steps: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '7' },
    compare: { type: 'string' },
    pragma: { type: 'string', multiple: true },
  },
});
const CHAINS = Number(values.chains);
const STEPS = Number(values.steps);
const ROUNDS = Number(values.rounds);

/** Nanoseconds the main thread has run on a CPU (Linux schedstat: finer than the 10 ms ticks of /proc stat). */
const mainThreadCpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Runs the workload once on a real runtime and returns the store calls it made. */
async function record(dir: string): Promise<Op[]> {
  const ops: Op[] = [];
  const inner = sqliteStore(join(dir, 'record.db'));
  // Every call passes through; commits and deletes are also noted (copied: the replay must not
  // share objects with the runtime).
  const recording = new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'commit') {
        return (writes: readonly RunWrite[], claimant: Claimant) => {
          ops.push({ kind: 'commit', writes: structuredClone(writes), claimant: { ...claimant } });
          // The runtime retries a failed commit forever: a store that throws would hang the recording.
          return target.commit(writes, claimant).catch((error: unknown) => {
            console.error('commit failed while recording:', error);
            process.exit(1);
          });
        };
      }
      if (key === 'deleteOutbox') {
        return (ids: readonly number[]) => {
          ops.push({ kind: 'delete', ids: [...ids] });
          return target.deleteOutbox(ids);
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const tasks = Array.from({ length: STEPS }, (_, k) => task(`noop${k + 1}`, (x: { i: number }) => x));
  const [first, ...rest] = tasks;
  if (!first) throw new Error('--steps must be at least 1');
  const bench = chain(`bench${STEPS}`, first, ...rest);
  const runtime = createRuntime({ broker: memoryBroker(), store: recording, chains: [bench], prefetch: 64 });
  await runtime.start();
  await Promise.all(
    Array.from({ length: CHAINS }, async (_, i) => {
      const run = await runtime.run(bench, { i });
      await run.result();
    }),
  );
  await runtime.close();
  return ops;
}

/** Replays `ops` into a fresh file; µs of wall and of main-thread CPU per step. */
async function replay(open: OpenStore, ops: readonly Op[], dir: string, round: number, label: string): Promise<{ wall: number; cpu: number }> {
  const path = join(dir, `${label}-${round}.db`);
  const store = open(path);
  try {
    const cpu0 = mainThreadCpuNs();
    const t0 = performance.now();
    for (const op of ops) {
      if (op.kind === 'commit') {
        const results = await store.commit(op.writes, op.claimant);
        if (results.some((r) => !r.ok)) throw new Error(`${label}: a replayed write was refused`);
      } else {
        await store.deleteOutbox(op.ids);
      }
    }
    const wall = performance.now() - t0;
    const cpu = mainThreadCpuNs() - cpu0;
    const steps = CHAINS * STEPS;
    return { wall: (wall * 1000) / steps, cpu: cpu / 1000 / steps };
  } finally {
    await store.close();
    rmSync(path, { force: true });
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tc-commit-replay-'));
  try {
    const ops = await record(dir);
    const commits = ops.filter((o) => o.kind === 'commit');
    const writes = commits.reduce((n, o) => n + o.writes.length, 0);
    console.log(`recorded ${CHAINS} chains x ${STEPS} steps: ${commits.length} commits (${writes} run writes), ${ops.length - commits.length} outbox deletes`);
    // `--pragma 'x = y'` (repeatable): set on this checkout's store after it opens, to try a setting.
    const pragmas = values.pragma ?? [];
    const stores: Array<[string, OpenStore]> = [
      [
        'this',
        (path) => {
          const store = sqliteStore(path);
          for (const p of pragmas) store.db.pragma(p);
          return store;
        },
      ],
    ];
    if (values.compare !== undefined) {
      const other = (await import(pathToFileURL(resolve(values.compare)).href)) as { sqliteStore: OpenStore };
      stores.push(['compare', (path) => other.sqliteStore(path)]);
    }
    const figures = new Map(stores.map(([label]) => [label, { wall: [] as number[], cpu: [] as number[] }]));
    // One untimed round each first: JIT and page cache.
    for (const [label, open] of stores) await replay(open, ops, dir, -1, label);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, open] of round % 2 === 0 ? stores : [...stores].reverse()) {
        const r = await replay(open, ops, dir, round, label);
        const f = figures.get(label);
        f?.wall.push(r.wall);
        f?.cpu.push(r.cpu);
      }
    }
    const ours = figures.get('this');
    const theirs = figures.get('compare');
    if (ours && theirs) {
      // Round by round (each pair ran back to back): steadier than a ratio of medians when other work comes and goes.
      const ratios = ours.cpu.map((c, i) => c / (theirs.cpu[i] ?? NaN));
      console.log(`this / compare, main-thread CPU per step, median of the ${ROUNDS} paired rounds: ${median(ratios).toFixed(3)}`);
    }
    for (const [label, f] of figures) {
      console.log(`${label.padEnd(8)} median of ${ROUNDS}: ${median(f.wall).toFixed(1)} µs wall, ${median(f.cpu).toFixed(1)} µs main-thread CPU per step  (CPU: ${f.cpu.map((x) => x.toFixed(1)).join(' ')})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
