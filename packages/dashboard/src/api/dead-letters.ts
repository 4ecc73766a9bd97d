/** `GET /api/dead-letters?queue=q&limit=100`: the dead-lettered messages with their reasons, bodies redacted. */
import { InvalidOptionError } from '@taskchart/core/adapter';
import type { RequestContext } from '../context.js';
import { sendJson } from '../http.js';
import { redactDeadLetter } from '../redaction.js';

const OWNER = 'GET /api/dead-letters';
const MAX_LIMIT = 1000;

export async function listDeadLetters(ctx: RequestContext): Promise<void> {
  const params = ctx.url.searchParams;
  for (const key of params.keys()) if (key !== 'queue' && key !== 'limit') throw new InvalidOptionError(`${OWNER}: ${key}`, 'unknown parameter; valid parameters: queue, limit');
  const queue = params.get('queue') || undefined;
  const limitRaw = params.get('limit') || undefined;
  const limit = limitRaw === undefined ? undefined : Number(limitRaw);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)) throw new InvalidOptionError(`${OWNER}: limit`, `must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limitRaw)}`);
  const letters = await ctx.options.client.deadLetters({ ...(queue === undefined ? {} : { queue }), ...(limit === undefined ? {} : { limit }) });
  sendJson(ctx.res, 200, { deadLetters: letters.map((l) => redactDeadLetter(l, ctx.options.redacts)) });
}
