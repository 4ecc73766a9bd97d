/**
 * Queue name → queue URL, cached: predefined URLs first, then GetQueueUrl, then (when allowed)
 * CreateQueue with the adapter's attributes (dead-letter queues with SQS's largest
 * `MaximumMessageSize`) and, with `maxReceiveCount`, a RedrivePolicy to the queue's `.dead` queue. A URL that stops working (`QueueDoesNotExist`: the queue was deleted,
 * or a test server lost its state) is forgotten with `invalidate` and resolved again.
 */
import { deadLetterQueueName } from '@taskchart/core/adapter';
import type { CompiledSqsOptions } from './options.js';
import { mapQueueName, type QueueName } from './queue-names.js';
import { isQueueDoesNotExist, SQS_MAX_MESSAGE_BYTES, type SqsApi } from './sqs-api.js';

export interface ResolvedQueue {
  readonly name: QueueName;
  readonly url: string;
}

export class QueueDirectory {
  private readonly cache = new Map<string, Promise<ResolvedQueue>>();

  constructor(
    private readonly api: SqsApi,
    private readonly options: CompiledSqsOptions,
  ) {}

  /** The SQS naming of `queue`, without any call. */
  name(queue: string): QueueName {
    return mapQueueName(queue, this.options);
  }

  resolve(queue: string): Promise<ResolvedQueue> {
    let found = this.cache.get(queue);
    if (!found) {
      found = this.lookup(queue);
      this.cache.set(queue, found);
      found.catch(() => {
        if (this.cache.get(queue) === found) this.cache.delete(queue);
      });
    }
    return found;
  }

  /** Forgets the URL of `queue` (after `QueueDoesNotExist`), so the next resolve looks it up again. */
  invalidate(queue: string): void {
    this.cache.delete(queue);
  }

  private async lookup(queue: string): Promise<ResolvedQueue> {
    const name = this.name(queue);
    const predefined = this.options.queues.get(name.key);
    if (predefined !== undefined) return { name, url: predefined };
    if (this.options.queues.size > 0 && !this.options.createQueues) {
      throw new Error(`sqs: queue "${queue}" (SQS name "${name.physical}") is not among the predefined queues (${[...this.options.queues.keys()].join(', ')}); add it to \`queues\``);
    }
    try {
      return { name, url: await this.api.getQueueUrl(name.physical) };
    } catch (error) {
      if (!isQueueDoesNotExist(error)) throw error;
      if (!this.options.createQueues) throw new Error(`sqs: queue "${queue}" (SQS name "${name.physical}") does not exist and createQueues is off`, { cause: error });
    }
    return { name, url: await this.api.createQueue(name.physical, await this.attributesFor(queue, name)) };
  }

  private async attributesFor(queue: string, name: QueueName): Promise<Record<string, string>> {
    const attributes: Record<string, string> = { VisibilityTimeout: String(this.options.visibilityTimeoutSeconds) };
    if (name.fifo) attributes['FifoQueue'] = 'true';
    // A dead letter may carry a body as large as SQS allows, plus its reason: take SQS's maximum.
    if (name.dead) attributes['MaximumMessageSize'] = String(SQS_MAX_MESSAGE_BYTES);
    if (this.options.maxReceiveCount !== undefined && !name.dead) {
      const dead = await this.resolve(deadLetterQueueName(queue));
      const arn = await this.api.getQueueArn(dead.url);
      attributes['RedrivePolicy'] = JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: this.options.maxReceiveCount });
    }
    return attributes;
  }
}
