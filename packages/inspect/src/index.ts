/**
 * `@taskchart/inspect`: durable runs in the Stately inspector. Feeds any `@statelyai/inspect`
 * inspector (or an XState inspection observer) the events a live actor would emit, read from the
 * store's event log. See README.md.
 */
export { inspectRuns, type RunInspection } from './inspect-runs.js';
export type { InspectionTarget, InspectRunsOptions } from './options.js';
/** Moved to `@taskchart/core`; still exported here for existing imports. */
export { machineConfig, machineSource } from '@taskchart/core';
export { runSessionId } from './run-replay.js';
