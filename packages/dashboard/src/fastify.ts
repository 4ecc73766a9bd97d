/**
 * `fastifyDashboard(options)`: the dashboard as a Fastify plugin. Register it with a prefix:
 * `app.register(fastifyDashboard({ client }), { prefix: '/taskchart' })`. Each request is
 * hijacked (`reply.hijack()`) and answered on the raw node:http request and response; the
 * plugin's scope parses no bodies (the dashboard reads its own).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { buildDashboard } from './dashboard.js';
import { DashboardNotFoundError } from './errors.js';
import { sendError } from './http.js';
import { compileDashboardOptions, joinBasePaths, normaliseBasePath, type DashboardOptions } from './options.js';

const OWNER = 'fastifyDashboard';

export function fastifyDashboard(options: DashboardOptions): FastifyPluginAsync {
  // Checked now, so a wrong option fails where the plugin is built, not at app.ready().
  const compiled = compileDashboardOptions(options, OWNER);
  return async (instance) => {
    const dashboard = buildDashboard({ ...compiled, basePath: joinBasePaths(normaliseBasePath(instance.prefix || '/', OWNER), compiled.basePath) });
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handle = (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      if (dashboard.serve(request.raw, reply.raw, '')) return;
      sendError(reply.raw, new DashboardNotFoundError(`no route ${request.method} ${request.url}`), () => {});
    };
    instance.all('/', handle);
    instance.all('/*', handle);
    instance.addHook('onClose', async () => dashboard.close());
  };
}
