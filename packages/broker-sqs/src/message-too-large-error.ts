/**
 * A message over the size limit, refused at publish. SQS would refuse it too, but with a
 * message that names neither the run nor the task; this one names both when the body is a
 * Taskchart wire message. No claim-check offloading is built in: keep large payloads in your own
 * storage (S3, the database) and pass a reference through the chain.
 */
import { TaskchartError } from '@taskchart/core';

export class MessageTooLargeError extends TaskchartError {
  override readonly name = 'MessageTooLargeError';
  /** The run the message belongs to, when the body is a Taskchart wire message. */
  readonly runId: string | undefined;
  /** The task the message runs, when the body is a Taskchart task message. */
  readonly task: string | undefined;

  constructor(
    readonly queue: string,
    readonly bytes: number,
    readonly limitBytes: number,
    body: string,
  ) {
    const { runId, task } = describeBody(body);
    const about = [runId !== undefined ? `run ${runId}` : undefined, task !== undefined ? `task "${task}"` : undefined].filter(Boolean).join(', ');
    super(
      `sqs: message for queue "${queue}"${about ? ` (${about})` : ''} is ${bytes} bytes, over the ${limitBytes}-byte limit (maxMessageBytes); ` +
        'keep large inputs and outputs outside the chain (S3, a database row) and pass a reference',
    );
    this.runId = runId;
    this.task = task;
  }
}

function describeBody(body: string): { runId: string | undefined; task: string | undefined } {
  try {
    const data: unknown = JSON.parse(body);
    if (typeof data !== 'object' || data === null) return { runId: undefined, task: undefined };
    const m = data as Record<string, unknown>;
    return { runId: typeof m['runId'] === 'string' ? m['runId'] : undefined, task: typeof m['task'] === 'string' ? m['task'] : undefined };
  } catch {
    return { runId: undefined, task: undefined };
  }
}
