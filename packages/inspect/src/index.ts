/**
 * `@taskchart/inspect`: durable runs in the Stately inspector. Feeds any `@statelyai/inspect`
 * inspector (or an XState inspection observer) the events a live actor would emit, read from the
 * store's event log. See README.md.
 */
export { inspectRuns, type RunInspection } from './inspect-runs.js';
export type { InspectionTarget, InspectRunsOptions } from './options.js';
export { machineConfig, machineSource } from './export-machine.js';
export { runSessionId } from './run-replay.js';
