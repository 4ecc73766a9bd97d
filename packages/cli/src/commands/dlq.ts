/** `taskchart dlq list` and `taskchart dlq redrive`: the broker's dead letters. */
import { actor, confirm } from '../confirm.js';
import { EXIT, type ExitCode } from '../errors.js';
import { oneLine, table } from '../format.js';
import type { Session } from '../session.js';

export interface DlqListFlags {
  readonly queue?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

/** Lists dead letters (of every queue of the config's chains, or of `--queue`). */
export async function dlqList(session: Session, flags: DlqListFlags): Promise<ExitCode> {
  const client = await session.client();
  const letters = await client.deadLetters({
    ...(flags.queue === undefined ? {} : { queue: flags.queue }),
    ...(flags.limit === undefined ? {} : { limit: flags.limit }),
  });
  const shown = letters.map((l) => ({ ...l, body: redactBody(session, l.body) }));
  if (flags.json) {
    session.json({ deadLetters: shown });
    return EXIT.ok;
  }
  if (shown.length === 0) {
    session.out('no dead letters');
    return EXIT.ok;
  }
  const rows = shown.map((l) => [l.id, l.queue, l.runId ?? '-', l.chain ?? '-', l.step ?? '-', oneLine(l.reason, 80)]);
  session.out(table(['ID', 'QUEUE', 'RUN', 'CHAIN', 'STEP', 'REASON'], rows));
  return EXIT.ok;
}

/** A body redacted as JSON when it parses as JSON, as text otherwise. */
function redactBody(session: Session, body: string): string {
  try {
    return JSON.stringify(session.redact(JSON.parse(body)));
  } catch {
    return session.redact(body) as string;
  }
}

export interface DlqRedriveFlags {
  readonly queue: string;
  readonly id?: string[];
  readonly yes?: boolean;
  readonly json?: boolean;
}

/** Moves dead letters of `--queue` (all, or those `--id` names) back to their queue. */
export async function dlqRedrive(session: Session, flags: DlqRedriveFlags): Promise<ExitCode> {
  const client = await session.client();
  const which = flags.id && flags.id.length > 0 ? `${flags.id.length} dead letter(s)` : 'every dead letter';
  if (!(await confirm(session, `Move ${which} of queue ${flags.queue} back to the queue?`, flags.yes))) {
    session.err('nothing moved');
    return EXIT.usage;
  }
  const moved = await client.redriveDeadLetters({ queue: flags.queue, ...(flags.id && flags.id.length > 0 ? { ids: flags.id } : {}), by: actor() });
  if (flags.json) session.json({ moved });
  else session.out(`moved ${moved} dead letter(s) back to ${flags.queue}`);
  return EXIT.ok;
}
