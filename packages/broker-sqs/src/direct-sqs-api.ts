/**
 * The `SqsApi` of a broker that built its own client: the per-message calls (send, receive,
 * delete, change visibility) go through the adapter's own JSON-protocol requests
 * (`sqs-http-client.ts`), everything else (queue lookup, creation, listing: a few calls per
 * queue) through the SDK. A client the user passes is used for everything, untouched, so any
 * middleware, proxy or retry settings they gave it apply.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { CompiledSqsOptions } from './options.js';
import { outcome, RECEIVE_ATTRIBUTES, received, sendFields, type Attributes, type BatchOutcome, type OutgoingMessage, type SqsApi, type WireMessage } from './sqs-api.js';
import { SqsHttpClient } from './sqs-http-client.js';

type JsonMessage = Omit<WireMessage, 'MessageAttributes'> & { readonly MessageAttributes?: Record<string, JsonAttribute> };
type BatchAnswer = { Failed?: Array<{ Id?: string; Code?: string; Message?: string }> };

interface JsonAttribute {
  readonly DataType?: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** Binary attribute values travel as base64 in JSON; the SDK's shape holds bytes. */
function attributesIn(attributes: Record<string, JsonAttribute> | undefined): Attributes | undefined {
  if (!attributes) return undefined;
  let binary = false;
  for (const name in attributes) if (attributes[name]?.BinaryValue !== undefined) binary = true;
  if (!binary) return attributes as Attributes;
  const out: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    const { BinaryValue, ...rest } = value;
    out[name] = { ...rest, DataType: value.DataType ?? 'Binary', ...(BinaryValue === undefined ? {} : { BinaryValue: Buffer.from(BinaryValue, 'base64') }) };
  }
  return out;
}

function attributesOut(attributes: Attributes): Record<string, JsonAttribute> | Attributes {
  let binary = false;
  for (const name in attributes) if (attributes[name]?.BinaryValue !== undefined) binary = true;
  if (!binary) return attributes;
  const out: Record<string, JsonAttribute> = {};
  for (const [name, value] of Object.entries(attributes)) {
    const { BinaryValue, ...rest } = value;
    out[name] = BinaryValue === undefined ? rest : { ...rest, BinaryValue: Buffer.from(BinaryValue).toString('base64') };
  }
  return out;
}

function entry(m: OutgoingMessage) {
  const fields = sendFields(m);
  return fields.MessageAttributes ? { ...fields, MessageAttributes: attributesOut(fields.MessageAttributes) } : fields;
}

export function directSqsApi(sdk: SqsApi, client: SQSClient, options: CompiledSqsOptions): SqsApi {
  const config = client.config;
  const http = new SqsHttpClient({
    endpoint: options.endpoint,
    region: () => config.region(),
    credentials: () => config.credentials(),
    clockOffset: {
      get: () => config.systemClockOffset ?? 0,
      set: (ms) => {
        config.systemClockOffset = ms;
      },
    },
    maxAttempts: options.maxAttempts,
    retryBaseDelayMs: options.retryBaseDelayMs,
    retryMaxDelayMs: options.retryMaxDelayMs,
    random: options.random,
  });
  return {
    getQueueUrl: (name) => sdk.getQueueUrl(name),
    createQueue: (name, attributes) => sdk.createQueue(name, attributes),
    getQueueArn: (url) => sdk.getQueueArn(url),
    deleteQueue: (url) => sdk.deleteQueue(url),
    listQueues: (prefix) => sdk.listQueues(prefix),
    async send(url, message) {
      await http.call('SendMessage', url, { QueueUrl: url, ...entry(message) });
    },
    async sendBatch(url, messages): Promise<BatchOutcome> {
      const out = await http.call<BatchAnswer>('SendMessageBatch', url, { QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ...entry(m) })) });
      return outcome(out.Failed);
    },
    async receive(url, request, signal) {
      const out = await http.call<{ Messages?: JsonMessage[] }>(
        'ReceiveMessage',
        url,
        {
          QueueUrl: url,
          MaxNumberOfMessages: request.max,
          WaitTimeSeconds: request.waitSeconds,
          VisibilityTimeout: request.visibilitySeconds,
          ...RECEIVE_ATTRIBUTES,
        },
        signal,
        request.waitSeconds,
      );
      return received(out.Messages?.map((m) => ({ ...m, MessageAttributes: attributesIn(m.MessageAttributes) })));
    },
    async deleteBatch(url, receiptHandles) {
      const out = await http.call<BatchAnswer>('DeleteMessageBatch', url, { QueueUrl: url, Entries: receiptHandles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) });
      return outcome(out.Failed);
    },
    async changeVisibility(url, receiptHandle, seconds) {
      await http.call('ChangeMessageVisibility', url, { QueueUrl: url, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds });
    },
    async changeVisibilityBatch(url, receiptHandles, seconds) {
      const out = await http.call<BatchAnswer>('ChangeMessageVisibilityBatch', url, {
        QueueUrl: url,
        Entries: receiptHandles.map((h, i) => ({ Id: String(i), ReceiptHandle: h, VisibilityTimeout: seconds })),
      });
      return outcome(out.Failed);
    },
    destroy() {
      http.destroy();
      sdk.destroy();
    },
  };
}
