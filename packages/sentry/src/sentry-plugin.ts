import * as Sentry from '@sentry/node';
import type { Breadcrumb } from '@sentry/node';
import type { AttemptContext, AttemptOutcome, FailureReport, Plugin, RunEvent, SerializedError } from '@taskchart/core';
import { RunBreadcrumbs } from './breadcrumbs.js';
import { failureEvent } from './failure-event.js';
import { compileSentryOptions, type CompiledSentryOptions, type SentryPluginOptions } from './options.js';
import { redactText } from '@taskchart/core/adapter';

/** The tags an attempt's isolation scope carries; cleared from the scopes a failure is captured in. */
const ATTEMPT_TAGS = ['run_id', 'chain', 'task', 'queue', 'step', 'attempt', 'compensation', 'parked'] as const;

/**
 * The Sentry plugin: one Sentry event per final failure (`Task <task> has failed <n> times: …`),
 * retries and failed attempts as breadcrumbs, each attempt in its own isolation scope. Uses the
 * client the application set up with `Sentry.init` (`@sentry/node`); without one it sends nothing.
 */
export function sentryPlugin(options?: SentryPluginOptions): Plugin {
  const compiled = compileSentryOptions(options);
  const crumbs = new RunBreadcrumbs();
  return {
    name: 'sentry',
    onEvent: (event) => onEvent(event, compiled, crumbs),
    onFailure: (report) => captureFailure(report, compiled, crumbs),
    wrapAttempt: (ctx, next) => inIsolationScope(ctx, next),
  };
}

function onEvent(event: RunEvent, options: CompiledSentryOptions, crumbs: RunBreadcrumbs): void {
  const timestamp = event.at / 1000;
  switch (event.type) {
    case 'step.failed':
    case 'compensation.failed': {
      crumbs.add(event.runId, failedAttemptCrumb(event.runId, event.step, event.task, event.attempt, event.type === 'compensation.failed', event.error, timestamp, options));
      return;
    }
    case 'step.retrying':
    case 'compensation.retrying': {
      const what = event.type === 'step.retrying' ? 'Task' : 'Compensation of task';
      const message = `${what} ${event.task} will retry (attempt ${event.attempt}) in ${event.delayMs} ms`;
      crumbs.add(event.runId, { category: 'taskchart', type: 'default', level: 'warning', message, timestamp, data: { run_id: event.runId, step: event.step, attempt: event.attempt, delay_ms: event.delayMs } });
      return;
    }
    case 'run.completed':
      // A run that recovered sends nothing; its retries are forgotten.
      crumbs.forget(event.runId);
      return;
    default:
      return;
  }
}

function failedAttemptCrumb(runId: string, step: string, task: string, attempt: number, compensation: boolean, error: SerializedError, timestamp: number, options: CompiledSentryOptions): Breadcrumb {
  const what = compensation ? 'Compensation of task' : 'Task';
  const message = `${what} ${task} attempt ${attempt} failed: ${error.name}: ${redactText(error.message, options.redacts)}`;
  return { category: 'taskchart', type: 'error', level: 'error', message, timestamp, data: { run_id: runId, step, attempt, compensation } };
}

async function captureFailure(report: FailureReport, options: CompiledSentryOptions, crumbs: RunBreadcrumbs): Promise<void> {
  const seen = crumbs.of(report.runId);
  // The hook may be called before the run events of the commit that failed the step reach
  // onEvent (or in another process): the last attempt's failure is then added from the report.
  const last = seen.some((c) => c.level === 'error' && c.data?.['step'] === report.step && c.data['attempt'] === report.attempts && c.data['compensation'] === report.compensation);
  const lastCrumb = report.parked || last ? [] : [failedAttemptCrumb(report.runId, report.step, report.task, report.attempts, report.compensation, report.error, Date.now() / 1000, options)];
  const event = failureEvent(report, options, [...seen, ...lastCrumb]);
  // Fresh scopes: the hook may run in an attempt's async context, whose tags and breadcrumbs
  // belong to that attempt, not to this report.
  Sentry.withIsolationScope((isolation) => {
    Sentry.withScope((scope) => {
      for (const s of [isolation, scope]) {
        s.clearBreadcrumbs();
        for (const tag of ATTEMPT_TAGS) s.setTag(tag, undefined);
      }
      scope.captureEvent(event);
    });
  });
  // The report leaves the outbox when this hook returns: the event must be sent by then.
  if (options.flushTimeout > 0) await Sentry.flush(options.flushTimeout);
}

function inIsolationScope(ctx: AttemptContext, next: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
  return Sentry.withIsolationScope((scope) => {
    scope.setTags({ run_id: ctx.runId, chain: ctx.chain, task: ctx.task, queue: ctx.queue, step: ctx.step, attempt: String(ctx.attempt), compensation: ctx.compensation ? 'true' : undefined, parked: undefined });
    return next();
  });
}
