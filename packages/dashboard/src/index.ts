/**
 * `@taskchart/dashboard`: a self-hosted web console for Taskchart. `createDashboard()` is a
 * request handler for node:http and Express/Connect; `startDashboard()` runs it on its own server.
 * The Fastify plugin and the Hono middleware are in `@taskchart/dashboard/fastify` and
 * `@taskchart/dashboard/hono`.
 */
export { createDashboard, type Dashboard, type NextFunction } from './dashboard.js';
export { startDashboard, DEFAULT_PORT, type StandaloneDashboard, type StandaloneDashboardOptions } from './standalone.js';
export type { DashboardAction, DashboardOptions } from './options.js';
export type { DashboardClient } from './client.js';
export { CSRF_HEADER } from './csrf.js';
export { DashboardForbiddenError, DashboardNotFoundError, DashboardRequestError } from './errors.js';
export type { RunSummary } from './redaction.js';
