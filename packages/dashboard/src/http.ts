/** Small HTTP helpers on node:http's request and response: JSON answers, errors as JSON, JSON bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DashboardForbiddenError, DashboardNotFoundError, DashboardRequestError } from './errors.js';

/** The largest POST body read (the API's bodies are a few fields). */
const MAX_BODY_BYTES = 64 * 1024;

/** Headers every answer carries: nothing is framed, sniffed or cached unless said otherwise. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The HTTP status of an error the API answers with. */
export function statusOf(error: unknown): number {
  if (error instanceof DashboardForbiddenError) return 403;
  if (error instanceof DashboardNotFoundError) return 404;
  if (error instanceof DashboardRequestError) return 400;
  const name = error instanceof Error ? error.name : '';
  if (name === 'InvalidOptionError') return 400;
  if (name === 'RuntimeStateError') return 409;
  return 500;
}

/** Answers `{ error: { name, message } }`; a 500 hides the message (it may hold anything) and `log`s the error. */
export function sendError(res: ServerResponse, error: unknown, log: (error: unknown) => void): void {
  const status = statusOf(error);
  if (status === 500) log(error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const name = status === 500 ? 'InternalError' : (error as Error).name;
  const message = status === 500 ? 'the dashboard failed to answer; see the server log' : (error as Error).message;
  sendJson(res, status, { error: { name, message } });
}

/** Reads a JSON object body (`content-type: application/json`, at most 64 KiB); `{}` for an empty body. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new DashboardRequestError(`a POST must have content-type: application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
  // An app-wide body parser (express.json()) may have read the body already: take its result.
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined && req.readableEnded) {
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DashboardRequestError('the body must be a JSON object');
    return parsed as Record<string, unknown>;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new DashboardRequestError(`the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DashboardRequestError('the body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new DashboardRequestError('the body must be a JSON object');
  return body as Record<string, unknown>;
}
