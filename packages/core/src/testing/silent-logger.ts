import type { Logger } from '../runtime/runtime-options.js';

/** A logger that drops everything: for tests that provoke warnings on purpose. */
export const silentLogger: Logger = { warn: () => undefined, error: () => undefined };
