/**
 * One worker process of `bench/run.ts --workers …` (started by bench/lib/scale-out.ts): a runtime
 * on the broker module `TCB_BROKER` (queue prefix `TCB_PREFIX`) and the store `storeFromEnv`
 * opens, consuming the no-op chain of `TCB_STEPS` steps with prefetch `TCB_PREFETCH`. Prints
 * `ready` once it consumes, `STATS {...}` (what its runtime asked of the store so far) on SIGUSR2;
 * closes (draining in-flight work) on SIGTERM.
 */
import { loadBrokerModule } from './lib/broker-module.js';
import { CountingStore } from './lib/counting-store.js';
import { storeFromEnv } from './lib/stores.js';
import { createRuntime, type Logger } from './lib/taskchart.js';
import { noopChain } from './lib/workload.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`bench/scale-worker.ts needs ${name}`);
  return value;
};
let errors = 0;
const logger: Logger = {
  warn: () => undefined,
  error: (message, details) => {
    if (++errors <= 5) console.error(`[taskchart worker ${process.pid}] ${message}`, details ?? '');
  },
};

const mod = await loadBrokerModule(env('TCB_BROKER'));
const store = new CountingStore(storeFromEnv());
const runtime = createRuntime({
  broker: await mod.create(env('TCB_PREFIX')),
  store,
  chains: [noopChain(Number(env('TCB_STEPS')))],
  prefetch: Number(env('TCB_PREFETCH')),
  logger,
});
await runtime.start();
process.stdout.write('ready\n');
// The parent asks for the store counters before and after the measured phase.
process.on('SIGUSR2', () => process.stdout.write(`STATS ${JSON.stringify(store.stats())}\n`));
process.on('SIGTERM', () => {
  runtime.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
