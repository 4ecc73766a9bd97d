import type { Broker } from './taskchart.js';

/** Figures of a broker's raw baseline (the same workload without Taskchart). */
export interface BaselineResult {
  readonly stepsPerSec: number;
  readonly chainsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * What `bench/brokers/<name>.ts` exports. `create` is called once per measured phase with a
 * fresh queue prefix; `cleanup` removes that prefix's queues; `shutdown` releases whatever the
 * module keeps open; `baseline` measures the same workload on the raw client library;
 * `workerEnv` lets worker processes (`--workers`) reach the same server.
 */
export interface BrokerModule {
  create(prefix: string): Promise<Broker>;
  cleanup?(prefix: string): Promise<void>;
  shutdown?(): Promise<void>;
  baseline?(workload: { chains: number; steps: number; warmup: number }): Promise<BaselineResult>;
  /**
   * What a worker process of `--workers` needs in its environment so that its own `create(prefix)`
   * reaches the same server as this process's (e.g. the endpoint of a server started here).
   */
  workerEnv?(): Promise<Record<string, string>>;
}

function isBrokerModule(value: unknown): value is BrokerModule {
  return typeof value === 'object' && value !== null && typeof (value as { create?: unknown }).create === 'function';
}

export async function loadBrokerModule(name: string): Promise<BrokerModule> {
  const url = new URL(`../brokers/${name}.ts`, import.meta.url);
  let mod: unknown;
  try {
    mod = await import(url.href);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`brokers/${name}.ts`)) {
      throw new Error(`no benchmark module for broker "${name}" (expected bench/brokers/${name}.ts)`);
    }
    throw error;
  }
  if (!isBrokerModule(mod)) throw new Error(`bench/brokers/${name}.ts must export create(prefix): Promise<Broker>`);
  return mod;
}
