/** `taskchart runs list` and `taskchart runs show <id>`. */
import type { RunInfo, RunStatus } from '@taskchart/core';
import { EXIT, NotFoundError, type ExitCode } from '../errors.js';
import { formatState, formatTime, oneLine, table, timelineLine } from '../format.js';
import type { Session } from '../session.js';

export interface RunsListOptions {
  readonly status?: RunStatus[];
  readonly chain?: string;
  /** Epoch ms (`--since`). */
  readonly since?: number;
  readonly limit?: number;
  readonly cursor?: string;
  readonly json?: boolean;
}

/** Lists runs, newest first, one page; prints the cursor of the next. */
export async function runsList(session: Session, options: RunsListOptions): Promise<ExitCode> {
  const client = await session.client();
  const page = await client.listRuns({
    ...(options.status ? { status: options.status } : {}),
    ...(options.chain === undefined ? {} : { chain: options.chain }),
    ...(options.since === undefined ? {} : { createdAfter: options.since }),
    limit: options.limit ?? 20,
    ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
  });
  if (options.json) {
    session.json({ runs: page.runs.map((r) => session.redact(r)), ...(page.next === undefined ? {} : { next: page.next }) });
    return EXIT.ok;
  }
  if (page.runs.length === 0) session.out('no runs');
  else {
    const rows = page.runs.map((r) => [r.id, r.chain, r.status, r.step ?? '-', String(r.attempts), formatTime(r.createdAt), formatTime(r.updatedAt)]);
    session.out(table(['ID', 'CHAIN', 'STATUS', 'STEP', 'ATTEMPTS', 'CREATED', 'UPDATED'], rows));
  }
  if (page.next !== undefined) session.out(`\nmore: --cursor ${page.next}`);
  return EXIT.ok;
}

/** Loads run `id` or throws `NotFoundError`. */
export async function requireRun(session: Session, id: string): Promise<RunInfo> {
  const client = await session.client();
  const run = await client.getRun(id);
  if (!run) throw new NotFoundError(`no run "${id}"`);
  return run;
}

/** Prints a run: its summary and its history. */
export async function runsShow(session: Session, id: string, options: { readonly json?: boolean }): Promise<ExitCode> {
  const run = await requireRun(session, id);
  if (options.json) {
    session.json(session.redact(run));
    return EXIT.ok;
  }
  session.out(describeRun(session, run));
  return EXIT.ok;
}

function describeRun(session: Session, run: RunInfo): string {
  const fields: [string, string][] = [
    ['run', run.id],
    ['chain', run.chainVersion === undefined ? run.chain : `${run.chain} (version ${run.chainVersion})`],
    ['status', run.status],
    ['state', formatState(run.state)],
    ['step', run.step ?? '-'],
    ['attempts', `${run.attempts} (${run.totalAttempts} in the run)`],
    ['created', formatTime(run.createdAt)],
    ['updated', formatTime(run.updatedAt)],
    ['input', oneLine(session.redact(run.input))],
  ];
  if ('output' in run) fields.push(['output', oneLine(session.redact(run.output))]);
  if (run.error) {
    const error = session.redact(run.error) as { name?: string; message?: string };
    fields.push(['error', `${error.name ?? 'Error'}: ${error.message ?? ''}`]);
  }
  if (run.failedStep !== undefined) fields.push(['failed', `step ${run.failedStep} after ${run.failedAttempts ?? '?'} attempt(s)${run.failedTask && run.failedTask !== run.failedStep ? ` (task ${run.failedTask})` : ''}`]);
  const width = Math.max(...fields.map(([k]) => k.length));
  const summary = fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  const history = run.history.map((entry) => `  ${timelineLine(session.redact(entry) as typeof entry)}`).join('\n');
  return `${summary}\n\nhistory (UTC)\n${history || '  (none)'}`;
}
