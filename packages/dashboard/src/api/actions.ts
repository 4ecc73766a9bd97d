/**
 * The actions: `POST /api/runs/<id>/cancel`, `POST /api/runs/<id>/retry` and
 * `POST /api/dead-letters/redrive`. The router has already checked that actions are enabled, the
 * CSRF token and `authorize`; each passes `by` (the `actor` option's answer) to the client, so the
 * run's history says who acted.
 */
import { assertKnownKeys, InvalidOptionError } from '@taskchart/core/adapter';
import type { RequestContext } from '../context.js';
import { DashboardNotFoundError } from '../errors.js';
import { readJsonBody, sendJson } from '../http.js';
import { redactRun } from '../redaction.js';

const MAX_BY = 200;

async function actorOf(ctx: RequestContext): Promise<string> {
  const by = await ctx.options.actor(ctx.req);
  if (typeof by !== 'string' || by.length === 0) throw new Error(`createDashboard: actor() must answer a non-empty string, got ${JSON.stringify(by)}`);
  return by.slice(0, MAX_BY);
}

/** `act()`, with the client's "no run" refusal (an `InvalidOptionError` on `id`) as a 404. */
async function onRun<T>(act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (error) {
    if (error instanceof InvalidOptionError && error.option.endsWith(': id')) throw new DashboardNotFoundError(error.message);
    throw error;
  }
}

export async function cancelRun(ctx: RequestContext): Promise<void> {
  const owner = 'POST /api/runs/<id>/cancel';
  const body = await readJsonBody(ctx.req);
  assertKnownKeys(body, ['reason', 'compensate'], owner);
  const { reason, compensate } = body;
  if (reason !== undefined && typeof reason !== 'string') throw new InvalidOptionError(`${owner}: reason`, 'must be a string');
  if (compensate !== undefined && typeof compensate !== 'boolean') throw new InvalidOptionError(`${owner}: compensate`, 'must be true or false');
  const by = await actorOf(ctx);
  const options = { ...(reason === undefined ? {} : { reason }), ...(compensate === undefined ? {} : { compensate }), by };
  const outcome = await onRun(() => ctx.options.client.cancel(ctx.params[0] ?? '', options));
  sendJson(ctx.res, 200, { outcome });
}

export async function retryRun(ctx: RequestContext): Promise<void> {
  const owner = 'POST /api/runs/<id>/retry';
  const body = await readJsonBody(ctx.req);
  assertKnownKeys(body, ['from'], owner);
  const { from } = body;
  if (from !== undefined && from !== 'failed-step' && from !== 'start') throw new InvalidOptionError(`${owner}: from`, `must be 'failed-step' or 'start', got ${JSON.stringify(from)}`);
  const by = await actorOf(ctx);
  const run = await onRun(() => ctx.options.client.retry(ctx.params[0] ?? '', { ...(from === undefined ? {} : { from }), by }));
  sendJson(ctx.res, 200, { run: redactRun(run, ctx.options.redacts) });
}

export async function redriveDeadLetters(ctx: RequestContext): Promise<void> {
  const owner = 'POST /api/dead-letters/redrive';
  const body = await readJsonBody(ctx.req);
  assertKnownKeys(body, ['queue', 'ids'], owner);
  const { queue, ids } = body;
  if (typeof queue !== 'string' || queue.length === 0) throw new InvalidOptionError(`${owner}: queue`, 'is required: the queue the messages were dead-lettered from');
  if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => typeof id === 'string'))) throw new InvalidOptionError(`${owner}: ids`, 'must be an array of message ids');
  const by = await actorOf(ctx);
  const moved = await ctx.options.client.redriveDeadLetters({ queue, ...(ids === undefined ? {} : { ids }), by });
  sendJson(ctx.res, 200, { moved });
}
