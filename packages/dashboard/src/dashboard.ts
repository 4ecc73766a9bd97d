/**
 * `createDashboard(options)`: a request handler for node:http (and Express/Connect, which call it
 * with `next`), answering the dashboard's page, assets and HTTP API under its base path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RuntimeStateError } from '@taskchart/core';
import type { RequestContext } from './context.js';
import { hasCsrfToken, newCsrfToken, CSRF_HEADER } from './csrf.js';
import { DashboardForbiddenError, DashboardNotFoundError } from './errors.js';
import { EventHub } from './event-hub.js';
import { GraphCache } from './graph/graph-cache.js';
import { sendError } from './http.js';
import { compileDashboardOptions, type CompiledDashboardOptions, type DashboardOptions } from './options.js';
import { matchRoute } from './routes.js';

/** Called when the request is not the dashboard's (outside its base path): Express/Connect's `next`. */
export type NextFunction = (error?: unknown) => void;

export interface Dashboard {
  /**
   * Answers a request under the base path; passes any other to `next` (Express/Connect), or
   * answers it 404 when there is no `next` (node:http). Never throws: errors are JSON answers.
   */
  readonly handler: (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;
  /** Ends the live streams. The client stays open: it is the caller's to close. Idempotent. */
  close(): Promise<void>;
  /** @internal The compiled options (the adapters read the base path). */
  readonly options: CompiledDashboardOptions;
  /** @internal Answers the request if it is under `prefix` + the base path; `false` when it is not the dashboard's. */
  serve(req: IncomingMessage, res: ServerResponse, prefix: string): boolean;
}

export function createDashboard(raw: DashboardOptions): Dashboard {
  return buildDashboard(compileDashboardOptions(raw));
}

/** @internal A dashboard of options already compiled (the adapters compile them with their own names). */
export function buildDashboard(options: CompiledDashboardOptions): Dashboard {
  const csrfToken = newCsrfToken();
  const log = (error: unknown) => console.error('taskchart dashboard:', error);
  const hub = new EventHub(options.client, log);
  const graphs = new GraphCache();
  const holds = new Set<() => void>();
  let closed = false;

  // Whether the client's broker can list dead letters (the dead-letters page is shown only then).
  const deadLetters = () => Promise.resolve(options.client.deadLetterQueues !== undefined);

  const hold = (stop: () => void) => {
    holds.add(stop);
    return () => void holds.delete(stop);
  };

  async function dispatch(req: IncomingMessage, res: ServerResponse, relPath: string, base: string): Promise<void> {
    try {
      if (closed) throw new RuntimeStateError('the dashboard is closed');
      const method = req.method ?? 'GET';
      const found = matchRoute(method, relPath);
      if (!found) throw new DashboardNotFoundError(`no route ${method} ${relPath || '/'}`);
      const { route, params } = found;
      if (route.method === 'POST') {
        if (!options.actions) throw new DashboardForbiddenError('actions are disabled: createDashboard({ actions: true }) enables cancel, retry and redrive');
        if (!hasCsrfToken(req, csrfToken)) throw new DashboardForbiddenError(`missing or wrong ${CSRF_HEADER} header: send the token from GET /api/config`);
      }
      if (!(await options.authorize(req, route.action))) throw new DashboardForbiddenError(`not authorized to ${route.action}`);
      const ctx: RequestContext = {
        req,
        res,
        url: new URL(req.url ?? '/', 'http://dashboard.invalid'),
        params,
        base,
        options,
        csrfToken,
        hub,
        graphs,
        hold,
        log,
        deadLetters,
      };
      await route.handle(ctx);
    } catch (error) {
      sendError(res, error, log);
    }
  }

  function serve(req: IncomingMessage, res: ServerResponse, prefix: string): boolean {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const basePath = options.basePath;
    if (basePath !== '' && path !== basePath && !path.startsWith(`${basePath}/`)) return false;
    void dispatch(req, res, path.slice(basePath.length), `${prefix}${basePath}`);
    return true;
  }

  return {
    options,
    serve,
    handler(req, res, next) {
      // Express/Connect strip their mount path from req.url and keep it in req.baseUrl.
      const baseUrl = (req as { baseUrl?: unknown }).baseUrl;
      const prefix = typeof baseUrl === 'string' ? baseUrl.replace(/\/+$/, '') : '';
      if (serve(req, res, prefix)) return;
      if (next) return next();
      sendError(res, new DashboardNotFoundError(`no route ${req.method ?? 'GET'} ${req.url ?? '/'}: the dashboard answers under ${basePath(options)}`), log);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const stop of [...holds]) stop();
      holds.clear();
      hub.stop();
    },
  };
}

const basePath = (options: CompiledDashboardOptions) => (options.basePath === '' ? '/' : options.basePath);
