import { TaskchartError } from '@taskchart/core';

/**
 * RabbitMQ could not take a message (or a consumer) in time: the connection stayed down past
 * `publishTimeoutMs`, the broker refused the message (publisher nack), or the broker was closed.
 * A publish that rejects with this may still have reached the broker; retrying it is safe for
 * the runtime, whose transitions are idempotent.
 */
export class AmqpUnavailableError extends TaskchartError {
  override readonly name = 'AmqpUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
