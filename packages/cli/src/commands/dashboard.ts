/**
 * `taskchart dashboard`: serves the web console (`@taskchart/dashboard`) on the config's store
 * and broker until interrupted (Ctrl-C, SIGTERM).
 */
import { EXIT, type ExitCode } from '../errors.js';
import type { Session } from '../session.js';

export interface DashboardFlags {
  readonly port: number;
  readonly host: string;
  /** Allow cancel, retry and redrive from the browser. @defaultValue false (read-only) */
  readonly actions: boolean;
  /** Resolves when the server should stop. */
  readonly stopped: Promise<void>;
}

export async function dashboard(session: Session, flags: DashboardFlags): Promise<ExitCode> {
  const client = await session.client();
  const { redact } = (await session.config()).config;
  // Loaded only by this command: the others need no web server.
  const { startDashboard } = await import('@taskchart/dashboard');
  const server = await startDashboard({ client, port: flags.port, host: flags.host, actions: flags.actions, ...(redact === undefined ? {} : { redact }) });
  session.onClose(() => server.close());
  session.out(`dashboard: ${server.url} (${flags.actions ? 'actions on: cancel, retry and redrive allowed' : 'read-only; --actions to allow cancel, retry and redrive'})`);
  session.out('press Ctrl-C to stop');
  await flags.stopped;
  return EXIT.ok;
}
