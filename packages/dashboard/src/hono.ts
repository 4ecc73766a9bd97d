/**
 * `honoDashboard(options)`: the dashboard as Hono middleware for `@hono/node-server`. It answers
 * on the raw node:http request and response (`c.env.incoming` / `c.env.outgoing`), so streams and
 * bodies are node's own: `app.use('/taskchart/*', honoDashboard({ client, basePath: '/taskchart' }))`.
 * `basePath` is the full path it is mounted at (the raw request keeps the whole URL).
 */
import type { HttpBindings } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import { RuntimeStateError } from '@taskchart/core';
import { buildDashboard } from './dashboard.js';
import { compileDashboardOptions, type DashboardOptions } from './options.js';

/** The header that tells @hono/node-server the response was written already. */
const X_ALREADY_SENT = 'x-hono-already-sent';

export type HonoDashboard = MiddlewareHandler<{ Bindings: HttpBindings }> & {
  /** Ends the live streams. The client stays open (it is the caller's). */
  close(): Promise<void>;
};

export function honoDashboard(options: DashboardOptions): HonoDashboard {
  const dashboard = buildDashboard(compileDashboardOptions(options, 'honoDashboard'));
  const middleware: MiddlewareHandler<{ Bindings: HttpBindings }> = async (c, next) => {
    const env = c.env as Partial<HttpBindings> | undefined;
    if (!env?.incoming || !env.outgoing) throw new RuntimeStateError('honoDashboard: needs @hono/node-server (c.env.incoming and c.env.outgoing are missing)');
    if (!dashboard.serve(env.incoming, env.outgoing, '')) return next();
    return alreadySent();
  };
  return Object.assign(middleware, { close: () => dashboard.close() });
}

function alreadySent(): Response {
  const response = new Response(null, { headers: { [X_ALREADY_SENT]: 'true' } });
  // @hono/node-server's own Response class would be written out again from its cache; reading
  // `body` turns it into a plain Response, which the server leaves alone (as its RESPONSE_ALREADY_SENT).
  void response.body;
  return response;
}
