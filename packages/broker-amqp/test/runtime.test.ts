import { runtimeContract } from '@taskchart/core/contract';
import { sqliteStore } from '@taskchart/store-sqlite';
import { cleanupPrefix, trackedBroker } from './helpers.js';

// The core's runtime scenarios (completion, retries with backoff, compensation, restart with
// pending timers, duplicates, poison messages) on the real RabbitMQ.
runtimeContract({
  name: 'amqp',
  connect: (prefix) => trackedBroker(prefix),
  store: (file) => sqliteStore(file),
  cleanup: cleanupPrefix,
});
