import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import type { AttemptContext, AttemptOutcome, MessageCause, OutgoingMessage, Plugin } from '@taskchart/core';
import { ATTR, processAttributes, sendAttributes, type Operation } from './attributes.js';
import { compileOtelOptions, type OtelPluginOptions } from './options.js';

/**
 * Traces runs with OpenTelemetry, through `@opentelemetry/api` only (a no-op until the
 * application registers a tracer provider):
 *
 * - `run <chain>` (PRODUCER): starting a run; a child of whatever span is current in the caller.
 * - `process <task>` / `compensate <task>` (CONSUMER): each attempt, in whichever process runs it,
 *   a child of the span that wrote its message; current while the task runs, so the task's own
 *   spans (HTTP, SQL) nest under it. A failed attempt records the error and has status ERROR.
 * - `publish <task>` / `retry <task>` (PRODUCER): each message an attempt's outcome or a fired
 *   timer writes (the next step, a compensation, the next attempt, a retry timer), a child of
 *   the attempt or of the timer's span.
 *
 * Each message carries its writer's trace context in its headers (`traceparent`, through the
 * propagator), so one run is one trace across processes and brokers, retries and compensations.
 */
export function otelPlugin(options?: OtelPluginOptions): Plugin {
  const o = compileOtelOptions(options);
  /** The context of each attempt's span, for the messages its outcome writes. */
  const attempts = new WeakMap<AttemptContext, Context>();
  /** The run span of a start, so every message of one start shares it. */
  const starts = new WeakMap<MessageCause, Context>();

  const spanOf = (message: OutgoingMessage, operation: Operation, parent: Context): Context => {
    const name = operation === 'run' ? `run ${message.chain}` : `${operation} ${message.task}`;
    const span = o.tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes: sendAttributes(message, operation, o.system) }, parent);
    span.end();
    return trace.setSpan(parent, span);
  };

  /** The context the message is written in: the run span, or a publish span under what caused it. */
  const writerOf = (message: OutgoingMessage): Context => {
    const { cause } = message;
    if (cause.kind === 'start') {
      let run = starts.get(cause);
      if (!run) starts.set(cause, (run = spanOf(message, 'run', context.active())));
      return run;
    }
    const parent = cause.kind === 'attempt' ? (attempts.get(cause.attempt) ?? o.extract(ROOT_CONTEXT, cause.attempt.headers)) : o.extract(ROOT_CONTEXT, cause.headers);
    return spanOf(message, message.kind === 'timer' ? 'retry' : 'publish', parent);
  };

  return {
    name: 'otel',
    wrapAttempt(ctx: AttemptContext, next: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
      const parent = o.extract(ROOT_CONTEXT, ctx.headers);
      const name = `${ctx.compensation ? 'compensate' : 'process'} ${ctx.task}`;
      const span = o.tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes: processAttributes(ctx, o.system) }, parent);
      const active = trace.setSpan(parent, span);
      attempts.set(ctx, active);
      return context.with(active, async () => {
        try {
          const outcome = await next();
          if (!outcome.ok) {
            const { name: type, message } = outcome.error;
            span.recordException({ name: type, message });
            span.setAttribute(ATTR.errorType, type);
            span.setStatus({ code: SpanStatusCode.ERROR, message: `${type}: ${message}` });
          }
          return outcome;
        } finally {
          span.end();
        }
      });
    },
    messageHeaders(message: OutgoingMessage) {
      const headers: Record<string, string> = {};
      o.inject(writerOf(message), headers);
      // Nothing written (no propagator registered): the message goes as it was.
      return Object.keys(headers).length > 0 ? headers : undefined;
    },
  };
}
