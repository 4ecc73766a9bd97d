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

/**
 * A publish that only moves a delivery (a delay-ladder hop, a delayed `nack`, a `deadLetter`) was
 * not sent, or not sent again, because the channel holding that delivery closed before the
 * delivery was acked. RabbitMQ hands the unacked original back to its queue and delivers it
 * again: that redelivery is the copy that carries on, so sending this one would only add a
 * duplicate. Internal: the adapter settles such a delivery quietly, as an ack on a closed channel.
 */
export class DeliveryReleased extends Error {
  override readonly name = 'DeliveryReleased';
  constructor(routingKey: string) {
    super(`the delivery this publish to "${routingKey}" moves was handed back to RabbitMQ with its channel: not sent`);
  }
}
