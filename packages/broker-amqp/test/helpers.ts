/**
 * Shared by the RabbitMQ test files: the server URL, brokers tracked by prefix so that cleanup
 * deletes exactly what they declared, and the server's own view of queues and connections
 * (through `rabbitmqctl`) to force-close connections and check for leaks.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { amqpBroker, deleteTopology, type AmqpBroker, type AmqpBrokerOptions } from '../src/index.js';

export const AMQP_URL = process.env.TASKCHART_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const byPrefix = new Map<string, AmqpBroker[]>();

/** A broker on the test server, remembered under its prefix for {@link cleanupPrefix}. */
export function trackedBroker(prefix: string, options: Partial<AmqpBrokerOptions> = {}): AmqpBroker {
  const broker = amqpBroker({ url: AMQP_URL, queuePrefix: prefix, ...options });
  const list = byPrefix.get(prefix) ?? [];
  list.push(broker);
  byPrefix.set(prefix, list);
  return broker;
}

/** Deletes every queue and exchange the brokers of `prefix` declared. */
export async function cleanupPrefix(prefix: string): Promise<void> {
  const brokers = byPrefix.get(prefix) ?? [];
  byPrefix.delete(prefix);
  const queues = brokers.flatMap((b) => b.declared().queues);
  const exchanges = brokers.flatMap((b) => b.declared().exchanges);
  await deleteTopology(AMQP_URL, { queues, exchanges });
}

const run = promisify(execFile);

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  return stdout;
}

/** Names of the queues on the server starting with `prefix`. */
export async function serverQueues(prefix: string): Promise<string[]> {
  const out = await rabbitmqctl('list_queues', 'name', '--no-table-headers');
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((name) => name.startsWith(prefix));
}

/** Pids of the server's connections whose client-provided name is `connectionName`. */
export async function connectionPids(connectionName: string): Promise<string[]> {
  const out = await rabbitmqctl('list_connections', 'pid', 'client_properties', '--no-table-headers');
  return out
    .split('\n')
    .filter((l) => l.includes(`{"connection_name","${connectionName}"}`))
    .map((l) => l.split('\t')[0]?.trim() ?? '')
    .filter((pid) => pid.length > 0);
}

/** Closes, on the server side, the connection of server pid `pid` (as {@link connectionPids} lists it). */
export async function closeConnection(pid: string): Promise<void> {
  await rabbitmqctl('close_connection', pid, 'taskchart fault test');
}

/** Closes, on the server side, every connection named `connectionName`; returns how many. */
export async function forceCloseConnections(connectionName: string): Promise<number> {
  const pids = await connectionPids(connectionName);
  for (const pid of pids) await closeConnection(pid);
  return pids.length;
}

/** How many ready messages the queues `queues` (full names) hold in all, through a connection of its own. */
export async function readyMessages(queues: readonly string[]): Promise<number> {
  const model = await connect(AMQP_URL);
  try {
    const channel = await model.createChannel();
    let total = 0;
    for (const queue of queues) total += (await channel.checkQueue(queue)).messageCount;
    await channel.close();
    return total;
  } finally {
    await model.close();
  }
}
