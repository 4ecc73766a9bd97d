/**
 * Scale-out mode of `bench/run.ts` (`--workers 1,2,4`): for each worker count, a fresh queue prefix
 * and a fresh store (schema or file), that many worker PROCESSES (bench/scale-worker.ts, one
 * runtime each), and a producer in this process (a client: starts runs, consumes nothing). The
 * producer runs a warm-up (not counted), then starts every chain at once and waits for every
 * result; the wall time is first start to last result. CPU is sampled from /proc around the
 * measured phase: the workers', this process's, the servers' (Postgres, RabbitMQ) and the machine's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BrokerModule } from './broker-module.js';
import { cpuDelta, cpuOfCommands, cpuOfPid, machineTicks } from './proc-cpu.js';
import { summarise, type LatencySummary } from './stats.js';
import { benchStore, type StoreKind } from './stores.js';
import { createClient, type Client, type Logger } from './taskchart.js';
import { noopChain } from './workload.js';

const WORKER = fileURLToPath(new URL('../scale-worker.ts', import.meta.url));
/** Server processes whose CPU is reported (Postgres backends, RabbitMQ's Erlang VM). */
const SERVERS = ['postgres', 'beam.smp'];

export interface ScaleOutOptions {
  readonly broker: string;
  readonly mod: BrokerModule;
  readonly store: StoreKind;
  readonly workers: readonly number[];
  readonly chains: number;
  readonly steps: number;
  readonly warmup: number;
  readonly prefetch: number;
}

export interface ScalePoint extends LatencySummary {
  readonly workers: number;
  /** Time until every run was durably started by the producer. */
  readonly startMs: number;
  /** First start to last result. */
  readonly wallMs: number;
  readonly stepsPerSec: number;
  readonly failedRuns: number;
  /** CPU ms of all worker processes together during the measured phase (Linux). */
  readonly workerCpuMs: number | undefined;
  /** CPU ms of the producer (this process). */
  readonly producerCpuMs: number;
  /** CPU ms per server command (`postgres`, `beam.smp`) during the phase (Linux). */
  readonly serverCpuMs: Readonly<Record<string, number>>;
  /** Cores busy on average during the phase, all processes of the machine (Linux). */
  readonly machineBusyCores: number | undefined;
  /** What the workers asked of the store during the phase. */
  readonly storeCalls: WorkerStoreCalls;
}

interface Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Everything it printed so far. */
  output(): string;
}

/** What the workers' runtimes asked of the store, summed over the workers (see bench/scale-worker.ts). */
export interface WorkerStoreCalls {
  readonly commitCalls: number;
  readonly writes: number;
  readonly loads: number;
  readonly conflicts: number;
  readonly deleteOutboxCalls: number;
}
const CALL_KEYS = ['commitCalls', 'writes', 'loads', 'conflicts', 'deleteOutboxCalls'] as const;

/** Asks every worker for its store counters (SIGUSR2) and sums them. */
async function storeCalls(workers: readonly Worker[]): Promise<WorkerStoreCalls> {
  const sum: Record<(typeof CALL_KEYS)[number], number> = { commitCalls: 0, writes: 0, loads: 0, conflicts: 0, deleteOutboxCalls: 0 };
  await Promise.all(
    workers.map(async (w) => {
      const before = w.output().split('STATS ').length;
      w.child.kill('SIGUSR2');
      const deadline = Date.now() + 30_000;
      while (w.output().split('STATS ').length === before) {
        if (Date.now() > deadline) throw new Error(`worker ${String(w.child.pid)} did not report its store counters`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const last = w.output().split('STATS ').at(-1)?.split('\n')[0] ?? '{}';
      const stats = JSON.parse(last) as Partial<Record<(typeof CALL_KEYS)[number], number>>;
      for (const k of CALL_KEYS) sum[k] += stats[k] ?? 0;
    }),
  );
  return sum;
}

const diffCalls = (a: WorkerStoreCalls, b: WorkerStoreCalls): WorkerStoreCalls =>
  Object.fromEntries(CALL_KEYS.map((k) => [k, b[k] - a[k]])) as unknown as WorkerStoreCalls;

function startWorker(env: Record<string, string>): Promise<Worker> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', WORKER], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<Worker>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve({ child, exited, output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`a benchmark worker exited (code ${String(code)}) before it was ready`)));
  });
}

async function stopWorkers(workers: readonly Worker[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
  const timeout = setTimeout(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')), 30_000);
  await Promise.all(workers.map((w) => w.exited));
  clearTimeout(timeout);
}

/**
 * The end of every run of the chain, as one feed of the store's event log sees it (one reader,
 * like a dashboard; `result()` per run would poll the log once per pending run).
 */
class Completions {
  private readonly ended = new Map<string, { at: number; failed: boolean }>();
  private readonly waiting = new Map<string, (end: { at: number; failed: boolean }) => void>();
  readonly following: Promise<void>;

  constructor(client: Client, chain: string) {
    this.following = (async () => {
      for await (const event of client.events({ chain })) {
        if (event.type !== 'run.completed' && event.type !== 'run.failed' && event.type !== 'run.compensated' && event.type !== 'run.parked') continue;
        const end = { at: performance.now(), failed: event.type !== 'run.completed' };
        const waiter = this.waiting.get(event.runId);
        if (waiter) {
          this.waiting.delete(event.runId);
          waiter(end);
        } else {
          this.ended.set(event.runId, end);
        }
      }
    })();
    this.following.catch((error: unknown) => console.error('following the event log failed:', error));
  }

  /** When run `id` ended (now or later), as this process saw it. */
  end(id: string): Promise<{ at: number; failed: boolean }> {
    const end = this.ended.get(id);
    if (end) {
      this.ended.delete(id);
      return Promise.resolve(end);
    }
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }
}

/** Starts `count` runs at once, waits for each one's end; latencies and failures. */
async function burst(client: Client, completions: Completions, chain: ReturnType<typeof noopChain>, count: number): Promise<{ startMs: number; wallMs: number; latencies: number[]; failed: number }> {
  const latencies = new Array<number>(count);
  let failed = 0;
  let started = 0;
  let last = 0;
  const t0 = performance.now();
  let startedAt = t0;
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const begin = performance.now();
      const run = await client.run(chain, { i });
      if (++started === count) startedAt = performance.now();
      const end = await completions.end(run.id);
      if (end.failed) failed++;
      last = Math.max(last, end.at);
      latencies[i] = end.at - begin;
    }),
  );
  return { startMs: startedAt - t0, wallMs: last - t0, latencies, failed };
}

async function measurePoint(options: ScaleOutOptions, workerCount: number): Promise<ScalePoint> {
  const prefix = `tcb-${randomUUID().slice(0, 8)}-`;
  const target = benchStore(options.store);
  const chain = noopChain(options.steps);
  let warnings = 0;
  const logger: Logger = {
    warn: () => void warnings++,
    error: (message, details) => {
      if (++warnings <= 5) console.error(`[taskchart] ${message}`, details ?? '');
    },
  };
  const workers: Worker[] = [];
  let client: Client | undefined;
  try {
    // The producer first: its store handle creates (migrates) the schema before the workers open it.
    client = createClient({ broker: await options.mod.create(prefix), store: target.open(), chains: [chain], logger, resultPoll: '50ms' });
    await client.listRuns({ limit: 1 });
    const completions = new Completions(client, chain.name);
    const env = {
      ...target.env,
      ...((await options.mod.workerEnv?.()) ?? {}),
      TCB_BROKER: options.broker,
      TCB_PREFIX: prefix,
      TCB_STEPS: String(options.steps),
      TCB_PREFETCH: String(options.prefetch),
    };
    workers.push(...(await Promise.all(Array.from({ length: workerCount }, () => startWorker(env)))));
    if (options.warmup > 0) await burst(client, completions, chain, options.warmup);

    const workerCpu = () => workers.reduce<number | undefined>((sum, w) => (sum === undefined || w.child.pid === undefined ? undefined : sum + (cpuOfPid(w.child.pid) ?? Number.NaN)), 0);
    const calls0 = await storeCalls(workers);
    const worker0 = workerCpu();
    const servers0 = cpuOfCommands(SERVERS);
    const machine0 = machineTicks();
    const producer0 = process.cpuUsage();
    const b = await burst(client, completions, chain, options.chains);
    const producer = process.cpuUsage(producer0);
    const machine1 = machineTicks();
    const worker1 = workerCpu();
    const serverCpuMs = cpuDelta(servers0, cpuOfCommands(SERVERS));
    const calls = diffCalls(calls0, await storeCalls(workers));
    const cores = machine0 && machine1 ? ((machine1[0] - machine0[0]) / (machine1[1] - machine0[1])) * cpus().length : undefined;
    return {
      workers: workerCount,
      startMs: b.startMs,
      wallMs: b.wallMs,
      stepsPerSec: ((options.chains * options.steps) / b.wallMs) * 1000,
      ...summarise(b.latencies),
      failedRuns: b.failed,
      workerCpuMs: worker0 === undefined || worker1 === undefined || Number.isNaN(worker1) ? undefined : worker1 - worker0,
      producerCpuMs: (producer.user + producer.system) / 1000,
      serverCpuMs,
      machineBusyCores: cores,
      storeCalls: calls,
    };
  } finally {
    await stopWorkers(workers);
    await client?.close();
    if (options.mod.cleanup) await options.mod.cleanup(prefix).catch((e: unknown) => console.warn(`cleanup of ${prefix} failed:`, e));
    await target.dispose().catch((e: unknown) => console.warn('dropping the benchmark store failed:', e));
  }
}

/** Measures each worker count in turn (each on its own queues and store). */
export async function runScaleOut(options: ScaleOutOptions): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  for (const count of options.workers) {
    const point = await measurePoint(options, count);
    console.log(`  ${count} worker(s): ${Math.round(point.stepsPerSec)} steps/s (${Math.round(point.wallMs)} ms)`);
    points.push(point);
  }
  return points;
}
