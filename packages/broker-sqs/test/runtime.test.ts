import { runtimeContract } from '@taskchart/core/contract';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterAll } from 'vitest';
import { sqsBroker } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

runtimeContract({
  name: 'sqs',
  connect: (prefix) => sqsBroker({ ...sqs.connection, queuePrefix: prefix, waitTimeSeconds: 1, onError: () => undefined }),
  store: (file) => sqliteStore(file),
  cleanup: (prefix) => sqs.cleanup(prefix),
});

runtimeContract({
  name: 'sqs (FIFO queues, a message group per run)',
  connect: (prefix) => sqsBroker({ ...sqs.connection, queuePrefix: prefix, fifo: true, waitTimeSeconds: 1, onError: () => undefined }),
  store: (file) => sqliteStore(file),
  cleanup: (prefix) => sqs.cleanup(prefix),
});
