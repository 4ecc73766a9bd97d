import { readFileSync } from 'node:fs';
import { trace } from '@opentelemetry/api';
import { InvalidOptionError } from '@taskchart/core';
import { describe, expect, it } from 'vitest';
import { otelPlugin } from '../src/index.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../src/version.js';

describe('otelPlugin options', () => {
  it('takes no options, and names the plugin and its hooks', () => {
    const plugin = otelPlugin();
    expect(plugin.name).toBe('otel');
    expect(typeof plugin.wrapAttempt).toBe('function');
    expect(typeof plugin.messageHeaders).toBe('function');
  });

  it('reports its spans under the package name and version', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    expect([PACKAGE_NAME, PACKAGE_VERSION]).toEqual([manifest.name, manifest.version]);
  });

  it('rejects unknown keys, naming the nearest valid one', () => {
    expect(() => otelPlugin({ tracerprovider: trace.getTracerProvider() } as never)).toThrow(InvalidOptionError);
    expect(() => otelPlugin({ tracerprovider: 1 } as never)).toThrow('otelPlugin: tracerprovider: unknown option; did you mean "tracerProvider"?');
  });

  it('rejects what is not a tracer provider, a propagator or a system name, naming the option', () => {
    expect(() => otelPlugin({ tracerProvider: {} as never })).toThrow('otelPlugin: tracerProvider: must be an OpenTelemetry TracerProvider');
    expect(() => otelPlugin({ propagator: { inject: () => undefined } as never })).toThrow('otelPlugin: propagator: must be an OpenTelemetry TextMapPropagator');
    expect(() => otelPlugin({ system: 'RabbitMQ' })).toThrow('otelPlugin: system: must be a lower-case name');
    expect(() => otelPlugin({ system: '' })).toThrow('otelPlugin: system');
    expect(() => otelPlugin('rabbitmq' as never)).toThrow('otelPlugin: options must be an object');
  });
});
