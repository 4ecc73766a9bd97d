export { deleteQueuesWithPrefix, type SqsConnection } from './admin.js';
export { DEAD_HEADERS_HEADER, DEAD_TRUNCATED_HEADER } from './dead-letter.js';
export { MessageTooLargeError } from './message-too-large-error.js';
export { type CompiledSqsOptions, type SqsBrokerOptions, type SqsCredentials, type SqsCredentialsProvider, type SqsErrorContext } from './options.js';
export { mapQueueName, type QueueName } from './queue-names.js';
export { SqsBroker, sqsBroker } from './sqs-broker.js';
