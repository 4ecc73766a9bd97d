/**
 * The SQS endpoint the tests talk to: `SQS_ENDPOINT` when set (moto, LocalStack, real AWS with
 * `AWS_REGION` and credentials from the environment), otherwise a local fauxqs server this file
 * starts on 127.0.0.1 and a free port. Call `stop()` in `afterAll`.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { startLocalSqsServer, type LocalSqsServer } from '../../../scripts/sqs-server.js';
import { deleteQueuesWithPrefix, type SqsBrokerOptions } from '../src/index.js';

export interface TestEndpoint {
  readonly endpoint: string;
  /** The local server, when the tests started one (undefined with `SQS_ENDPOINT`). */
  readonly server: LocalSqsServer | undefined;
  /** Connection options for `sqsBroker`. */
  readonly connection: Pick<SqsBrokerOptions, 'endpoint' | 'region' | 'credentials'>;
  /** A client for test set-up and cleanup. */
  readonly client: SQSClient;
  cleanup(prefix: string): Promise<void>;
  stop(): Promise<void>;
}

export async function openTestEndpoint(): Promise<TestEndpoint> {
  const external = process.env['SQS_ENDPOINT'];
  const server = external ? undefined : await startLocalSqsServer();
  const endpoint = external ?? (server as LocalSqsServer).endpoint;
  const region = process.env['AWS_REGION'] ?? 'us-east-1';
  // Local servers take any credentials; an external endpoint uses the SDK's default chain.
  const credentials = external ? undefined : { accessKeyId: 'test', secretAccessKey: 'test' };
  const connection = { endpoint, region, ...(credentials ? { credentials } : {}) };
  const client = new SQSClient(connection);
  return {
    endpoint,
    server,
    connection,
    client,
    async cleanup(prefix) {
      await deleteQueuesWithPrefix({ client }, prefix);
    },
    async stop() {
      client.destroy();
      await server?.stop();
    },
  };
}
