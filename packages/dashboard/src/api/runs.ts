/** `GET /api/runs` (list, filters, cursor paging, lookup by id) and `GET /api/runs/<id>` (one run, with its history). */
import type { RequestContext } from '../context.js';
import { DashboardNotFoundError } from '../errors.js';
import { sendJson } from '../http.js';
import { redactRun, summary } from '../redaction.js';
import { matches, parseRunQuery } from './run-query.js';

export async function listRuns(ctx: RequestContext): Promise<void> {
  const { client, redacts } = ctx.options;
  const { id, ...query } = parseRunQuery(ctx.url.searchParams);
  if (id !== undefined) {
    const run = await client.getRun(id);
    sendJson(ctx.res, 200, { runs: run && matches(run, query) ? [summary(run, redacts)] : [] });
    return;
  }
  const page = await client.listRuns(query);
  sendJson(ctx.res, 200, { runs: page.runs.map((run) => summary(run, redacts)), ...(page.next === undefined ? {} : { next: page.next }) });
}

export async function getRun(ctx: RequestContext): Promise<void> {
  const id = ctx.params[0] ?? '';
  const run = await ctx.options.client.getRun(id);
  if (!run) throw new DashboardNotFoundError(`no run "${id}"`);
  sendJson(ctx.res, 200, { run: redactRun(run, ctx.options.redacts) });
}
