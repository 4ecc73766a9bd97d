/**
 * Connection trouble, told apart from everything else. A call that failed because the server
 * could not be reached, or dropped the connection mid-way, rejects with a
 * `PostgresUnavailableError`: an outage, retryable. The runtime already retries every store error
 * but `StoreLostError` (a commit with backoff while the delivery stays unacknowledged, a message it
 * could not load given back with a delay), so this class changes no decision; it names the
 * outage in the logs instead of a bare socket error. A write whose connection dropped during
 * COMMIT may or may not have been applied: retrying it is safe (compare-and-swap on the version).
 */
import { TaskchartError } from '@taskchart/core';

export class PostgresUnavailableError extends TaskchartError {
  override readonly name = 'PostgresUnavailableError';
  constructor(
    /** The store's schema. */
    readonly schema: string,
    /** The driver's error (also `cause`). */
    error: unknown,
  ) {
    super(`postgresStore: schema ${JSON.stringify(schema)}: cannot reach the server (${describe(error)}); the call may not have been applied, retry it`, { cause: error });
  }
}

/** Socket errors and SQLSTATEs that mean "the server went away", not "the statement was wrong". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Class 08 (connection exception); admin_shutdown, crash_shutdown, cannot_connect_now; too many connections. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const DRIVER_MESSAGES = [/Connection terminated/i, /not queryable/i, /timeout exceeded when trying to connect/i, /Connection ended/i];

export function isConnectionError(error: unknown): boolean {
  if (error instanceof PostgresUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATES.has(code) || code.startsWith('08'))) return true;
  return DRIVER_MESSAGES.some((m) => m.test(error.message));
}

/** `error` as a `PostgresUnavailableError` when it is connection trouble, else unchanged. */
export function asOutage(error: unknown, schema: string): unknown {
  return error instanceof PostgresUnavailableError || !isConnectionError(error) ? error : new PostgresUnavailableError(schema, error);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
