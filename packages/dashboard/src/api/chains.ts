/** `GET /api/chains` (every recorded chain version) and `GET /api/chains/<chain>/versions/<version>` (its machine, laid out). */
import { InvalidOptionError } from '@taskchart/core/adapter';
import type { RequestContext } from '../context.js';
import { DashboardNotFoundError } from '../errors.js';
import { sendJson } from '../http.js';

export async function listChains(ctx: RequestContext): Promise<void> {
  const definitions = await ctx.options.client.chainDefinitions();
  sendJson(ctx.res, 200, { chains: definitions.map(({ chain, version, fingerprint, recordedAt }) => ({ chain, version, fingerprint, recordedAt })) });
}

export async function getChainVersion(ctx: RequestContext): Promise<void> {
  const chain = ctx.params[0] ?? '';
  const raw = ctx.params[1] ?? '';
  const version = Number(raw);
  if (!/^\d{1,9}$/.test(raw)) throw new InvalidOptionError('GET /api/chains/<chain>/versions/<version>: version', `must be a whole number, got ${JSON.stringify(raw)}`);
  const definition = await ctx.options.client.chainDefinition(chain, version);
  if (!definition) throw new DashboardNotFoundError(`no version ${version} of chain "${chain}" is recorded`);
  const graph = await ctx.graphs.get(definition);
  sendJson(ctx.res, 200, { definition, graph });
}
