/** `GET /api/config`: what the page needs before anything else. */
import type { RequestContext } from '../context.js';
import { sendJson } from '../http.js';

export async function getConfig(ctx: RequestContext): Promise<void> {
  const { client, actions, title } = ctx.options;
  const [definitions, deadLetters] = await Promise.all([client.chainDefinitions(), ctx.deadLetters()]);
  const chains = [...new Set(definitions.map((d) => d.chain))].sort();
  sendJson(ctx.res, 200, { actions, csrfToken: ctx.csrfToken, chains, deadLetters, title });
}
