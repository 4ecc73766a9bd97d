/**
 * `@taskchart/cli`: the `taskchart` command. Import `defineConfig` in `taskchart.config.ts`;
 * `run` runs the command line in process (what the `taskchart` executable calls).
 */
export { defineConfig, type TaskchartConfig } from './config.js';
export { EXIT, NotFoundError, UsageError, type ExitCode } from './errors.js';
export { run, INTERRUPTED } from './program.js';
export type { Io, Output } from './session.js';
