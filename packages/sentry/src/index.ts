/**
 * `@taskchart/sentry`: reports final failures to Sentry the way Celery teams know it (`Task X has
 * failed N times`), with retries as breadcrumbs and secrets redacted. See README.md.
 */
export { sentryPlugin } from './sentry-plugin.js';
export { DEFAULT_REDACT, type RedactRule } from '@taskchart/core/adapter';
export type { SentryPluginOptions } from './options.js';
