/**
 * The raw baseline's workload through the adapter (no runtime, no store): N chains x S hops on
 * one queue, prefetch 64, each hop a confirmed publish then an ack. Shows what the adapter
 * itself costs next to bare amqplib (bench/baselines/amqp-raw.ts).
 *
 *   node --conditions=source --import tsx packages/broker-amqp/bench/adapter-hops.ts [chains] [steps]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { amqpBroker, deleteTopology } from '../src/index.js';

const url = process.env.TASKCHART_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const chains = Number(process.argv[2] ?? 2000);
const steps = Number(process.argv[3] ?? 4);

const broker = amqpBroker({ url, queuePrefix: `tcb-adapter-${randomUUID().slice(0, 8)}-`, prefetch: 64 });
let done = 0;
let finish: () => void = () => undefined;
const allDone = new Promise<void>((r) => (finish = r));
await broker.consume('hops', async (d) => {
  const [i, hop] = d.body.split(':').map(Number) as [number, number];
  if (hop < steps) await broker.publish('hops', `${i}:${hop + 1}`);
  await d.ack();
  if (hop >= steps && ++done === chains) finish();
});
const t0 = performance.now();
await Promise.all(Array.from({ length: chains }, (_, i) => broker.publish('hops', `${i}:1`)));
await allDone;
const sec = (performance.now() - t0) / 1000;
console.log(`adapter: ${Math.round((chains * steps) / sec)} steps/s (${chains} x ${steps})`);
await broker.close();
await deleteTopology(url, broker.declared());
