/**
 * Operational helpers outside the Broker port: removing every queue under a prefix (test and
 * staging teardown). Needs `sqs:ListQueues` and `sqs:DeleteQueue`.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SqsBrokerOptions } from './options.js';
import { isQueueDoesNotExist, sdkSqsApi } from './sqs-api.js';

/** Where the queues live: a ready client, or what to build one from (then destroyed after use). */
export type SqsConnection = Pick<SqsBrokerOptions, 'client' | 'endpoint' | 'region' | 'credentials'>;

/**
 * Deletes every queue whose name starts with `queuePrefix` (which must be non-empty) and
 * resolves with the deleted URLs. Queues that vanish meanwhile are skipped.
 */
export async function deleteQueuesWithPrefix(connection: SqsConnection, queuePrefix: string): Promise<string[]> {
  if (typeof queuePrefix !== 'string' || queuePrefix.length === 0) throw new Error('deleteQueuesWithPrefix: queuePrefix must be a non-empty string (refusing to delete every queue)');
  const { client: given, endpoint, region, credentials } = connection;
  const client = given ?? new SQSClient({ ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) });
  const api = sdkSqsApi(client, given === undefined);
  try {
    const urls = await api.listQueues(queuePrefix);
    // ListQueues matches by prefix already; check again in case a server is lax about it.
    const mine = urls.filter((url) => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1)).startsWith(queuePrefix));
    await Promise.all(
      mine.map((url) =>
        api.deleteQueue(url).catch((error: unknown) => {
          if (!isQueueDoesNotExist(error)) throw error;
        }),
      ),
    );
    return mine;
  } finally {
    api.destroy();
  }
}
