import { brokerContract } from '@taskchart/core/contract';
import { afterAll } from 'vitest';
import { sqsBroker } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

// Short long-polls: close() waits for the poll in flight rather than abandoning messages.
const base = { ...sqs.connection, waitTimeSeconds: 1, onError: () => undefined };

brokerContract({
  name: 'sqs (standard queues)',
  connect: (prefix) => sqsBroker({ ...base, queuePrefix: prefix }),
  cleanup: (prefix) => sqs.cleanup(prefix),
  delayMs: 1000,
});

brokerContract({
  name: 'sqs (FIFO queues)',
  connect: (prefix) => sqsBroker({ ...base, queuePrefix: prefix, fifo: true }),
  cleanup: (prefix) => sqs.cleanup(prefix),
  delayMs: 1000,
});
