/**
 * Messages SQS can never accept, as `MessageRefusedError`s: found before sending (a character
 * SQS does not carry, an attribute SQS refuses) or told by SQS itself (`InvalidMessageContents`,
 * a size over the queue's `MaximumMessageSize`). Each names the queue and, when the body is a
 * Taskchart wire message, the run and the task, so the runtime can fail that step instead of
 * retrying the publish forever. Every other error (throttling, 5xx, network) stays as it is: a
 * retry may succeed.
 */
import { MessageRefusedError } from '@taskchart/core';
import { describeCodePoint, findInvalidCharacter, jsonPathOf, SQS_CHARACTER_RULE } from './characters.js';

/** The run and task a Taskchart wire message names; both undefined for any other body. */
export function describeBody(body: string): { runId: string | undefined; task: string | undefined } {
  try {
    const data: unknown = JSON.parse(body);
    if (typeof data !== 'object' || data === null) return { runId: undefined, task: undefined };
    const m = data as Record<string, unknown>;
    return { runId: typeof m['runId'] === 'string' ? m['runId'] : undefined, task: typeof m['task'] === 'string' ? m['task'] : undefined };
  } catch {
    return { runId: undefined, task: undefined };
  }
}

/** `run r-1, task "fetchQuote"` for what `describeBody` found, or undefined. */
export function aboutBody({ runId, task }: { runId: string | undefined; task: string | undefined }): string | undefined {
  const parts = [runId !== undefined ? `run ${runId}` : undefined, task !== undefined ? `task "${task}"` : undefined].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

const prefixed = (body: string, reason: string): string => {
  const about = aboutBody(describeBody(body));
  return about ? `${about}: ${reason}` : reason;
};

/** A refusal of the message for `queue` whose body is `body`, for `reason`. */
export function refusal(queue: string, body: string, reason: string): MessageRefusedError {
  return new MessageRefusedError('sqs', queue, prefixed(body, reason));
}

/**
 * The refusal for the first character SQS would not carry in `body` or in a header value, or
 * undefined when there is none.
 */
export function characterRefusal(queue: string, body: string, headers: Readonly<Record<string, string>> | undefined): MessageRefusedError | undefined {
  const where = (text: string, place: string): MessageRefusedError | undefined => {
    const found = findInvalidCharacter(text);
    if (!found) return undefined;
    const path = place === 'the body' ? jsonPathOf(text, found) : undefined;
    return refusal(
      queue,
      body,
      `character ${describeCodePoint(found.codePoint)} at index ${found.index} of ${place}${path ? ` (${path})` : ''} is not one SQS carries ` +
        `(allowed: ${SQS_CHARACTER_RULE}); remove or encode it (base64, or a JSON \\u escape) before it reaches the chain`,
    );
  };
  const inBody = where(body, 'the body');
  if (inBody) return inBody;
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string') continue;
    const inHeader = where(value, `header "${name}"`);
    if (inHeader) return inHeader;
  }
  return undefined;
}

/** SQS's error code without its namespace (`AWS.SimpleQueueService.InvalidMessageContents` → `InvalidMessageContents`). */
function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown };
  const raw = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : undefined;
  return raw?.slice(Math.max(raw.lastIndexOf('.'), raw.lastIndexOf('#')) + 1);
}

/**
 * InvalidParameterValue is also SQS's answer to a setting an operator can fix (a delay on a FIFO
 * queue); only these texts say the message itself can never pass. (BatchRequestTooLong is about
 * a whole batch, not one message: the batcher keeps batches under it, and it stays retryable.)
 */
const ABOUT_THE_MESSAGE = /shorter than|too long|message size|exceeds the allowed maximum|message attribute|invalid character/i;

/**
 * The refusal SQS's answer `error` amounts to, for a message to `queue` with `body`, or undefined
 * when the error may pass (throttling, 5xx, network, a queue setting an operator can fix).
 */
export function serverRefusal(queue: string, body: string, error: unknown): MessageRefusedError | undefined {
  if (error instanceof MessageRefusedError) return error;
  const code = codeOf(error);
  const text = error instanceof Error ? error.message : String(error);
  const permanent =
    code === 'InvalidMessageContents' ||
    code === 'MessageTooLong' ||
    ((code === 'InvalidParameterValue' || code === 'InvalidParameterValueException') && ABOUT_THE_MESSAGE.test(text));
  if (!permanent) return undefined;
  const refused = refusal(queue, body, `SQS answered ${code}: ${text} (the message is ${Buffer.byteLength(body, 'utf8')} bytes of body)`);
  return Object.assign(refused, { cause: error });
}
