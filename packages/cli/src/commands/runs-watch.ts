/**
 * `taskchart runs watch <id>`: prints each of the run's events as it is committed (its history
 * first), until the run settles; the exit code says how it ended.
 */
import type { RunEvent, RunStatus } from '@taskchart/core';
import { EXIT, type ExitCode } from '../errors.js';
import { timelineLine } from '../format.js';
import type { Session } from '../session.js';
import { requireRun } from './runs-read.js';

const SETTLING_EVENTS: ReadonlySet<string> = new Set(['run.completed', 'run.failed', 'run.compensated', 'run.cancelled', 'run.parked']);
const SETTLED: readonly RunStatus[] = ['completed', 'failed', 'compensated', 'cancelled', 'parked'];

/** Exit code 0 when the run completed; 1 when it failed, was compensated, cancelled or parked. */
export async function runsWatch(session: Session, id: string, options: { readonly json?: boolean; readonly signal?: AbortSignal }): Promise<ExitCode> {
  await requireRun(session, id);
  const client = await session.client();
  const feed = client.events({ runId: id });
  // An idle feed only ends when the client closes (after this returns): an interrupt races it.
  const interrupted = new Promise<'interrupted'>((resolve) => {
    if (options.signal?.aborted) resolve('interrupted');
    options.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
  });
  let seen = 0;
  for (;;) {
    const next = await Promise.race([feed.next(), interrupted]);
    if (next === 'interrupted' || next.done === true) break;
    const event = next.value;
    seen++;
    print(session, event, options.json === true);
    if (!SETTLING_EVENTS.has(event.type)) continue;
    // A settling event ends the watch when it is the run's last one (not one a re-drive followed).
    const run = await requireRun(session, id);
    if (SETTLED.includes(run.status) && seen >= run.history.length) {
      if (!options.json) session.out(`run ${id} ${run.status}`);
      return run.status === 'completed' ? EXIT.ok : EXIT.failed;
    }
  }
  // Interrupted (Ctrl-C), or the feed ended because the client closed.
  return EXIT.failed;
}

function print(session: Session, event: RunEvent, json: boolean): void {
  const shown = session.redact(event) as RunEvent;
  if (json) session.json(shown, true);
  else session.out(timelineLine(shown));
}
