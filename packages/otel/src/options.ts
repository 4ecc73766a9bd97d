import { propagation, trace, type Context, type TextMapPropagator, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { assertKnownKeys, InvalidOptionError } from '@taskchart/core/adapter';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

export interface OtelPluginOptions {
  /**
   * Where the spans go.
   * @defaultValue the global provider (`trace.getTracerProvider()`): a no-op until the application
   * registers one (`NodeSDK.start()`, `provider.register()`, `trace.setGlobalTracerProvider`), and
   * used from then on even when registered after the plugin was made
   */
  tracerProvider?: TracerProvider;
  /**
   * Writes the trace context into message headers and reads it back.
   * @defaultValue the global propagator (`propagation`): W3C `traceparent` / `tracestate` (and
   * `baggage`) once an SDK is set up; a no-op before, and then no header is added
   */
  propagator?: TextMapPropagator;
  /**
   * The `messaging.system` attribute of every span: the broker the runtime uses, in the semantic
   * conventions' words (`rabbitmq`, `aws_sqs`), or any lower-case name.
   * @defaultValue 'taskchart'
   */
  system?: string;
}

export interface CompiledOtelOptions {
  readonly tracer: Tracer;
  readonly system: string;
  /** Writes the trace context of `ctx` into `carrier`. */
  readonly inject: (ctx: Context, carrier: Record<string, string>) => void;
  /** The context the trace context in `carrier` names, on top of `ctx`. */
  readonly extract: (ctx: Context, carrier: Readonly<Record<string, string>>) => Context;
}

const OWNER = 'otelPlugin';
const KEYS = ['tracerProvider', 'propagator', 'system'] as const;

const setter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };
const getter = {
  get: (carrier: Readonly<Record<string, string>>, key: string) => carrier[key],
  keys: (carrier: Readonly<Record<string, string>>) => Object.keys(carrier),
};

/** Validates and normalises the options, once. */
export function compileOtelOptions(options: unknown): CompiledOtelOptions {
  if (options === undefined) options = {};
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionError(OWNER, 'options must be an object');
  assertKnownKeys(options, KEYS, OWNER);
  const raw = options as OtelPluginOptions;
  const provider = raw.tracerProvider;
  if (provider !== undefined && (typeof provider !== 'object' || provider === null || typeof provider.getTracer !== 'function')) {
    throw new InvalidOptionError(`${OWNER}: tracerProvider`, 'must be an OpenTelemetry TracerProvider (an object with getTracer())');
  }
  const propagator = raw.propagator;
  if (propagator !== undefined && (typeof propagator !== 'object' || propagator === null || typeof propagator.inject !== 'function' || typeof propagator.extract !== 'function')) {
    throw new InvalidOptionError(`${OWNER}: propagator`, 'must be an OpenTelemetry TextMapPropagator (an object with inject() and extract())');
  }
  const system = raw.system ?? 'taskchart';
  if (typeof system !== 'string' || !/^[a-z][a-z0-9_.]{0,63}$/.test(system)) {
    throw new InvalidOptionError(`${OWNER}: system`, `must be a lower-case name of 1 to 64 characters (letters, digits, _ and .), such as "rabbitmq" or "aws_sqs", got ${JSON.stringify(system)}`);
  }
  return {
    tracer: (provider ?? trace.getTracerProvider()).getTracer(PACKAGE_NAME, PACKAGE_VERSION),
    system,
    inject: propagator ? (ctx, carrier) => propagator.inject(ctx, carrier, setter) : (ctx, carrier) => propagation.inject(ctx, carrier, setter),
    extract: propagator ? (ctx, carrier) => propagator.extract(ctx, carrier, getter) : (ctx, carrier) => propagation.extract(ctx, carrier, getter),
  };
}
