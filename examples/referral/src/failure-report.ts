/** How `onFailure` reports a step that failed for good: in the style of a Celery `on_failure`. */
import type { FailureReport } from '@taskchart/core';
import type { Out, Paint } from './output.js';

export function printFailure(report: FailureReport, out: Out, p: Paint): void {
  const what = report.compensation ? `compensation of ${report.task}` : `Task ${report.task}`;
  const stack = (report.error.stack ?? '').split('\n').slice(1, 3).map((l) => l.trim());
  out(p.red(`  ┌ onFailure: ${what}[${report.runId}] has failed ${report.attempts} times`));
  out(p.red(`  │ chain: ${report.chain}   step: ${report.step}   attempts: ${report.attempts}`));
  out(p.red(`  │ input: ${JSON.stringify(report.input)}`));
  out(p.red(`  │ error: ${report.error.name}: ${report.error.message}`));
  for (const line of stack) out(p.red(`  │   ${line}`));
  out(
    p.red(
      report.compensation
        ? '  └ a compensation gave up: the run ends failed and needs a human'
        : '  └ rolling back: compensations of the completed steps run now, in reverse order',
    ),
  );
}
