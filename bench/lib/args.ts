/** Which throughput workloads the default mode runs, in this order. */
export type WorkloadChoice = 'noop' | 'flaky' | 'both';

/** Command-line options of `bench/run.ts`. */
export interface BenchArgs {
  readonly broker: string;
  readonly chains: number;
  readonly steps: number;
  readonly warmup: number;
  readonly prefetch: number;
  /** Skip the broker's raw baseline even when its module has one. */
  readonly noBaseline: boolean;
  /**
   * Throughput mode: warm up on a runtime of its own and measure a fresh one (the method of the
   * tables before 2026-11-29's fifth sitting). Default: the warm-up runs on the measured runtime.
   */
  readonly freshRuntime: boolean;
  /** Write a profile of the measured run (not the warm-up) to this file: CPU, or allocations for a `.heapprofile` (see `lib/profiler.ts`). */
  readonly profile: string | undefined;
  /** The store: `sqlite` (a fresh file) or `postgres` (a fresh schema at `TASKCHART_PG_URL`). */
  readonly store: 'sqlite' | 'postgres';
  /**
   * Scale-out mode: worker PROCESSES (one runtime each) for each count in turn, a producer
   * (a client in this process) starting the chains. Unset: one runtime in this process.
   */
  readonly workers: readonly number[] | undefined;
  /** Default mode: the no-op workload, the flaky one, or both (no-op first). */
  readonly workload: WorkloadChoice;
  /** Chains of the flaky workload. */
  readonly flakyChains: number;
  /** Latency mode: one chain at a time, `runs` of them after `warmup`. */
  readonly latency: boolean;
  readonly runs: number;
  /** Soak mode: the no-op workload in rounds of `chains` on one runtime until this many steps. */
  readonly soak: number | undefined;
}

const USAGE =
  'usage: bench/run.ts [--broker memory|amqp|sqs] [--store sqlite|postgres] [--workload noop|flaky|both] [--chains 2000] [--flaky-chains 500] [--steps 4] [--warmup 2000] [--fresh-runtime] [--prefetch 64] [--no-baseline] [--profile out.cpuprofile|out.heapprofile]\n' +
  '       bench/run.ts --workers 1,2,4 [...]      (scale-out: worker processes)\n' +
  '       bench/run.ts --latency [--runs 300] [--warmup 1000] [...] (idle latency: one chain at a time)\n' +
  '       bench/run.ts --soak 1000000 [...]       (RSS over rounds of --chains on one runtime; run node with --expose-gc)';

function positiveInt(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${String(raw)}\n${USAGE}`);
  return n;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const values = new Map<string, string>();
  let noBaseline = false;
  let latency = false;
  let freshRuntime = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (arg === '--no-baseline') {
      noBaseline = true;
      continue;
    }
    if (arg === '--fresh-runtime') {
      freshRuntime = true;
      continue;
    }
    if (arg === '--latency') {
      latency = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const eq = arg.indexOf('=');
    const [name, value] = eq > 0 ? [arg.slice(2, eq), arg.slice(eq + 1)] : [arg.slice(2), argv[++i]];
    if (!['broker', 'store', 'workers', 'workload', 'chains', 'flaky-chains', 'steps', 'warmup', 'prefetch', 'profile', 'runs', 'soak'].includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`);
    if (value === undefined) throw new Error(`--${name} needs a value\n${USAGE}`);
    values.set(name, value);
  }
  const broker = values.get('broker') ?? process.env.TASKCHART_BROKER ?? 'memory';
  if (!/^[a-z0-9-]+$/.test(broker)) throw new Error(`--broker must be a broker module name (memory, amqp, sqs), got "${broker}"`);
  const store = values.get('store') ?? process.env.TASKCHART_STORE ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got "${store}"\n${USAGE}`);
  const workersArg = values.get('workers');
  const workers = workersArg === undefined ? undefined : workersArg.split(',').map((w) => positiveInt('workers', w.trim(), 1));
  if (workers && broker === 'memory') throw new Error(`--workers runs worker processes: it needs a broker they share (amqp, sqs), not memory\n${USAGE}`);
  if (workers && values.has('profile')) throw new Error(`--profile profiles this process: it does not go with --workers\n${USAGE}`);
  const workload = values.get('workload') ?? 'both';
  if (workload !== 'noop' && workload !== 'flaky' && workload !== 'both') throw new Error(`--workload must be noop, flaky or both, got "${workload}"\n${USAGE}`);
  const soakArg = values.get('soak');
  const soak = soakArg === undefined ? undefined : positiveInt('soak', soakArg, 1);
  const modes = [...(workers ? ['--workers'] : []), ...(latency ? ['--latency'] : []), ...(soak === undefined ? [] : ['--soak'])];
  if (modes.length > 1) throw new Error(`${modes.join(' and ')} are separate modes: choose one\n${USAGE}`);
  if ((latency || soak !== undefined || workers) && values.has('workload')) throw new Error(`--workload chooses the throughput workloads: it does not go with ${String(modes[0])}\n${USAGE}`);
  if (soak !== undefined && values.has('profile')) throw new Error(`--profile does not go with --soak (a profile of a million steps is too large to be useful)\n${USAGE}`);
  if (freshRuntime && (latency || soak !== undefined || workers)) throw new Error(`--fresh-runtime is a throughput-mode option: it does not go with ${String(modes[0])}\n${USAGE}`);
  if (values.has('runs') && !latency) throw new Error(`--runs is the number of runs of --latency\n${USAGE}`);
  return {
    broker,
    store,
    workers,
    chains: positiveInt('chains', values.get('chains') ?? '2000', 1),
    steps: positiveInt('steps', values.get('steps') ?? '4', 1),
    // Throughput warms up with a round as large as the measured one, on the measured runtime: after
    // 200 chains V8 was still compiling the hot path (0.7-1.3 s of TurboFan on the helper threads
    // during the measured second). Latency warms up 1,000 runs: 200 end inside a fresh process's
    // first old-space collections (a 13 ms mark-compact landed among the measured runs). The
    // soak and scale-out keep 200. A running service is past all of these.
    warmup: positiveInt('warmup', values.get('warmup') ?? (latency ? '1000' : soak !== undefined || workers ? '200' : (values.get('chains') ?? '2000')), 0),
    prefetch: positiveInt('prefetch', values.get('prefetch') ?? '64', 1),
    noBaseline,
    freshRuntime,
    profile: values.get('profile'),
    workload,
    flakyChains: positiveInt('flaky-chains', values.get('flaky-chains') ?? '500', 1),
    latency,
    runs: positiveInt('runs', values.get('runs') ?? '300', 1),
    soak,
  };
}
