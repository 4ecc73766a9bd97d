/**
 * SQS for `bench/run.ts` (`--broker sqs`): the adapter on `SQS_ENDPOINT` when set (with the
 * SDK's default region and credentials), otherwise on a local fauxqs server started here on
 * 127.0.0.1 and a free port and stopped by `shutdown`. `cleanup` deletes the phase's queues.
 */
import { deleteQueuesWithPrefix, sqsBroker, type SqsBroker, type SqsBrokerOptions } from '../../packages/broker-sqs/src/index.js';
import { startLocalSqsServer, type LocalSqsServer } from '../../scripts/sqs-server.js';
import type { Broker } from '../lib/taskchart.js';

let server: LocalSqsServer | undefined;
let connection: Promise<Pick<SqsBrokerOptions, 'endpoint' | 'region' | 'credentials'>> | undefined;
const brokers = new Map<string, SqsBroker>();

function connect(): Promise<Pick<SqsBrokerOptions, 'endpoint' | 'region' | 'credentials'>> {
  connection ??= (async () => {
    const external = process.env.SQS_ENDPOINT;
    if (external) return { endpoint: external, ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}) };
    server = await startLocalSqsServer();
    return { endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };
  })();
  return connection;
}

export async function create(prefix: string): Promise<Broker> {
  // Short long-polls: under load a receive returns at once anyway; this bounds close() at the end.
  const broker = sqsBroker({ ...(await connect()), queuePrefix: prefix, waitTimeSeconds: 2 });
  brokers.set(prefix, broker);
  return broker;
}

export async function cleanup(prefix: string): Promise<void> {
  const broker = brokers.get(prefix);
  brokers.delete(prefix);
  await broker?.close();
  await deleteQueuesWithPrefix(await connect(), prefix);
}

export async function shutdown(): Promise<void> {
  for (const prefix of [...brokers.keys()]) await cleanup(prefix);
  await server?.stop();
  server = undefined;
  connection = undefined;
}
