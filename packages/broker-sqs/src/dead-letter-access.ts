/**
 * Listing and re-driving an SQS dead-letter queue (`<prefix><queue>-dead`), as the SQS console's
 * "redrive" does, with the calls a worker already has permission for.
 *
 * SQS cannot peek: `list` receives the messages (ReceiveMessage, hidden for
 * `visibilityTimeoutSeconds`), then makes them visible again at once (ChangeMessageVisibility 0).
 * Each list bumps their `ApproximateReceiveCount` (harmless: the adapter gives dead-letter queues
 * no RedrivePolicy). `redrive` receives the same way, sends each chosen message to the work queue
 * (SendMessage, confirmed by SQS), then deletes it from the dead-letter queue; the others are made
 * visible again when the call ends. A crash between the send and the delete leaves a duplicate,
 * never a loss; on FIFO queues the re-driven message keeps its group and has the deduplication id
 * `<dead letter's MessageId>:redrive`, so a second redrive of it within SQS's five-minute window
 * is dropped by SQS.
 *
 * Order: oldest first by SentTimestamp (SQS standard queues keep no order of their own). On a
 * FIFO queue, SQS hands out no message of a group while another of that group is received and
 * not yet visible again: one call sees at most one receive's worth (up to 10) of each group.
 * Calls of one broker handle run one at a time.
 */
import { MessageRefusedError } from '@taskchart/core';
import {
  DEAD_LETTER_REASON_HEADER,
  deadLetterIds,
  deadLetterLimit,
  deadLetterQueueName,
  InvalidOptionError,
  withoutDeadLetterHeaders,
  type DeadLetterAccess,
  type DeadLetterListOptions,
  type DeadLetterMessage,
  type DeadLetterRedriveOptions,
  type MessageHeaders,
} from '@taskchart/core/adapter';
import { attributesToHeaders } from './attributes.js';
import { DEAD_HEADERS_HEADER } from './dead-letter.js';
import type { CompiledSqsOptions } from './options.js';
import type { QueueDirectory } from './queue-directory.js';
import type { ReceivedMessage, SqsApi } from './sqs-api.js';

/** SQS's batch size for ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch. */
const BATCH = 10;

/** One message to put back on its work queue. */
export interface RedriveSend {
  readonly body: string;
  readonly headers: MessageHeaders;
  readonly groupId: string | undefined;
  readonly deduplicationId: string;
}

export interface SqsDeadLetterDeps {
  readonly api: SqsApi;
  readonly directory: QueueDirectory;
  readonly options: CompiledSqsOptions;
  /** Throws when the broker is closed. */
  assertOpen(what: string): void;
  /** Sends to the work queue `queue` (a Taskchart name); resolves once SQS took it. */
  send(queue: string, message: RedriveSend): Promise<void>;
}

/**
 * The headers a dead letter had before it was dead-lettered: without the reason and source
 * queue, and with the originals unfolded when `dead-letter.ts` had to fold them into one attribute.
 */
function originalHeaders(message: ReceivedMessage): Record<string, string> {
  const headers = withoutDeadLetterHeaders(attributesToHeaders(message.attributes));
  const folded = headers[DEAD_HEADERS_HEADER];
  if (folded === undefined) return headers;
  let parsed: unknown;
  try {
    parsed = JSON.parse(folded);
  } catch {
    return headers; // "(n original headers dropped …)": kept, it says what happened
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return headers;
  delete headers[DEAD_HEADERS_HEADER];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) if (typeof value === 'string') headers[name] = value;
  return headers;
}

const chunks = <T>(items: readonly T[]): T[][] => Array.from({ length: Math.ceil(items.length / BATCH) }, (_, i) => items.slice(i * BATCH, (i + 1) * BATCH));

export class SqsDeadLetters implements DeadLetterAccess {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: SqsDeadLetterDeps) {}

  list(queue: string, options?: DeadLetterListOptions): Promise<DeadLetterMessage[]> {
    return this.serial(async () => {
      const limit = deadLetterLimit(options, 'sqsBroker.deadLetters.list()');
      const url = await this.deadUrl(queue, 'list');
      const held = new Map<string, ReceivedMessage>();
      try {
        await this.receive(url, limit, held, (batch) => {
          for (const m of batch) held.set(m.messageId, m);
        });
      } finally {
        await this.release(queue, url, [...held.values()]);
      }
      return byAge([...held.values()]).map((m) => {
        const headers = attributesToHeaders(m.attributes);
        return { id: m.messageId, queue, reason: headers[DEAD_LETTER_REASON_HEADER] ?? '', body: m.body, headers: originalHeaders(m) };
      });
    });
  }

  redrive(queue: string, options?: DeadLetterRedriveOptions): Promise<number> {
    return this.serial(async () => {
      const ids = deadLetterIds(options, 'sqsBroker.deadLetters.redrive()');
      const url = await this.deadUrl(queue, 'redrive');
      // Only what was dead-lettered before the call began: a message that is dead-lettered again
      // as soon as it is re-driven must not keep a redrive of everything going for ever. Compared
      // with SQS's SentTimestamp, so the wall clock (not the `clock` option, which tests may drive).
      const began = Date.now();
      const held = new Map<string, ReceivedMessage>();
      const moved = new Set<string>();
      try {
        await this.receive(url, Number.POSITIVE_INFINITY, held, async (batch) => {
          const chosen: ReceivedMessage[] = [];
          for (const m of batch) {
            if (moved.has(m.messageId)) continue;
            const wanted = (ids === undefined || ids.has(m.messageId)) && (m.sentAt === undefined || !Number.isFinite(m.sentAt) || m.sentAt <= began);
            if (wanted) chosen.push(m);
            else held.set(m.messageId, m);
          }
          await this.move(queue, url, chosen, moved, held);
        });
      } finally {
        await this.release(queue, url, [...held.values()]);
      }
      return moved.size;
    });
  }

  /**
   * Sends `messages` to `queue`, then deletes from the dead-letter queue those SQS took. The ones
   * it could not send go to `held` (made visible again when the call ends). A message SQS refuses
   * for good (`MessageRefusedError`) is reported to `onError` and stays; any other failure is
   * thrown once every send settled.
   */
  private async move(queue: string, url: string, messages: readonly ReceivedMessage[], moved: Set<string>, held: Map<string, ReceivedMessage>): Promise<void> {
    const sent = await Promise.allSettled(messages.map((m) => this.sendBack(queue, m)));
    const done: ReceivedMessage[] = [];
    let failure: Error | undefined;
    for (const [i, m] of messages.entries()) {
      const outcome = sent[i];
      if (outcome?.status === 'fulfilled') {
        done.push(m);
        moved.add(m.messageId);
        continue;
      }
      held.set(m.messageId, m);
      const reason: unknown = outcome?.reason;
      if (reason instanceof MessageRefusedError) this.deps.options.onError(reason, { operation: 'redrive', queue });
      else failure ??= reason instanceof Error ? reason : new Error(`redrive to "${queue}" failed`, { cause: reason });
    }
    for (const chunk of chunks(done)) {
      const outcome = await this.deps.api.deleteBatch(
        url,
        chunk.map((m) => m.receiptHandle),
      );
      // Sent but still in the dead-letter queue: it shows up again (a duplicate, not a loss).
      for (const error of outcome.failed.values()) this.deps.options.onError(error, { operation: 'redrive-delete', queue: deadLetterQueueName(queue) });
    }
    if (failure) throw failure;
  }

  private async sendBack(queue: string, m: ReceivedMessage): Promise<void> {
    const message = { body: m.body, groupId: m.groupId, deduplicationId: `${m.messageId}:redrive` };
    try {
      await this.deps.send(queue, { ...message, headers: originalHeaders(m) });
    } catch (error) {
      // Unfolded, the original headers are what SQS refused once: send them folded, as they sat in the dead-letter queue.
      if (!(error instanceof MessageRefusedError) || m.attributes[DEAD_HEADERS_HEADER] === undefined) throw error;
      await this.deps.send(queue, { ...message, headers: withoutDeadLetterHeaders(attributesToHeaders(m.attributes)) });
    }
  }

  /**
   * Receives up to `max` messages of `url` (hidden for the visibility timeout), a batch at a
   * time, handing each batch to `take`; stops when a short poll and then a one-second long poll
   * come back empty. A message received twice (its visibility ran out meanwhile) is handed once,
   * its newer receipt handle kept in `held`.
   */
  private async receive(url: string, max: number, held: Map<string, ReceivedMessage>, take: (batch: ReceivedMessage[]) => void | Promise<void>): Promise<void> {
    const seen = new Set<string>();
    let count = 0;
    let waited = false;
    while (count < max) {
      const batch = await this.deps.api.receive(url, { max: Math.min(BATCH, max - count), waitSeconds: waited ? 1 : 0, visibilitySeconds: this.deps.options.visibilityTimeoutSeconds });
      const fresh: ReceivedMessage[] = [];
      for (const m of batch) {
        if (seen.has(m.messageId)) {
          if (held.has(m.messageId)) held.set(m.messageId, m);
          continue;
        }
        seen.add(m.messageId);
        fresh.push(m);
      }
      if (fresh.length === 0) {
        if (waited) return;
        waited = true;
        continue;
      }
      waited = false;
      count += fresh.length;
      await take(fresh);
    }
  }

  /** Makes `messages` visible again at once, in their place; a failure only delays them (the visibility timeout). */
  private async release(queue: string, url: string, messages: readonly ReceivedMessage[]): Promise<void> {
    for (const chunk of chunks(messages)) {
      try {
        const outcome = await this.deps.api.changeVisibilityBatch(
          url,
          chunk.map((m) => m.receiptHandle),
          0,
        );
        for (const error of outcome.failed.values()) this.deps.options.onError(error, { operation: 'release', queue: deadLetterQueueName(queue) });
      } catch (error) {
        this.deps.options.onError(error, { operation: 'release', queue: deadLetterQueueName(queue) });
      }
    }
  }

  private async deadUrl(queue: string, call: string): Promise<string> {
    this.deps.assertOpen(`${call} the dead letters of "${queue}"`);
    if (typeof queue !== 'string' || queue.length === 0) throw new InvalidOptionError(`sqsBroker.deadLetters.${call}(): queue`, 'must be a non-empty string');
    return (await this.deps.directory.resolve(deadLetterQueueName(queue))).url;
  }

  private serial<T>(call: () => Promise<T>): Promise<T> {
    const result = this.tail.then(call, call);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Oldest first by SentTimestamp; messages without one keep the order SQS gave them (the sort is stable). */
function byAge(messages: ReceivedMessage[]): ReceivedMessage[] {
  const at = (m: ReceivedMessage) => (m.sentAt !== undefined && Number.isFinite(m.sentAt) ? m.sentAt : Number.POSITIVE_INFINITY);
  return messages.sort((a, b) => (at(a) === at(b) ? 0 : at(a) < at(b) ? -1 : 1));
}
