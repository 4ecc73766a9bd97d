/**
 * RabbitMQ for `bench/run.ts` (`--broker amqp`): the adapter on the server at
 * `TASKCHART_AMQP_URL` (default the local guest account), cleanup of every queue and exchange a
 * phase declared (worker processes' included), and the raw amqplib baseline measured in the same run.
 */
import { amqpBroker, deleteTopology, type AmqpBroker } from '../../packages/broker-amqp/src/index.js';
import { amqpRawBaseline } from '../baselines/amqp-raw.js';
import type { BaselineResult } from '../lib/broker-module.js';
import type { Broker } from '../lib/taskchart.js';

const url = process.env.TASKCHART_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const brokers = new Map<string, AmqpBroker>();

export async function create(prefix: string): Promise<Broker> {
  const broker = amqpBroker({ url, queuePrefix: prefix, prefetch: 64, connectionName: `taskchart-bench ${prefix}` });
  brokers.set(prefix, broker);
  return broker;
}

export async function cleanup(prefix: string): Promise<void> {
  const broker = brokers.get(prefix);
  if (!broker) return;
  brokers.delete(prefix);
  await broker.close();
  // With --workers, the worker processes declared the queues they consume (and their dead-letter queues).
  const declared = broker.declared();
  await deleteTopology(url, { queues: [...declared.queues, `${prefix}taskchart`, `${prefix}taskchart.dead`], exchanges: declared.exchanges });
}

export async function shutdown(): Promise<void> {
  for (const prefix of [...brokers.keys()]) await cleanup(prefix);
}

/** The raw baseline, after a warm-up round of its own (as the runtime gets one). */
export async function baseline(opts: { chains: number; steps: number; warmup: number }): Promise<BaselineResult> {
  if (opts.warmup > 0) await amqpRawBaseline({ url, chains: opts.warmup, steps: opts.steps, prefetch: 64 });
  return amqpRawBaseline({ url, chains: opts.chains, steps: opts.steps, prefetch: 64 });
}
