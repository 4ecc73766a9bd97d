/**
 * The wire format: what the runtime publishes on broker queues. Versioned (`v`), validated on
 * receipt; anything that does not parse is dead-lettered with the reason.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MessageHeaders } from './ports/broker.js';

export const WIRE_VERSION = 1;
export const SIGNATURE_HEADER = 'x-taskchart-signature';

/** "Run this step (or compensation) of this run, attempt n." */
export interface TaskMessage {
  readonly v: 1;
  readonly kind: 'task';
  readonly runId: string;
  readonly chain: string;
  readonly step: string;
  readonly task: string;
  readonly attempt: number;
  readonly compensation: boolean;
  readonly input: unknown;
  /** For compensations: the output of the step being undone. */
  readonly output?: unknown;
  /** The version of the chain's definition the run is on; absent for version 1. */
  readonly chainVersion?: number;
}

/** The timer event that starts a scheduled run (the others are the machine's `xstate.after.*`). */
export const START_EVENT = 'taskchart.start';

/** "Deliver this delayed event to this run when due" (a retry's backoff, or a scheduled start). */
export interface TimerMessage {
  readonly v: 1;
  readonly kind: 'timer';
  readonly runId: string;
  readonly chain: string;
  readonly event: string;
  readonly attempt: number;
  readonly dueAt: number;
  /** The version of the chain's definition the run is on; absent for version 1 (and for scheduled starts). */
  readonly chainVersion?: number;
}

export type WireMessage = TaskMessage | TimerMessage;

export type ParseResult = { readonly ok: true; readonly message: WireMessage } | { readonly ok: false; readonly reason: string };

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isAttempt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;

export function parseMessage(body: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `malformed message: not JSON (${(error as Error).message})` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, reason: 'malformed message: not a JSON object' };
  const m = data as Record<string, unknown>;
  if (m['v'] !== WIRE_VERSION) return { ok: false, reason: `malformed message: unsupported wire version ${JSON.stringify(m['v'])} (expected ${WIRE_VERSION})` };
  if (!isString(m['runId'])) return { ok: false, reason: 'malformed message: missing runId' };
  if (!isString(m['chain'])) return { ok: false, reason: 'malformed message: missing chain' };
  if (!isAttempt(m['attempt'])) return { ok: false, reason: 'malformed message: attempt must be a whole number >= 1' };
  if (m['chainVersion'] !== undefined && !isAttempt(m['chainVersion'])) return { ok: false, reason: 'malformed message: chainVersion must be a whole number >= 1' };
  if (m['kind'] === 'task') {
    if (!isString(m['step']) || !isString(m['task'])) return { ok: false, reason: 'malformed task message: missing step or task' };
    if (typeof m['compensation'] !== 'boolean') return { ok: false, reason: 'malformed task message: compensation must be a boolean' };
    return { ok: true, message: m as unknown as TaskMessage };
  }
  if (m['kind'] === 'timer') {
    if (!isString(m['event']) || (!m['event'].startsWith('xstate.after.') && m['event'] !== START_EVENT)) {
      return { ok: false, reason: `malformed timer message: event must be an xstate.after event or ${START_EVENT}` };
    }
    if (typeof m['dueAt'] !== 'number' || !Number.isFinite(m['dueAt'])) return { ok: false, reason: 'malformed timer message: dueAt must be a number' };
    return { ok: true, message: m as unknown as TimerMessage };
  }
  return { ok: false, reason: `malformed message: unknown kind ${JSON.stringify(m['kind'])}` };
}

/** HMAC-SHA256 of the body, hex. */
export function sign(body: string, key: string | Buffer): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

/** Checks the signature header against `key`; returns a reason when it does not match. */
export function verifySignature(body: string, headers: MessageHeaders, key: string | Buffer): string | undefined {
  const given = headers[SIGNATURE_HEADER];
  if (!given) return `unsigned message: no ${SIGNATURE_HEADER} header`;
  const expected = Buffer.from(sign(body, key), 'hex');
  const actual = Buffer.from(given, 'hex');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return 'bad signature: the message was not signed with this runtime\'s signingKey';
  return undefined;
}
