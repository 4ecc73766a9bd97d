import { createHash } from 'node:crypto';
import * as Sentry from '@sentry/node';
import type { FailureReport } from '@taskchart/core';
import type { CompiledSentryOptions } from './options.js';
import { capValue, redactText, redactValue } from '@taskchart/core/adapter';

/**
 * The Celery-style title: `Task <task> has failed <n> times: <message>`; for a compensation
 * `Compensation of task <task> has failed <n> times: <message>`; for a parked run
 * `Run of chain <chain> parked at task <task>: <message>`.
 */
export function failureTitle(report: FailureReport, message: string): string {
  if (report.parked) return `Run of chain ${report.chain} parked at task ${report.task}: ${message}`;
  const what = report.compensation ? `Compensation of task ${report.task}` : `Task ${report.task}`;
  return `${what} has failed ${report.attempts} times: ${message}`;
}

/**
 * One id per failure: the same report delivered twice (the outbox is at least once) is the same
 * Sentry event, and Sentry drops the second. 32 hex digits, as Sentry's event ids.
 */
export function failureEventId(report: FailureReport): string {
  const kind = `${report.compensation ? 'compensation' : 'step'}:${report.parked ? 'parked' : 'failed'}`;
  return createHash('sha256').update(JSON.stringify(['taskchart', report.runId, report.step, kind])).digest('hex').slice(0, 32);
}

/** The Sentry event of one failure report: the original error as the cause of the titled one. */
export function failureEvent(report: FailureReport, options: CompiledSentryOptions, breadcrumbs: readonly Sentry.Breadcrumb[]): Sentry.Event {
  const message = redactText(report.error.message, options.redacts);
  const parser = Sentry.getClient()?.getOptions().stackParser ?? Sentry.defaultStackParser;
  const frames = report.error.stack ? parser(redactText(report.error.stack, options.redacts)) : [];
  const cause: Sentry.Exception = {
    type: report.error.name,
    value: message,
    // Empty frames rather than none: the dedupe integration compares the frames of every value and
    // treats a value without a stacktrace as "no frames at all", hiding the run frame below.
    stacktrace: { frames },
    mechanism: { type: 'chained', source: 'cause', handled: true, exception_id: 1, parent_id: 0 },
  };
  const type = report.parked ? 'TaskchartRunParked' : report.compensation ? 'TaskchartCompensationFailed' : 'TaskchartTaskFailed';
  const main: Sentry.Exception = {
    type,
    value: failureTitle(report, message),
    // One frame naming the run: the SDK's dedupe integration drops an error event that repeats the
    // previous one (same exception, frames and fingerprint), and two runs failing alike are two events.
    stacktrace: { frames: [{ function: `${report.chain} run ${report.runId}`, module: 'taskchart', filename: `taskchart:${report.chain}/${report.step}`, in_app: false }] },
    mechanism: { type: 'taskchart', handled: true, exception_id: 0 },
  };
  const tags: Record<string, string> = { chain: report.chain, task: report.task, run_id: report.runId, step: report.step };
  if (report.queue !== undefined) tags['queue'] = report.queue;
  if (report.compensation) tags['compensation'] = 'true';
  if (report.parked) tags['parked'] = 'true';
  return {
    event_id: failureEventId(report),
    level: 'error',
    logger: 'taskchart',
    // Sentry lists chained exceptions oldest first: the cause, then the titled error.
    exception: { values: [cause, main] },
    tags,
    extra: { attempts: report.attempts, step: report.step, input: capValue(redactValue(report.input, options.redacts), options.maxValueBytes) },
    fingerprint: options.fingerprint(report),
    ...(breadcrumbs.length > 0 ? { breadcrumbs: [...breadcrumbs] } : {}),
  };
}
