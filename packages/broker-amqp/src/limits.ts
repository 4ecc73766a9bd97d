/**
 * AMQP 0-9-1's limits on one message, checked before anything is sent, so that no caller data
 * can make amqplib throw half-way through a publish or the server close the channel or the
 * connection (which would fail every other publish and delivery on it):
 *
 * - a short string (`message-id`, `correlation-id`, a header name, ...) is at most 255 bytes;
 * - the content header frame (the message properties, headers included) must fit in one frame
 *   of the negotiated `frame_max`, and amqplib encodes the header table in a 64 KiB buffer;
 * - the body is at most the server's `max_message_size` (`maxMessageBytes`).
 *
 * Ids are mapped so they always fit ({@link fitShortstr}); anything else over a limit is a
 * {@link MessageRefusal} for that publish alone.
 */
import { createHash } from 'node:crypto';
import type { Options } from 'amqplib';

/** The longest AMQP short string (`shortstr`: message id, header name, queue name), in bytes. */
export const MAX_SHORTSTR_BYTES = 255;

/** The largest encoded header table amqplib can write (its encoding buffer is 64 KiB). */
export const MAX_HEADER_TABLE_BYTES = 65_536;

/** RabbitMQ's hard ceiling on `max_message_size` (512 MiB), and its default (128 MiB). */
export const MAX_MESSAGE_BYTES_CEILING = 512 * 1024 * 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

/** Prefix of an id replaced by its hash. */
const HASHED_PREFIX = 'sha256:';

/**
 * `id` as it can travel in a short string: unchanged when it fits in 255 bytes, otherwise
 * `sha256:<64 hex digits>` of its UTF-8 bytes — deterministic, so the same id gives the same
 * message id on every publish, redelivery and re-delay.
 */
export function fitShortstr(id: string): string {
  if (id.length <= MAX_SHORTSTR_BYTES / 3 || Buffer.byteLength(id, 'utf8') <= MAX_SHORTSTR_BYTES) return id;
  return HASHED_PREFIX + createHash('sha256').update(id, 'utf8').digest('hex');
}

/**
 * A message AMQP or the server can never take, found by the adapter itself or attributed to this
 * publish after the server closed a channel for it. Internal: `publish` rethrows it as the core's
 * `MessageRefusedError`, naming the queue as the runtime knows it.
 */
export class MessageRefusal extends Error {
  override readonly name = 'MessageRefusal';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The encoded size of one field-table value (exact for what the adapter writes: strings and numbers). */
function fieldValueBytes(value: unknown): number {
  if (typeof value === 'string') return 1 + 4 + Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return 1 + 8;
  if (typeof value === 'boolean') return 2;
  if (typeof value === 'bigint') return 1 + 8;
  if (value === null || value === undefined) return 1;
  if (Buffer.isBuffer(value)) return 1 + 4 + value.length;
  if (Array.isArray(value)) return 1 + 4 + value.reduce((n: number, v: unknown) => n + fieldValueBytes(v), 0);
  if (typeof value === 'object') return 1 + headerTableBytes(value as Record<string, unknown>);
  // A function or a symbol: amqplib cannot encode it; counted as a short string so as to let
  // amqplib report it (a refusal of that message).
  return 1 + 4 + MAX_SHORTSTR_BYTES;
}

/** The encoded size of a field table (its 4-byte length included); an upper bound for exotic values. */
export function headerTableBytes(headers: Readonly<Record<string, unknown>>): number {
  let n = 4;
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    n += 1 + Buffer.byteLength(key, 'utf8') + fieldValueBytes(value);
  }
  return n;
}

const SHORTSTR_PROPERTIES = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'expiration', 'messageId', 'type', 'userId', 'appId'] as const;

/** The content header frame of a message with `properties`: 7 (frame header) + 14 (class, weight, body size, flags) + properties + 1 (frame end). */
export function headerFrameBytes(properties: Options.Publish): number {
  let n = 7 + 14 + 1;
  for (const key of SHORTSTR_PROPERTIES) {
    const value = properties[key];
    if (typeof value === 'string') n += 1 + Buffer.byteLength(value, 'utf8');
  }
  if (properties.persistent !== undefined || properties.deliveryMode !== undefined) n += 1;
  if (properties.priority !== undefined) n += 1;
  if (properties.timestamp !== undefined) n += 8;
  if (properties.headers) n += headerTableBytes(properties.headers as Record<string, unknown>);
  return n;
}

/**
 * Why AMQP can never carry this message (a short string or the headers over their limit, the body
 * over `maxMessageBytes`), or `undefined` when it can. The frame size is checked on the connection
 * ({@link frameRefusalReason}), which knows the negotiated one.
 */
export function refusalReason(content: Buffer, properties: Options.Publish, maxMessageBytes: number): string | undefined {
  for (const key of SHORTSTR_PROPERTIES) {
    const value = properties[key];
    if (typeof value === 'string' && Buffer.byteLength(value, 'utf8') > MAX_SHORTSTR_BYTES) {
      return `its ${key} is ${Buffer.byteLength(value, 'utf8')} bytes long, over AMQP's limit of ${MAX_SHORTSTR_BYTES} bytes`;
    }
  }
  const headers = (properties.headers ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(headers)) {
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes > MAX_SHORTSTR_BYTES) return `header name "${key.slice(0, 40)}…" is ${bytes} bytes long, over AMQP's limit of ${MAX_SHORTSTR_BYTES} bytes`;
  }
  const tableBytes = headerTableBytes(headers);
  if (tableBytes > MAX_HEADER_TABLE_BYTES) return `its headers take ${tableBytes} bytes encoded, over the adapter's limit of ${MAX_HEADER_TABLE_BYTES} bytes`;
  const total = content.length + tableBytes - 4;
  if (total > maxMessageBytes) {
    return `it is ${total} bytes (body ${content.length} bytes, headers ${tableBytes - 4} bytes), over the limit of ${maxMessageBytes} bytes (maxMessageBytes)`;
  }
  return undefined;
}

/** Why the properties of a message do not fit in one frame of `frameMax` bytes, or `undefined`. */
export function frameRefusalReason(properties: Options.Publish, frameMax: number | undefined): string | undefined {
  if (frameMax === undefined) return undefined;
  const bytes = headerFrameBytes(properties);
  return bytes > frameMax ? `its properties and headers take ${bytes} bytes, over the connection's frame size of ${frameMax} bytes (frameMax)` : undefined;
}

/** RabbitMQ's PRECONDITION_FAILED text for a body over `max_message_size` (3.8+). */
const SERVER_SIZE = /message size (\d+) is larger than (?:configured )?max size (\d+)/;

/** AMQP reply codes by which the server refuses one message: the channel or connection closes. */
const PER_MESSAGE_CODES: ReadonlySet<number> = new Set([
  406, // PRECONDITION_FAILED (channel): over max_message_size, user-id mismatch, bad expiration
  501, // FRAME_ERROR (connection): a malformed frame
  502, // SYNTAX_ERROR (connection): an invalid field value
  505, // UNEXPECTED_FRAME (connection)
]);

const BASIC_CLASS = 60;
const PUBLISH_METHOD = 40;

/** How the server closed a channel or connection, and how many publishes were waiting on it then. */
export interface ServerClose {
  readonly error: Error & { code?: unknown; classId?: unknown; methodId?: unknown };
  readonly inFlight: number;
}

/** Whether the server closed the channel over a `basic.publish` (a message), not over a declaration or anything else. */
export function closedOnPublish(close: ServerClose | undefined): boolean {
  return close !== undefined && close.error.classId === BASIC_CLASS && close.error.methodId === PUBLISH_METHOD;
}

/**
 * The refusal of a publish of `contentBytes` bytes that was in flight when the server closed its
 * channel or connection with `close`, when the close can be pinned on that message: the server
 * named its size, or it was the only publish in flight. `undefined` for every other publish
 * (they are sent again).
 */
export function attributeClose(close: ServerClose | undefined, contentBytes: number): MessageRefusal | undefined {
  if (!close || typeof close.error.code !== 'number' || !PER_MESSAGE_CODES.has(close.error.code)) return undefined;
  // A channel closed with PRECONDITION_FAILED for a declaration (a queue declared elsewhere with
  // other arguments) is no message's fault: only a close on basic.publish (class 60, method 40) is.
  if (close.error.code === 406 && !closedOnPublish(close)) return undefined;
  const size = SERVER_SIZE.exec(close.error.message);
  if (size) {
    if (Number(size[1]) !== contentBytes) return undefined;
    return new MessageRefusal(`its body is ${contentBytes} bytes, over the server's max_message_size of ${size[2]} bytes (RabbitMQ closed the channel: ${close.error.message})`);
  }
  if (close.inFlight === 1) return new MessageRefusal(`RabbitMQ closed the channel on it: ${close.error.message}`);
  return undefined;
}
