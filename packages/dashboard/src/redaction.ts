/**
 * What the API sends of a run, an event or a dead letter, redacted as the Sentry plugin redacts:
 * the value of every key the rules name is `[Filtered]` at any depth, and `key=value` pairs in
 * error messages and stacks too.
 */
import type { DeadLetter, RunEvent, RunInfo } from '@taskchart/core';
import { redactText, redactValue, type HistoryEntry, type SerializedError } from '@taskchart/core/adapter';

type Redacts = (key: string) => boolean;
export type RunSummary = Omit<RunInfo, 'history'>;

export function redactError(error: SerializedError, redacts: Redacts): SerializedError {
  return { ...error, message: redactText(error.message, redacts), ...(error.stack === undefined ? {} : { stack: redactText(error.stack, redacts) }) };
}

/** A run's input, output and error redacted; its history too when it has one. */
export function redactRun<R extends RunSummary & { history?: readonly HistoryEntry[] }>(run: R, redacts: Redacts): R {
  return {
    ...run,
    input: redactValue(run.input, redacts),
    ...('output' in run ? { output: redactValue(run.output, redacts) } : {}),
    ...(run.error ? { error: redactError(run.error, redacts) } : {}),
    ...(run.history ? { history: run.history.map((entry) => redactEntry(entry, redacts)) } : {}),
  };
}

/** A summary: the run without its history, redacted. */
export function summary(run: RunSummary & { history?: unknown }, redacts: Redacts): RunSummary {
  const rest = Object.fromEntries(Object.entries(run).filter(([key]) => key !== 'history')) as unknown as RunSummary;
  return redactRun(rest, redacts);
}

function redactEntry(entry: HistoryEntry, redacts: Redacts): HistoryEntry {
  return {
    ...entry,
    ...(entry.error ? { error: redactError(entry.error, redacts) } : {}),
    ...(entry.reason === undefined ? {} : { reason: redactText(entry.reason, redacts) }),
  };
}

export function redactEvent(event: RunEvent, redacts: Redacts): RunEvent {
  const out: Record<string, unknown> = { ...event };
  if ('error' in event) out['error'] = redactError(event.error, redacts);
  if ('output' in event) out['output'] = redactValue(event.output, redacts);
  if ('reason' in event && typeof event.reason === 'string') out['reason'] = redactText(event.reason, redacts);
  return out as unknown as RunEvent;
}

/** A dead letter with its body redacted (as JSON when it parses, as text otherwise) and its header values too. */
export function redactDeadLetter(letter: DeadLetter, redacts: Redacts): DeadLetter {
  let body: string;
  try {
    body = JSON.stringify(redactValue(JSON.parse(letter.body) as unknown, redacts));
  } catch {
    body = redactText(letter.body, redacts);
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(letter.headers)) headers[key] = redacts(key) ? '[Filtered]' : redactText(value, redacts);
  return { ...letter, body, headers, reason: redactText(letter.reason, redacts) };
}
