/** The instrumentation scope the spans are reported under. */
export const PACKAGE_NAME = '@taskchart/otel';
export const PACKAGE_VERSION = '0.1.0';
