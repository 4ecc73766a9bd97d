/**
 * The demo's broker: memory by default; `TASKCHART_BROKER=amqp|sqs` (or `--broker`) loads the
 * adapter package on demand, so the demo runs without RabbitMQ or SQS installed.
 */
import type { Broker } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';

export type BrokerName = 'memory' | 'amqp' | 'sqs';
export const BROKER_NAMES: readonly BrokerName[] = ['memory', 'amqp', 'sqs'];

export function isBrokerName(value: string): value is BrokerName {
  return (BROKER_NAMES as readonly string[]).includes(value);
}

export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
}

type Factory = (options: Record<string, unknown>) => Broker;

/** Imports `pkg` and returns its `factory` export, or explains clearly why it cannot. */
async function loadFactory(pkg: string, factory: string): Promise<Factory> {
  let mod: Record<string, unknown>;
  try {
    // A variable specifier: the adapter is optional, so the type checker does not require it.
    const specifier: string = pkg;
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new BrokerUnavailableError(`the ${pkg} adapter could not be loaded (${error instanceof Error ? error.message : String(error)}); run the demo with the memory broker (unset TASKCHART_BROKER)`);
  }
  const fn = mod[factory];
  if (typeof fn !== 'function') throw new BrokerUnavailableError(`${pkg} does not export ${factory}() yet; run the demo with the memory broker (unset TASKCHART_BROKER)`);
  return fn as Factory;
}

/** A broker for one demo run. `queuePrefix` keeps demo runs apart on a shared server. */
export async function createBroker(name: BrokerName, queuePrefix: string): Promise<Broker> {
  switch (name) {
    case 'memory':
      return memoryBroker({ queuePrefix });
    case 'amqp': {
      const amqpBroker = await loadFactory('@taskchart/broker-amqp', 'amqpBroker');
      return amqpBroker({ url: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672', queuePrefix });
    }
    case 'sqs': {
      const sqsBroker = await loadFactory('@taskchart/broker-sqs', 'sqsBroker');
      const endpoint = process.env.SQS_ENDPOINT;
      const local = endpoint !== undefined && process.env.AWS_ACCESS_KEY_ID === undefined;
      return sqsBroker({
        region: process.env.AWS_REGION ?? 'us-east-1',
        ...(endpoint ? { endpoint } : {}),
        // A local SQS server (fauxqs, ElasticMQ, LocalStack) accepts any credentials.
        ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
        queuePrefix,
      });
    }
  }
}

/** Deletes what a demo run declared on a real server (nothing to do for the memory broker). */
export async function removeQueues(name: BrokerName, broker: Broker, queuePrefix: string): Promise<void> {
  if (name === 'amqp') {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- `as string` keeps the optional adapter untyped, as in loadFactory
    const mod = (await import('@taskchart/broker-amqp' as string)) as { deleteTopology(url: string, names: unknown): Promise<void> };
    const declared = (broker as unknown as { declared(): unknown }).declared();
    await mod.deleteTopology(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672', declared);
  } else if (name === 'sqs') {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- `as string` keeps the optional adapter untyped, as in loadFactory
    const mod = (await import('@taskchart/broker-sqs' as string)) as { deleteQueuesWithPrefix(connection: Record<string, unknown>, prefix: string): Promise<unknown> };
    const endpoint = process.env.SQS_ENDPOINT;
    await mod.deleteQueuesWithPrefix(
      {
        region: process.env.AWS_REGION ?? 'us-east-1',
        ...(endpoint ? { endpoint } : {}),
        ...(endpoint !== undefined && process.env.AWS_ACCESS_KEY_ID === undefined ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      },
      queuePrefix,
    );
  }
}
