/**
 * The message `deadLetter(reason)` sends to the dead-letter queue, made to fit whatever the
 * original carried. SQS allows 10 attributes and a size limit on body plus attributes; a message
 * already at either limit (ten attributes, a body near 1 MiB) must still move, with its reason,
 * or it would cycle in its queue for ever. So, in this order, as far as needed:
 *
 * 1. the original headers travel as they were, plus the reason and the source queue;
 * 2. if that makes more than 10 attributes, the original headers are folded into one attribute,
 *    `x-taskchart-dead-headers`, holding them as a JSON object (folded rather than dropped:
 *    nothing is lost, and the reason stays where every adapter puts it);
 * 3. if the message is over the limit, the reason is shortened (never below
 *    {@link MIN_REASON_BYTES}), then the original headers are dropped
 *    (`x-taskchart-dead-headers` then says how many, not what);
 * 4. only if the body alone leaves no room for that, the body is cut at a character boundary,
 *    ends with a `[taskchart: body truncated …]` marker, and `x-taskchart-dead-truncated` holds
 *    its original size in bytes.
 *
 * The reason is never lost, and characters SQS does not carry are replaced by U+FFFD in it.
 */
import { DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER, type MessageHeaders } from '@taskchart/core/adapter';
import { attributeNameProblem, headersToAttributes, MAX_ATTRIBUTES, messageBytes } from './attributes.js';
import { replaceInvalidCharacters } from './characters.js';

/** The original headers, as a JSON object, when they did not fit beside the reason (or how many were dropped). */
export const DEAD_HEADERS_HEADER = 'x-taskchart-dead-headers';
/** The body's original size in bytes, set only when the body had to be cut to fit. */
export const DEAD_TRUNCATED_HEADER = 'x-taskchart-dead-truncated';

/** Reasons are cut to this many characters in any case. */
const MAX_REASON_LENGTH = 4096;
/** A reason is never shortened below this many bytes to keep the body whole. */
export const MIN_REASON_BYTES = 512;

const OWN = new Set([DEAD_LETTER_REASON_HEADER, DEAD_LETTER_QUEUE_HEADER, DEAD_HEADERS_HEADER, DEAD_TRUNCATED_HEADER]);

export interface DeadLetterInput {
  /** The Taskchart name of the queue the message is taken from. */
  readonly queue: string;
  readonly body: string;
  /** The original message's headers. */
  readonly headers: MessageHeaders;
  readonly reason: string;
  /** The dead-letter queue's size limit, body plus attributes, in bytes. */
  readonly limitBytes: number;
}

export interface DeadLetterMessage {
  readonly body: string;
  readonly headers: MessageHeaders;
}

/** `text` cut to at most `maxBytes` of UTF-8, at a character boundary. */
function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  let end = Math.max(0, maxBytes);
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return bytes.subarray(0, end).toString('utf8');
}

const shorten = (text: string, maxBytes: number): string => {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  return `${cutUtf8(text, maxBytes - 3)}…`; // '…' is 3 bytes
};

export function deadLetterMessage(input: DeadLetterInput): DeadLetterMessage {
  const { queue, body, limitBytes } = input;
  const reasonText = replaceInvalidCharacters(String(input.reason));
  const reason = reasonText.length > MAX_REASON_LENGTH ? `${reasonText.slice(0, MAX_REASON_LENGTH - 1)}…` : reasonText;
  const originals = Object.fromEntries(Object.entries(input.headers).filter(([name]) => !OWN.has(name)));
  const count = Object.keys(originals).length;

  const size = (b: string, headers: MessageHeaders) => messageBytes(b, headersToAttributes(queue, b, headers));
  const assemble = (kept: MessageHeaders, why: string, extra: MessageHeaders = {}): MessageHeaders => ({
    ...kept,
    ...extra,
    [DEAD_LETTER_REASON_HEADER]: why,
    [DEAD_LETTER_QUEUE_HEADER]: queue,
  });
  /** The message with `kept` headers and the reason shortened to fit `b`, if it fits with at least MIN_REASON_BYTES of reason. */
  const fit = (b: string, kept: MessageHeaders, extra: MessageHeaders = {}): DeadLetterMessage | undefined => {
    const full = assemble(kept, reason, extra);
    const bytes = size(b, full);
    if (bytes <= limitBytes) return { body: b, headers: full };
    const room = Buffer.byteLength(reason, 'utf8') - (bytes - limitBytes);
    if (room < MIN_REASON_BYTES) return undefined;
    return { body: b, headers: assemble(kept, shorten(reason, room), extra) };
  };

  // 1–2: the original headers as they were, or folded into one attribute (also when a name SQS
  // took is one this adapter would not send: folding never fails on a name).
  const asTheyWere = count + 2 <= MAX_ATTRIBUTES && Object.keys(originals).every((name) => attributeNameProblem(name) === undefined);
  const withOriginals: MessageHeaders = asTheyWere ? originals : count > 0 ? { [DEAD_HEADERS_HEADER]: JSON.stringify(originals) } : {};
  const kept = fit(body, withOriginals);
  if (kept) return kept;
  // 3: without the original headers.
  const dropped: MessageHeaders = count > 0 ? { [DEAD_HEADERS_HEADER]: `(${count} original header${count === 1 ? '' : 's'} dropped to fit the size limit)` } : {};
  const lighter = fit(body, dropped);
  if (lighter) return lighter;
  // 4: the body alone leaves no room: cut it, and say so.
  const originalBytes = Buffer.byteLength(body, 'utf8');
  const why = shorten(reason, MIN_REASON_BYTES);
  const extra = { ...dropped, [DEAD_TRUNCATED_HEADER]: String(originalBytes) };
  const marker = (keptBytes: number) => `\n[taskchart: body truncated from ${originalBytes} to ${keptBytes} bytes to fit the dead-letter queue's ${limitBytes}-byte limit]`;
  const overhead = size(marker(originalBytes), assemble({}, why, extra));
  const keep = Math.max(0, limitBytes - overhead);
  const head = cutUtf8(body, keep);
  return { body: `${head}${marker(Buffer.byteLength(head, 'utf8'))}`, headers: assemble({}, why, extra) };
}
