/**
 * Message headers ↔ SQS message attributes, and the size SQS counts for a message.
 *
 * Each header becomes a `String` attribute of the same name. SQS refuses empty string values,
 * so an empty header travels as type `String.empty` with a placeholder value. The adapter keeps
 * one attribute for itself: the due time of a delayed message that needs several hops.
 */
import type { MessageHeaders } from '@taskchart/core/adapter';
import { refusal } from './refusal.js';
import type { Attributes } from './sqs-api.js';

/** Epoch ms at which a delayed message is due; set while a delay is longer than one hop. */
export const DUE_AT_ATTRIBUTE = 'x-taskchart-due-at';

/** SQS allows at most 10 message attributes per message. */
export const MAX_ATTRIBUTES = 10;

const EMPTY_TYPE = 'String.empty';
const NAME = /^[A-Za-z0-9_-](?:[A-Za-z0-9_.-]{0,254}[A-Za-z0-9_-])?$/;

/** Why SQS would refuse `name` as a message attribute name, or undefined when it is fine. */
export function attributeNameProblem(name: string): string | undefined {
  if (!NAME.test(name) || name.includes('..')) return `SQS attribute names take letters, digits, '_', '-', '.' (not first, last or doubled), up to 256 characters`;
  if (/^(aws|amazon)\./i.test(name)) return `SQS reserves names starting with "AWS." and "Amazon."`;
  return undefined;
}

/**
 * The attributes carrying `headers` (and `dueAt`) for a message to `queue`. A header SQS can
 * never carry (a bad name, a non-string value, more than {@link MAX_ATTRIBUTES}) is a
 * `MessageRefusedError` naming it; `body` only serves to name the run and task.
 */
export function headersToAttributes(queue: string, body: string, headers: MessageHeaders | undefined, dueAt?: number): Attributes {
  const attributes: Attributes = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name === DUE_AT_ATTRIBUTE) continue;
    const problem = attributeNameProblem(name);
    if (problem) throw refusal(queue, body, `header "${name}" is not a valid SQS message attribute name (${problem})`);
    if (typeof value !== 'string') throw refusal(queue, body, `header "${name}" must be a string, got ${typeof value}`);
    attributes[name] = value === '' ? { DataType: EMPTY_TYPE, StringValue: '-' } : { DataType: 'String', StringValue: value };
  }
  if (dueAt !== undefined) attributes[DUE_AT_ATTRIBUTE] = { DataType: 'Number', StringValue: String(Math.ceil(dueAt)) };
  const count = Object.keys(attributes).length;
  if (count > MAX_ATTRIBUTES) {
    throw refusal(queue, body, `${count} message attributes (headers${dueAt !== undefined ? ' plus the due time of a long delay' : ''}), over SQS's limit of ${MAX_ATTRIBUTES}`);
  }
  return attributes;
}

/** The headers carried by received attributes (the adapter's own attribute left out). */
export function attributesToHeaders(attributes: Attributes): MessageHeaders {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (name === DUE_AT_ATTRIBUTE) continue;
    if (value.DataType === EMPTY_TYPE) headers[name] = '';
    else if (value.StringValue !== undefined) headers[name] = value.StringValue;
  }
  return headers;
}

/** The due time carried by a multi-hop delayed message, if any. */
export function dueAtOf(attributes: Attributes): number | undefined {
  const raw = attributes[DUE_AT_ATTRIBUTE]?.StringValue;
  if (raw === undefined) return undefined;
  const dueAt = Number(raw);
  return Number.isFinite(dueAt) ? dueAt : undefined;
}

/** The size SQS counts against `MaximumMessageSize`: body plus each attribute's name, type and value. */
export function messageBytes(body: string, attributes: Attributes): number {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value.DataType ?? '', 'utf8') + Buffer.byteLength(value.StringValue ?? '', 'utf8');
  }
  return bytes;
}
