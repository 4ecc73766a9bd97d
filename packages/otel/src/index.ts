/**
 * `@taskchart/otel`: OpenTelemetry spans for runs, attempts and the messages between them, with
 * the trace context carried in message headers across workers and brokers. See README.md.
 */
export { otelPlugin } from './otel-plugin.js';
export type { OtelPluginOptions } from './options.js';
