/** `taskchart runs cancel <id>` and `taskchart runs retry <id>`: actions, confirmed unless `--yes`. */
import { actor, confirm } from '../confirm.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Session } from '../session.js';
import { requireRun } from './runs-read.js';

export interface CancelFlags {
  readonly reason?: string;
  /** `--no-compensate` sets it false. @defaultValue true */
  readonly compensate: boolean;
  readonly yes?: boolean;
  readonly json?: boolean;
}

/** Cancels a run. Exit code 1 when it had finished already (nothing cancelled). */
export async function runsCancel(session: Session, id: string, flags: CancelFlags): Promise<ExitCode> {
  const run = await requireRun(session, id);
  const how = flags.compensate ? 'compensating its completed steps' : 'without compensating';
  if (!(await confirm(session, `Cancel run ${id} (chain ${run.chain}, ${run.status}), ${how}?`, flags.yes))) {
    session.err('not cancelled');
    return EXIT.usage;
  }
  const client = await session.client();
  const outcome = await client.cancel(id, {
    ...(flags.reason === undefined ? {} : { reason: flags.reason }),
    compensate: flags.compensate,
    by: actor(),
  });
  if (flags.json) session.json({ id, ...outcome });
  else session.out(outcome.message);
  return outcome.cancelled ? EXIT.ok : EXIT.failed;
}

export interface RetryFlags {
  readonly from: 'failed-step' | 'start';
  readonly yes?: boolean;
  readonly json?: boolean;
}

/** Re-drives a finished or parked run. A refusal (`RuntimeStateError`, with the reason) exits 1. */
export async function runsRetry(session: Session, id: string, flags: RetryFlags): Promise<ExitCode> {
  const run = await requireRun(session, id);
  const where = flags.from === 'start' ? 'from its first step' : 'at the step that failed';
  if (!(await confirm(session, `Retry run ${id} (chain ${run.chain}, ${run.status}) ${where}?`, flags.yes))) {
    session.err('not retried');
    return EXIT.usage;
  }
  const client = await session.client();
  const info = await client.retry(id, { from: flags.from, by: actor() });
  if (flags.json) session.json(session.redact({ ...info, history: undefined }));
  else session.out(`run ${id} re-driven: ${info.status}${info.step === undefined ? '' : ` at step ${info.step}`}`);
  return EXIT.ok;
}
