/**
 * The SQS broker: publishes with SendMessage(Batch), consumes with long-poll loops
 * (`poller.ts`), acks with DeleteMessageBatch, keeps running handlers' messages invisible with a
 * heartbeat, and holds delays longer than one SQS hop (15 minutes) by re-delaying hop by hop.
 * A message SQS can never take (size, characters, attributes, queue name) is a
 * `MessageRefusedError` (`refusal.ts`); a dead letter is made to fit (`dead-letter.ts`).
 */
import { randomUUID } from 'node:crypto';
import { InvalidOptionError, MessageRefusedError, type Broker } from '@taskchart/core';
import { deadLetterQueueName, type BrokerCapabilities, type ConsumeOptions, type Consumer, type DeliveryHandler, type MessageHeaders, type PublishOptions } from '@taskchart/core/adapter';
import { attributesToHeaders, headersToAttributes, messageBytes } from './attributes.js';
import { Batcher } from './batcher.js';
import { deadLetterMessage } from './dead-letter.js';
import { directSqsApi } from './direct-sqs-api.js';
import { SqsDeadLetters } from './dead-letter-access.js';
import { fifoId } from './fifo-id.js';
import { Heartbeat } from './heartbeat.js';
import { MessageTooLargeError } from './message-too-large-error.js';
import { compileOptions, type CompiledSqsOptions, type SqsBrokerOptions } from './options.js';
import { Poller } from './poller.js';
import { QueueDirectory, type ResolvedQueue } from './queue-directory.js';
import type { QueueName } from './queue-names.js';
import { characterRefusal, serverRefusal } from './refusal.js';
import { createClient, isQueueDoesNotExist, sdkSqsApi, SQS_MAX_MESSAGE_BYTES, type OutgoingMessage, type ReceivedMessage, type SqsApi } from './sqs-api.js';

/** SQS's ceiling on a visibility timeout (a nack delay held by ChangeMessageVisibility). */
const MAX_VISIBILITY_SECONDS = 43_200;

interface SendRequest {
  readonly body: string;
  readonly headers: MessageHeaders | undefined;
  /** Absolute due time, or undefined to deliver now. */
  readonly dueAt: number | undefined;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  /** Whether to hold the body to `maxMessageBytes` (dead letters and hops only to `limitBytes`). */
  readonly enforceLimit: boolean;
  /** The limit when `enforceLimit` is off. @defaultValue SQS's 1 MiB */
  readonly limitBytes?: number;
}

export class SqsBroker implements Broker {
  readonly name = 'sqs';
  readonly capabilities: BrokerCapabilities;
  /** Listing (receive, then visible again at once) and re-driving (send, then delete) dead letters: see `dead-letter-access.ts`. */
  readonly deadLetters: SqsDeadLetters;
  private readonly options: CompiledSqsOptions;
  private readonly api: SqsApi;
  private readonly directory: QueueDirectory;
  private readonly heartbeat: Heartbeat;
  private readonly deletes: Batcher<string>;
  private readonly sends: Batcher<OutgoingMessage>;
  private readonly pollers = new Set<Poller>();
  private closed = false;

  constructor(options: SqsBrokerOptions = {}, api?: SqsApi) {
    this.options = compileOptions(options);
    if (api) this.api = api;
    else {
      const { client, owned } = createClient(this.options);
      // A client we built is ours to bypass for the per-message calls; one the user gave is used as given.
      this.api = owned ? directSqsApi(sdkSqsApi(client, owned), client, this.options) : sdkSqsApi(client, owned);
    }
    this.capabilities = { durable: true, maxDelayMs: this.options.maxDelaySeconds * 1000, deduplicates: this.options.fifo, maxMessageBytes: this.options.maxMessageBytes };
    this.directory = new QueueDirectory(this.api, this.options);
    this.deadLetters = new SqsDeadLetters({
      api: this.api,
      directory: this.directory,
      options: this.options,
      assertOpen: (what) => {
        if (this.closed) throw new Error(`sqs broker is closed: cannot ${what}`);
      },
      send: (queue, m) => this.send(queue, { body: m.body, headers: m.headers, dueAt: undefined, groupId: m.groupId, deduplicationId: m.deduplicationId, enforceLimit: false }),
    });
    this.heartbeat = new Heartbeat(this.api, {
      intervalMs: this.options.heartbeatIntervalMs,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      onError: this.options.onError,
    });
    this.deletes = new Batcher<string>({
      maxSize: this.options.deleteBatchSize,
      windowMs: this.options.deleteBatchWindowMs,
      flush: (url, handles) => this.api.deleteBatch(url, handles),
    });
    this.sends = new Batcher<OutgoingMessage>({
      maxSize: this.options.publishBatchSize,
      windowMs: this.options.publishBatchWindowMs,
      maxBytes: SQS_MAX_MESSAGE_BYTES,
      sizeOf: (m) => messageBytes(m.body, m.attributes),
      flush: async (url, messages) => {
        if (messages.length === 1 && messages[0]) {
          await this.api.send(url, messages[0]);
          return { failed: new Map() };
        }
        return this.api.sendBatch(url, messages);
      },
    });
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new Error(`sqs broker is closed: cannot publish to "${queue}"`);
    if (typeof body !== 'string') throw new InvalidOptionError('publish: body', 'must be a string');
    const delayMs = options.delayMs ?? 0;
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) throw new InvalidOptionError('publish: delayMs', `must be a finite number >= 0, got ${delayMs}`);
    await this.send(queue, {
      body,
      headers: options.headers,
      dueAt: delayMs > 0 ? this.options.clock.now() + delayMs : undefined,
      groupId: options.groupId,
      deduplicationId: options.deduplicationId,
      enforceLimit: true,
    });
  }

  async consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions = {}): Promise<Consumer> {
    if (this.closed) throw new Error(`sqs broker is closed: cannot consume "${queue}"`);
    if (typeof handler !== 'function') throw new InvalidOptionError('consume: handler', 'must be a function');
    const prefetch = options.prefetch ?? 16;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new InvalidOptionError('consume: prefetch', `must be a whole number >= 1, got ${prefetch}`);
    await this.directory.resolve(queue);
    const poller = new Poller(
      queue,
      handler,
      prefetch,
      {
        api: this.api,
        directory: this.directory,
        heartbeat: this.heartbeat,
        options: this.options,
        settle: {
          ack: (q, m) => this.deletes.add(q.url, m.receiptHandle),
          nack: (q, m, ms) => this.nack(q, m, ms),
          deadLetter: (q, m, reason) => this.deadLetter(q, m, reason),
          defer: (q, m, dueAt) => this.defer(q, m, dueAt),
        },
      },
      (p) => this.pollers.delete(p),
    );
    this.pollers.add(poller);
    poller.start();
    return poller;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.pollers].map((p) => p.cancel()));
    await Promise.all([this.deletes.drain(), this.sends.drain()]);
    this.heartbeat.stop();
    this.api.destroy();
  }

  /** The SQS URL of `queue`, creating the queue if it is missing and `createQueues` allows. */
  async queueUrl(queue: string): Promise<string> {
    return (await this.directory.resolve(queue)).url;
  }

  /**
   * Sends one message to `queue`, re-resolving the queue once if its URL stopped working. A
   * message SQS can never take rejects with `MessageRefusedError`, found before sending or
   * told by SQS; any other failure rejects as it came (a retry may succeed).
   */
  private async send(queue: string, request: SendRequest): Promise<void> {
    let resolved: ResolvedQueue;
    try {
      resolved = await this.directory.resolve(queue);
    } catch (error) {
      throw this.nameRefusal(queue) ?? error;
    }
    const message = this.outgoing(resolved.name, request);
    try {
      try {
        await this.sends.add(resolved.url, message);
      } catch (error) {
        if (!isQueueDoesNotExist(error)) throw error;
        this.directory.invalidate(queue);
        const again = await this.directory.resolve(queue);
        await this.sends.add(again.url, message);
      }
    } catch (error) {
      throw serverRefusal(queue, request.body, error) ?? error;
    }
  }

  /** The refusal a publish of `body` to `queue` meets for certain (see `Broker.refusal`): its queue name, size or characters. */
  refusal(queue: string, body: string, options: PublishOptions = {}): MessageRefusedError | undefined {
    const named = this.nameRefusal(queue);
    if (named) return named;
    try {
      this.outgoing(this.directory.name(queue), { body, headers: options.headers, dueAt: undefined, groupId: options.groupId, deduplicationId: options.deduplicationId, enforceLimit: true });
      return undefined;
    } catch (error) {
      if (error instanceof MessageRefusedError) return error;
      throw error;
    }
  }

  /** A queue name SQS refuses is fixed by the chain's definition: no publish to it can ever succeed. */
  private nameRefusal(queue: string): MessageRefusedError | undefined {
    try {
      this.directory.name(queue);
      return undefined;
    } catch (error) {
      return new MessageRefusedError('sqs', queue, error instanceof Error ? error.message : String(error));
    }
  }

  /** The SQS message for `request`, or a `MessageRefusedError` if SQS could never take it. */
  private outgoing(name: QueueName, request: SendRequest): OutgoingMessage {
    const now = this.options.clock.now();
    const remainingMs = request.dueAt === undefined ? 0 : Math.max(0, request.dueAt - now);
    let delaySeconds = Math.ceil(remainingMs / 1000);
    let dueAt: number | undefined;
    if (name.fifo) {
      // FIFO queues take no per-message delay: the consumer defers the message by visibility.
      if (delaySeconds > 0) dueAt = request.dueAt;
      delaySeconds = 0;
    } else if (delaySeconds > this.options.maxDelaySeconds) {
      dueAt = request.dueAt;
      delaySeconds = this.options.maxDelaySeconds;
    }
    const attributes = headersToAttributes(name.logical, request.body, request.headers, dueAt);
    const bytes = messageBytes(request.body, attributes);
    const limit = request.enforceLimit ? this.options.maxMessageBytes : (request.limitBytes ?? SQS_MAX_MESSAGE_BYTES);
    if (bytes > limit) throw new MessageTooLargeError(name.logical, bytes, limit, request.body, request.enforceLimit ? 'maxMessageBytes' : "SQS's maximum message size");
    const refused = characterRefusal(name.logical, request.body, request.headers);
    if (refused) throw refused;
    return {
      body: request.body,
      attributes,
      ...(delaySeconds > 0 ? { delaySeconds } : {}),
      ...(name.fifo ? { groupId: fifoId(request.groupId ?? randomUUID()), deduplicationId: fifoId(request.deduplicationId ?? randomUUID()) } : {}),
    };
  }

  private async nack(queue: ResolvedQueue, message: ReceivedMessage, delayMs: number): Promise<void> {
    const seconds = Math.ceil(Math.max(0, delayMs) / 1000);
    if (seconds <= MAX_VISIBILITY_SECONDS) {
      await this.api.changeVisibility(queue.url, message.receiptHandle, seconds);
      return;
    }
    await this.defer(queue, message, this.options.clock.now() + delayMs);
  }

  /** Re-publishes `message` due at `dueAt` (standard) or hides it until then (FIFO), without holding it. */
  private async defer(queue: ResolvedQueue, message: ReceivedMessage, dueAt: number): Promise<void> {
    const remainingMs = Math.max(0, dueAt - this.options.clock.now());
    if (queue.name.fifo) {
      // Re-publishing would lose the group's order; keep the message and hide it instead.
      await this.api.changeVisibility(queue.url, message.receiptHandle, Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(remainingMs / 1000)));
      return;
    }
    await this.send(queue.name.logical, {
      body: message.body,
      headers: attributesToHeaders(message.attributes),
      dueAt,
      groupId: undefined,
      deduplicationId: undefined,
      enforceLimit: false,
    });
    await this.deletes.add(queue.url, message.receiptHandle);
  }

  /**
   * Moves `message` to its queue's dead-letter queue with `reason`, whatever its attributes and
   * size (see `dead-letter.ts`), then deletes it. The dead letter is made to fit SQS's 1 MiB; if
   * the dead-letter queue's own `MaximumMessageSize` is lower and SQS says so, it is made to fit
   * `maxMessageBytes` instead (set that to your queues' limit).
   */
  private async deadLetter(queue: ResolvedQueue, message: ReceivedMessage, reason: string): Promise<void> {
    const target = deadLetterQueueName(queue.name.logical);
    const headers = attributesToHeaders(message.attributes);
    const sendWithin = (limitBytes: number) => {
      const dead = deadLetterMessage({ queue: queue.name.logical, body: message.body, headers, reason, limitBytes });
      return this.send(target, {
        body: dead.body,
        headers: dead.headers,
        dueAt: undefined,
        groupId: message.groupId,
        deduplicationId: `${message.messageId}:dead`,
        enforceLimit: false,
        limitBytes,
      });
    };
    try {
      await sendWithin(SQS_MAX_MESSAGE_BYTES);
    } catch (error) {
      if (!(error instanceof MessageRefusedError) || this.options.maxMessageBytes >= SQS_MAX_MESSAGE_BYTES) throw error;
      await sendWithin(this.options.maxMessageBytes);
    }
    await this.deletes.add(queue.url, message.receiptHandle);
  }
}

/** Creates an SQS broker. Options are validated here; nothing is called on SQS until first use. */
export function sqsBroker(options: SqsBrokerOptions = {}): SqsBroker {
  return new SqsBroker(options);
}
