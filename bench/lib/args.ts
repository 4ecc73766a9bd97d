/** Command-line options of `bench/run.ts`. */
export interface BenchArgs {
  readonly broker: string;
  readonly chains: number;
  readonly steps: number;
  readonly warmup: number;
  readonly prefetch: number;
  /** Skip the broker's raw baseline even when its module has one. */
  readonly noBaseline: boolean;
  /** Write a .cpuprofile of the measured run (not the warm-up) to this file. */
  readonly profile: string | undefined;
  /** The store: `sqlite` (a fresh file) or `postgres` (a fresh schema at `TASKCHART_PG_URL`). */
  readonly store: 'sqlite' | 'postgres';
  /**
   * Scale-out mode: worker PROCESSES (one runtime each) for each count in turn, a producer
   * (a client in this process) starting the chains. Unset: one runtime in this process.
   */
  readonly workers: readonly number[] | undefined;
}

const USAGE =
  'usage: bench/run.ts [--broker memory|amqp|sqs] [--store sqlite|postgres] [--workers 1,2,4] [--chains 2000] [--steps 4] [--warmup 200] [--prefetch 64] [--no-baseline] [--profile out.cpuprofile]';

function positiveInt(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${String(raw)}\n${USAGE}`);
  return n;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const values = new Map<string, string>();
  let noBaseline = false;
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
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const eq = arg.indexOf('=');
    const [name, value] = eq > 0 ? [arg.slice(2, eq), arg.slice(eq + 1)] : [arg.slice(2), argv[++i]];
    if (!['broker', 'store', 'workers', 'chains', 'steps', 'warmup', 'prefetch', 'profile'].includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`);
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
  return {
    broker,
    store,
    workers,
    chains: positiveInt('chains', values.get('chains') ?? '2000', 1),
    steps: positiveInt('steps', values.get('steps') ?? '4', 1),
    warmup: positiveInt('warmup', values.get('warmup') ?? '200', 0),
    prefetch: positiveInt('prefetch', values.get('prefetch') ?? '64', 1),
    noBaseline,
    profile: values.get('profile'),
  };
}
