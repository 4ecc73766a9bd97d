/**
 * The raw amqplib baseline: the benchmark's workload without Taskchart. Each chain is `steps`
 * hops; a hop is a persistent message published with a publisher confirm to a durable queue,
 * consumed (prefetch 64, Nagle off) and acked once the next hop's publish is confirmed — the
 * same durability a Taskchart step gets from the broker, minus the store and the runtime. Like
 * the runtime (every task on its default queue, one consumer per queue), all hops share one
 * queue and one consumer, so both run with the same in-flight bound.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type * as Amqp from 'amqplib';
import type { BaselineResult } from '../lib/broker-module.js';
import { summarise } from '../lib/stats.js';

// `bench/` is not a workspace package: load amqplib from the package that depends on it.
const requireFromAdapter = createRequire(new URL('../../packages/broker-amqp/package.json', import.meta.url));
const amqp = requireFromAdapter('amqplib') as typeof Amqp;

export interface RawBaselineOptions {
  readonly url: string;
  readonly chains: number;
  readonly steps: number;
  /** @defaultValue 64 */
  readonly prefetch?: number;
}

export async function amqpRawBaseline(options: RawBaselineOptions): Promise<BaselineResult> {
  const { url, chains, steps } = options;
  const prefetch = options.prefetch ?? 64;
  const model = await amqp.connect(url, { noDelay: true, clientProperties: { connection_name: 'taskchart-bench-raw' } });
  const queue = `tcb-raw-${randomUUID().slice(0, 8)}`;
  try {
    const publisher = await model.createConfirmChannel();
    await publisher.assertQueue(queue, { durable: true });
    /** A hop message: the chain's index and the hop number (1-based). */
    const publish = (i: number, hop: number) =>
      new Promise<void>((resolve, reject) => {
        const body = Buffer.alloc(8);
        body.writeUInt32BE(i, 0);
        body.writeUInt32BE(hop, 4);
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a confirm error that is not an Error has no better text than String()
        publisher.publish('', queue, body, { persistent: true }, (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
      });

    const startedAt = new Array<number>(chains).fill(0);
    const latencies: number[] = [];
    let failure: Error | undefined;
    let finish: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => (finish = resolve));
    const fail = (error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
      finish();
    };

    const channel = await model.createChannel();
    await channel.prefetch(prefetch);
    await channel.consume(queue, (message) => {
      if (!message) return fail(new Error('consumer cancelled by the server'));
      const i = message.content.readUInt32BE(0);
      const hop = message.content.readUInt32BE(4);
      if (hop < steps) {
        publish(i, hop + 1).then(() => channel.ack(message), fail);
        return;
      }
      channel.ack(message);
      latencies.push(performance.now() - (startedAt[i] ?? 0));
      if (latencies.length === chains) finish();
    });

    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: chains }, (_, i) => {
        startedAt[i] = performance.now();
        return publish(i, 1);
      }),
    );
    await allDone;
    if (failure) throw failure;
    const wallSec = (performance.now() - t0) / 1000;
    const { p50Ms, p99Ms } = summarise(latencies);
    return { stepsPerSec: (chains * steps) / wallSec, chainsPerSec: chains / wallSec, p50Ms, p99Ms };
  } finally {
    const channel = await model.createChannel().catch(() => undefined);
    if (channel) await channel.deleteQueue(queue).catch(() => undefined);
    await model.close().catch(() => undefined);
  }
}
