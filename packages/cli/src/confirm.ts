/** Confirmation before an action, and who the CLI says acted. */
import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.js';
import type { Session } from './session.js';

/**
 * Asks `question` (y/N) on a terminal; `yes` (the `--yes` flag) skips it. Without `--yes` and
 * with stdin not a terminal (a script, a pipe), refuses: an action is never taken unasked.
 * Resolves `true` to go ahead, `false` when the answer was no.
 */
export async function confirm(session: Session, question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  const { stdin, stderr } = session.io;
  if (!stdin.isTTY) throw new UsageError(`${question.replace(/\?$/, '')}: refused, stdin is not a terminal; pass --yes to act without confirmation`);
  const rl = createInterface({ input: stdin, output: stderr as NodeJS.WritableStream, terminal: true });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** `cli:<os user>@<hostname>`: kept as `by` in the run's history. */
export function actor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env['USER'] ?? 'unknown';
  }
  return `cli:${user}@${hostname()}`.slice(0, 200);
}
