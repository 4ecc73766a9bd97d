/**
 * What the CLI reports and the exit code it ends with. Errors keep stable `name`s (as every
 * Taskchart error does); the exit code is decided by name, not `instanceof`, because the config
 * file is loaded by jiti and may bring its own copy of `@taskchart/core`.
 */
import { TaskchartError } from '@taskchart/core';

/** Exit codes of the `taskchart` command. */
export const EXIT = {
  /** The command did what it was asked and found nothing wrong. */
  ok: 0,
  /** The thing asked about failed or has problems (a watched run failed, a deploy would strand runs, a retry was refused). */
  failed: 1,
  /** A usage or config error: a bad flag, a missing or invalid config file, a refused confirmation. */
  usage: 2,
  /** What was named does not exist (a run id, a chain, a chain version). */
  notFound: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What the command line names does not exist: a run, a chain, a chain version. Exit code 3. */
export class NotFoundError extends TaskchartError {
  override readonly name = 'NotFoundError';
}

/** The command line or the config is wrong (a bad flag value, a refused confirmation). Exit code 2. */
export class UsageError extends TaskchartError {
  override readonly name = 'UsageError';
}

/** Error names that mean "usage or config error" (exit code 2). */
const USAGE_ERRORS = new Set(['UsageError', 'InvalidOptionError', 'UnknownChainError', 'CommanderError']);

/** The exit code for an error a command threw. */
export function exitCodeOf(error: unknown): ExitCode {
  const name = error instanceof Error ? error.name : '';
  if (name === 'NotFoundError') return EXIT.notFound;
  if (USAGE_ERRORS.has(name)) return EXIT.usage;
  return EXIT.failed;
}

/** How an error is shown on stderr: its name and message; the stack only with `--debug`. */
export function describeError(error: unknown, debug: boolean): string {
  if (!(error instanceof Error)) return `taskchart: ${String(error)}`;
  if (debug) return `taskchart: ${error.stack ?? `${error.name}: ${error.message}`}${causeOf(error)}`;
  const label = error.name === 'Error' || error.name === 'UsageError' ? '' : `${error.name}: `;
  return `taskchart: ${label}${error.message}`;
}

function causeOf(error: Error): string {
  return error.cause instanceof Error ? `\ncaused by: ${error.cause.stack ?? error.cause.message}` : '';
}
