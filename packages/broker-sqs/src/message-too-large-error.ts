/**
 * A message over the size limit, refused at publish. SQS would refuse it too, but with a
 * message that names neither the run nor the task; this one names both when the body is a
 * Taskchart wire message. No claim-check offloading is built in: keep large payloads in your own
 * storage (S3, the database) and pass a reference through the chain.
 *
 * A `MessageRefusedError` (its `name` is `'MessageRefusedError'`, the stable name the runtime and
 * serialised failures see), so the runtime fails the step instead of retrying the publish.
 */
import { MessageRefusedError } from '@taskchart/core';
import { aboutBody, describeBody } from './refusal.js';

export class MessageTooLargeError extends MessageRefusedError {
  /** The run the message belongs to, when the body is a Taskchart wire message. */
  readonly runId: string | undefined;
  /** The task the message runs, when the body is a Taskchart task message. */
  readonly task: string | undefined;

  constructor(
    queue: string,
    readonly bytes: number,
    readonly limitBytes: number,
    body: string,
    /** What sets the limit, named in the message. */
    limitName = 'maxMessageBytes',
  ) {
    const described = describeBody(body);
    const about = aboutBody(described);
    super(
      'sqs',
      queue,
      `${about ? `${about}: ` : ''}the message is ${bytes} bytes (body plus attributes, as SQS counts them), over the ${limitBytes}-byte limit (${limitName}); ` +
        'keep large inputs and outputs outside the chain (S3, a database row) and pass a reference',
    );
    this.runId = described.runId;
    this.task = described.task;
  }
}
