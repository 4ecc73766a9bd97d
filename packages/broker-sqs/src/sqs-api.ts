/**
 * The narrow slice of SQS the adapter uses, and its implementation on `@aws-sdk/client-sqs`.
 * The rest of the adapter talks to this interface, never to the SDK's command classes.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import type { CompiledSqsOptions } from './options.js';
import { JitteredRetryStrategy } from './retry-strategy.js';

export type Attributes = Record<string, MessageAttributeValue>;

/** SQS's own ceiling on a message (body plus attributes), whatever a queue's `MaximumMessageSize` says. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

export interface OutgoingMessage {
  readonly body: string;
  readonly attributes: Attributes;
  readonly delaySeconds?: number;
  readonly groupId?: string;
  readonly deduplicationId?: string;
}

export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Attributes;
  /** ApproximateReceiveCount (1 on the first delivery). */
  readonly receiveCount: number;
  readonly groupId: string | undefined;
  /** When SQS took the message (SentTimestamp, epoch ms), if the server said. */
  readonly sentAt?: number | undefined;
}

export interface BatchOutcome {
  /** Entry index → error, for entries SQS refused. */
  readonly failed: ReadonlyMap<number, Error>;
}

export interface SqsApi {
  getQueueUrl(name: string): Promise<string>;
  createQueue(name: string, attributes: Record<string, string>): Promise<string>;
  getQueueArn(url: string): Promise<string>;
  deleteQueue(url: string): Promise<void>;
  listQueues(prefix: string): Promise<string[]>;
  send(url: string, message: OutgoingMessage): Promise<void>;
  sendBatch(url: string, messages: readonly OutgoingMessage[]): Promise<BatchOutcome>;
  receive(url: string, request: { max: number; waitSeconds: number; visibilitySeconds: number }, signal?: AbortSignal): Promise<ReceivedMessage[]>;
  deleteBatch(url: string, receiptHandles: readonly string[]): Promise<BatchOutcome>;
  changeVisibility(url: string, receiptHandle: string, seconds: number): Promise<void>;
  changeVisibilityBatch(url: string, receiptHandles: readonly string[], seconds: number): Promise<BatchOutcome>;
  /** Releases the client if this API created it. */
  destroy(): void;
}

/** The client the options describe: the given one, or a new one with the adapter's retry strategy. */
export function createClient(options: CompiledSqsOptions): { client: SQSClient; owned: boolean } {
  if (options.client) return { client: options.client, owned: false };
  const client = new SQSClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts,
    retryStrategy: new JitteredRetryStrategy({
      maxAttempts: options.maxAttempts,
      baseDelayMs: options.retryBaseDelayMs,
      maxDelayMs: options.retryMaxDelayMs,
      random: options.random,
    }),
  });
  return { client, owned: true };
}

export function outcome(failed: ReadonlyArray<{ Id?: string | undefined; Code?: string | undefined; Message?: string | undefined }> | undefined): BatchOutcome {
  const map = new Map<number, Error>();
  for (const f of failed ?? []) {
    const error = new Error(`${f.Code ?? 'Error'}: ${f.Message ?? 'batch entry failed'}`);
    error.name = f.Code ?? 'Error';
    map.set(Number(f.Id), error);
  }
  return { failed: map };
}

/** A received message as SQS describes it (the SDK's output, or the JSON protocol's with binary values decoded). */
export interface WireMessage {
  readonly MessageId?: string | undefined;
  readonly ReceiptHandle?: string | undefined;
  readonly Body?: string | undefined;
  readonly Attributes?: Partial<Record<string, string>> | undefined;
  readonly MessageAttributes?: Attributes | undefined;
}

/** The adapter's view of received messages (those without a receipt handle cannot be settled, and are skipped). */
export function received(messages: readonly WireMessage[] | undefined): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  for (const m of messages ?? []) {
    if (m.ReceiptHandle === undefined) continue;
    const sentAt = m.Attributes?.['SentTimestamp'];
    out.push({
      messageId: m.MessageId ?? m.ReceiptHandle,
      receiptHandle: m.ReceiptHandle,
      body: m.Body ?? '',
      attributes: m.MessageAttributes ?? {},
      receiveCount: Number(m.Attributes?.['ApproximateReceiveCount'] ?? '1') || 1,
      groupId: m.Attributes?.['MessageGroupId'],
      sentAt: sentAt === undefined ? undefined : Number(sentAt),
    });
  }
  return out;
}

/** What ReceiveMessage asks for besides the count, wait and visibility. */
export const RECEIVE_ATTRIBUTES = {
  MessageAttributeNames: ['All'],
  MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId', 'SentTimestamp'],
} as const;

export function sendFields(m: OutgoingMessage) {
  return {
    MessageBody: m.body,
    ...(Object.keys(m.attributes).length > 0 ? { MessageAttributes: m.attributes } : {}),
    ...(m.delaySeconds ? { DelaySeconds: m.delaySeconds } : {}),
    ...(m.groupId !== undefined ? { MessageGroupId: m.groupId } : {}),
    ...(m.deduplicationId !== undefined ? { MessageDeduplicationId: m.deduplicationId } : {}),
  };
}

export function sdkSqsApi(client: SQSClient, owned: boolean): SqsApi {
  return {
    async getQueueUrl(name) {
      const out = await client.send(new GetQueueUrlCommand({ QueueName: name }));
      if (!out.QueueUrl) throw new Error(`sqs: GetQueueUrl returned no URL for "${name}"`);
      return out.QueueUrl;
    },
    async createQueue(name, attributes) {
      const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      if (!out.QueueUrl) throw new Error(`sqs: CreateQueue returned no URL for "${name}"`);
      return out.QueueUrl;
    },
    async getQueueArn(url) {
      const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
      const arn = out.Attributes?.['QueueArn'];
      if (!arn) throw new Error(`sqs: GetQueueAttributes returned no QueueArn for ${url}`);
      return arn;
    },
    async deleteQueue(url) {
      await client.send(new DeleteQueueCommand({ QueueUrl: url }));
    },
    async listQueues(prefix) {
      const urls: string[] = [];
      let next: string | undefined;
      do {
        const out = await client.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000, ...(next ? { NextToken: next } : {}) }));
        urls.push(...(out.QueueUrls ?? []));
        next = out.NextToken;
      } while (next);
      return urls;
    },
    async send(url, message) {
      await client.send(new SendMessageCommand({ QueueUrl: url, ...sendFields(message) }));
    },
    async sendBatch(url, messages) {
      const out = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ...sendFields(m) })) }));
      return outcome(out.Failed);
    },
    async receive(url, request, signal) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: request.max,
          WaitTimeSeconds: request.waitSeconds,
          VisibilityTimeout: request.visibilitySeconds,
          MessageAttributeNames: [...RECEIVE_ATTRIBUTES.MessageAttributeNames],
          MessageSystemAttributeNames: [...RECEIVE_ATTRIBUTES.MessageSystemAttributeNames],
        }),
        signal ? { abortSignal: signal } : {},
      );
      return received(out.Messages);
    },
    async deleteBatch(url, receiptHandles) {
      const out = await client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: receiptHandles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }));
      return outcome(out.Failed);
    },
    async changeVisibility(url, receiptHandle, seconds) {
      await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
    },
    async changeVisibilityBatch(url, receiptHandles, seconds) {
      const out = await client.send(
        new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: receiptHandles.map((h, i) => ({ Id: String(i), ReceiptHandle: h, VisibilityTimeout: seconds })) }),
      );
      return outcome(out.Failed);
    },
    destroy() {
      if (owned) client.destroy();
    },
  };
}

/** Whether `error` says the queue does not exist (deleted, or a server that lost its state). */
export function isQueueDoesNotExist(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; Code?: unknown };
  return e.name === 'QueueDoesNotExist' || e.name === 'AWS.SimpleQueueService.NonExistentQueue' || e.Code === 'AWS.SimpleQueueService.NonExistentQueue';
}

/** Whether `error` comes from an aborted call. */
export function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}
