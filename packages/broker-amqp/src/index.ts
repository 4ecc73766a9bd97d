export { AmqpBroker, amqpBroker } from './amqp-broker.js';
export { DELAY_LEVELS_MS, delayExchangeName, delayQueueName, pickDelayLevel } from './delay-ladder.js';
export { deleteTopology } from './delete-topology.js';
export { AmqpUnavailableError } from './errors.js';
export type { AmqpBrokerOptions, AmqpReconnectOptions, ResolvedAmqpOptions } from './options.js';
export type { TopologyNames } from './topology.js';
