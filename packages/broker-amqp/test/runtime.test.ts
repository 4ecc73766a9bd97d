import { runtimeContract } from '@taskchart/core/testing';
import { cleanupPrefix, trackedBroker } from './helpers.js';

// The core's runtime scenarios (completion, retries with backoff, compensation, restart with
// pending timers, duplicates, poison messages) on the real RabbitMQ.
runtimeContract({
  name: 'amqp',
  connect: (prefix) => trackedBroker(prefix),
  cleanup: cleanupPrefix,
});
