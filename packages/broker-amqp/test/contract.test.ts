import { brokerContract } from '@taskchart/core/contract';
import { cleanupPrefix, trackedBroker } from './helpers.js';

// Against the real RabbitMQ: every test gets a unique prefix, and cleanup deletes every queue
// and exchange its brokers declared.
brokerContract({
  name: 'amqp',
  connect: (prefix) => trackedBroker(prefix),
  cleanup: cleanupPrefix,
});
