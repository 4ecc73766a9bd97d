/**
 * The headers the adapter keeps for itself, and the conversion between AMQP header tables and
 * the port's string-only `MessageHeaders`.
 */
import type { Message, MessagePropertyHeaders, Options } from 'amqplib';
import type { MessageHeaders } from '@taskchart/core/adapter';
import { DELAY_LEVEL_HEADER, DUE_AT_HEADER } from './delay-ladder.js';

/** Header counting redeliveries the adapter made itself (nack with a delay re-publishes). */
export const REDELIVERIES_HEADER = 'x-taskchart-redeliveries';

/** RabbitMQ's dead-lettering bookkeeping, added on every delay hop. */
const DEATH_HEADERS = ['x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason', 'x-last-death-queue', 'x-last-death-reason'];

/**
 * Headers dropped before a received message is published again (re-delayed, dead-lettered):
 * RabbitMQ's dead-lettering bookkeeping and the ladder's own. The redelivery count stays.
 */
export const TRANSIENT_HEADERS: ReadonlySet<string> = new Set([...DEATH_HEADERS, DELAY_LEVEL_HEADER, DUE_AT_HEADER]);

const INTERNAL = new Set([...TRANSIENT_HEADERS, REDELIVERIES_HEADER]);

function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/**
 * The headers a handler sees: every header of the AMQP message except the adapter's own and
 * RabbitMQ's dead-lettering bookkeeping (`x-death`, ...). Values that are not strings are
 * stringified; tables and arrays (only other publishers send those) are dropped.
 */
export function userHeaders(raw: Readonly<Record<string, unknown>> | undefined): MessageHeaders {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const [key, value] of Object.entries(raw)) {
    if (INTERNAL.has(key)) continue;
    const s = headerString(value);
    if (s !== undefined) out[key] = s;
  }
  return out;
}

/** A numeric header the adapter wrote (due time, redelivery count), or `undefined`. */
export function numericHeader(raw: Readonly<Record<string, unknown>> | undefined, key: string): number | undefined {
  const s = raw ? headerString(raw[key]) : undefined;
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The properties to publish a received message again with (re-delayed, dead-lettered,
 * re-driven): its own, minus RabbitMQ's dead-lettering bookkeeping and the ladder's headers (the
 * adapter's redelivery count stays), and minus `drop`.
 */
export function republishProperties(message: Message, drop: ReadonlySet<string> = new Set()): Options.Publish {
  const p = message.properties;
  const raw: MessagePropertyHeaders | undefined = p.headers;
  const headers: MessagePropertyHeaders = {};
  if (raw) for (const key of Object.keys(raw)) if (!TRANSIENT_HEADERS.has(key) && !drop.has(key)) headers[key] = raw[key] as unknown;
  return {
    persistent: true,
    headers,
    ...(typeof p.messageId === 'string' ? { messageId: p.messageId } : {}),
    ...(typeof p.contentType === 'string' ? { contentType: p.contentType } : {}),
    ...(typeof p.correlationId === 'string' ? { correlationId: p.correlationId } : {}),
  };
}
