/** The dashboard's routes: method, path (relative to the base path) and what `authorize` is asked. */
import { cancelRun, redriveDeadLetters, retryRun } from './api/actions.js';
import { getChainVersion, listChains } from './api/chains.js';
import { getConfig } from './api/config.js';
import { listDeadLetters } from './api/dead-letters.js';
import { getRun, listRuns } from './api/runs.js';
import { streamAll, streamRun } from './api/streams.js';
import type { RequestContext } from './context.js';
import { DashboardRequestError } from './errors.js';
import type { DashboardAction } from './options.js';
import { sendAsset, sendIndex } from './static-files.js';

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  readonly action: DashboardAction;
  readonly handle: (ctx: RequestContext) => Promise<void>;
  /** Parameters passed still URL-encoded (the asset path decodes and checks its own). */
  readonly raw?: true;
}

const SEGMENT = '([^/]+)';
const path = (pattern: string) => new RegExp(`^${pattern.replaceAll(':param', SEGMENT)}$`);

async function index(ctx: RequestContext): Promise<void> {
  // Served at `<base>/`: a page at `<base>` (no slash) would resolve its relative URLs one level up.
  const seen = ((ctx.req as { originalUrl?: string }).originalUrl ?? ctx.req.url ?? '/').split('?')[0] ?? '/';
  if (!seen.endsWith('/') && !seen.endsWith('/index.html')) {
    ctx.res.writeHead(302, { location: `${ctx.base}/${ctx.url.search}` });
    ctx.res.end();
    return;
  }
  await sendIndex(ctx.res, ctx.options.uiDir, { base: ctx.base === '' ? '/' : ctx.base, csrf: ctx.csrfToken, title: ctx.options.title });
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: /^\/?$|^\/index\.html$/, action: 'read', handle: index },
  { method: 'GET', path: /^\/assets\/(.+)$/, action: 'read', raw: true, handle: (ctx) => sendAsset(ctx.req, ctx.res, ctx.options.uiDir, ctx.params[0] ?? '') },
  { method: 'GET', path: path('/api/config'), action: 'read', handle: getConfig },
  { method: 'GET', path: path('/api/runs'), action: 'read', handle: listRuns },
  { method: 'GET', path: path('/api/runs/:param'), action: 'read', handle: getRun },
  { method: 'GET', path: path('/api/runs/:param/stream'), action: 'read', handle: streamRun },
  { method: 'GET', path: path('/api/stream'), action: 'read', handle: streamAll },
  { method: 'GET', path: path('/api/chains'), action: 'read', handle: listChains },
  { method: 'GET', path: path('/api/chains/:param/versions/:param'), action: 'read', handle: getChainVersion },
  { method: 'GET', path: path('/api/dead-letters'), action: 'read', handle: listDeadLetters },
  { method: 'POST', path: path('/api/runs/:param/cancel'), action: 'cancel', handle: cancelRun },
  { method: 'POST', path: path('/api/runs/:param/retry'), action: 'retry', handle: retryRun },
  { method: 'POST', path: path('/api/dead-letters/redrive'), action: 'redrive', handle: redriveDeadLetters },
];

/** The route for `method` and `relPath`, with its parameters; `undefined` when none matches. */
export function matchRoute(method: string, relPath: string): { route: Route; params: string[] } | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const route of ROUTES) {
    if (route.method !== m) continue;
    const found = route.path.exec(relPath);
    if (!found) continue;
    const params = found.slice(1).map((p) => p ?? '');
    return { route, params: route.raw ? params : params.map(decode) };
  }
  return undefined;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new DashboardRequestError(`the path segment ${JSON.stringify(part)} is not valid URL encoding`);
  }
}
