/**
 * Removes queues and exchanges from RabbitMQ: what tests and benchmarks use to clean up after
 * themselves (`broker.declared()` lists what one broker handle declared).
 */
import { connect } from 'amqplib';
import type { TopologyNames } from './topology.js';

/** Deletes `names.queues` (with any messages in them) and `names.exchanges`; missing ones are skipped. */
export async function deleteTopology(url: string, names: TopologyNames): Promise<void> {
  const model = await connect(url);
  try {
    const channel = await model.createChannel();
    for (const queue of new Set(names.queues)) await channel.deleteQueue(queue);
    for (const exchange of new Set(names.exchanges)) await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await model.close().catch(() => undefined);
  }
}
