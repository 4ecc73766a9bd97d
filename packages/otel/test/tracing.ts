/**
 * Test helpers: the real OpenTelemetry SDK (tracer provider, in-memory exporter, W3C propagator,
 * AsyncLocalStorage context manager), and reading span trees back.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context, propagation, trace, type SpanKind } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  readonly provider: BasicTracerProvider;
  readonly exporter: InMemorySpanExporter;
}

/** A provider that keeps every finished span in memory. */
export function memoryTracing(): Tracing {
  const exporter = new InMemorySpanExporter();
  return { exporter, provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }) };
}

/** Registers the SDK's context manager and W3C propagator (and `provider`, if given) globally, as an application's setup would. */
export function registerGlobals(provider?: BasicTracerProvider): () => void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (provider) trace.setGlobalTracerProvider(provider);
  return () => {
    trace.disable();
    propagation.disable();
    context.disable();
  };
}

/** A span as the assertions read it. */
export interface SpanView {
  readonly name: string;
  readonly kind: SpanKind;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string | undefined;
  readonly attributes: ReadableSpan['attributes'];
  readonly status: ReadableSpan['status'];
  readonly events: readonly string[];
}

export function view(span: ReadableSpan): SpanView {
  const { traceId, spanId } = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId,
    spanId,
    parentId: span.parentSpanContext?.spanId,
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((e) => e.name),
  };
}

/** The names from `span` up to the root of its trace, following parent ids (`spans` must hold them all). */
export function ancestry(spans: readonly SpanView[], span: SpanView): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const names: string[] = [];
  for (let s: SpanView | undefined = span; s; s = s.parentId === undefined ? undefined : byId.get(s.parentId)) {
    names.push(s.attributes['taskchart.attempt'] === undefined || s.name.startsWith('run ') ? s.name : `${s.name}#${String(s.attributes['taskchart.attempt'])}`);
    if (s.parentId !== undefined && !byId.has(s.parentId)) names.push(`(missing parent ${s.parentId})`);
  }
  return names.reverse();
}
