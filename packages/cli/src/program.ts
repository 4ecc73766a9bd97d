/**
 * The `taskchart` command line (commander): parses `argv`, runs one command on a {@link Session}
 * and answers its exit code. Errors are printed on stderr (their stack with `--debug`).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { chainsExport } from './commands/chains-export.js';
import { checkDeploy } from './commands/check-deploy.js';
import { dashboard } from './commands/dashboard.js';
import { dlqList, dlqRedrive } from './commands/dlq.js';
import { runsCancel, runsRetry } from './commands/runs-act.js';
import { runsList, runsShow } from './commands/runs-read.js';
import { runsWatch } from './commands/runs-watch.js';
import { describeError, EXIT, exitCodeOf } from './errors.js';
import { parseChoice, parseIntFlag, parseSince, parseStatuses } from './parse.js';
import { Session, type Io } from './session.js';

/** Exit code of a command interrupted by Ctrl-C (128 + SIGINT). */
export const INTERRUPTED = 130;

interface GlobalFlags {
  readonly config?: string;
  readonly debug?: boolean;
}

/**
 * Runs the command `argv` (without `node` and the script) and resolves with its exit code.
 * `signal` aborts a command that runs until interrupted (`runs watch`, `dashboard`).
 */
export async function run(argv: readonly string[], io: Io, signal: AbortSignal = new AbortController().signal): Promise<number> {
  let session: Session | undefined;
  let code: number = EXIT.ok;
  const open = (command: Command): Session => {
    const flags = command.optsWithGlobals<GlobalFlags>();
    session = new Session(io, { ...(flags.config === undefined ? {} : { config: flags.config }), debug: flags.debug === true });
    return session;
  };
  const program = buildProgram(io, signal, (command, body) => {
    // Every command also takes --config and --debug after its name (`taskchart runs list --config x`).
    command.option('-c, --config <file>', 'the config file').option('--debug', 'print stacks on errors');
    return async (...args: unknown[]) => {
      code = await body(open(command), ...args);
    };
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with exitCode 0; a usage error commander has printed already.
      code = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      io.stderr.write(`${describeError(error, argv.includes('--debug'))}\n`);
      code = exitCodeOf(error);
    }
  } finally {
    await session?.close().catch((error: unknown) => io.stderr.write(`${describeError(error, false)}\n`));
  }
  return signal.aborted && code !== EXIT.ok ? INTERRUPTED : code;
}

/** The command tree; `action(command, body)` wraps each command's body (opens its session, keeps its exit code). */
function buildProgram(io: Io, signal: AbortSignal, action: ActionFactory): Command {
  const program = new Command('taskchart')
    .description('Inspect and operate Taskchart runs, dead letters and chains')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'the config file (default: taskchart.config.{ts,mts,js,mjs} in the working directory, or $TASKCHART_CONFIG)')
    .option('--debug', 'print stacks on errors')
    .enablePositionalOptions()
    .showHelpAfterError('(run taskchart --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const runs = program.command('runs').description('list, show, watch, cancel and retry runs');
  const list = runs
    .command('list')
    .description('list runs, newest first (one page; prints the cursor of the next)')
    .option('--status <statuses>', 'only these statuses, comma-separated (e.g. failed,parked)')
    .option('--chain <chain>', 'only runs of this chain')
    .option('--since <when>', 'only runs created since a duration ago (30m, 1h, 7d) or an ISO time')
    .option('--limit <n>', 'runs per page, 1 to 1000', '20')
    .option('--cursor <cursor>', 'the page after this cursor (printed by the previous page)')
    .option('--json', 'print { runs, next } as JSON');
  list.action(
    action(list, (session) => {
      const o = list.opts<{ status?: string; chain?: string; since?: string; limit: string; cursor?: string; json?: boolean }>();
      return runsList(session, {
        ...(o.status === undefined ? {} : { status: parseStatuses(o.status) }),
        ...(o.chain === undefined ? {} : { chain: o.chain }),
        ...(o.since === undefined ? {} : { since: parseSince(o.since, Date.now()) }),
        limit: parseIntFlag(o.limit, '--limit', 1, 1000),
        ...(o.cursor === undefined ? {} : { cursor: o.cursor }),
        json: o.json === true,
      });
    }),
  );

  const show = runs.command('show').description("a run's summary and its history").argument('<id>', 'the run id').option('--json', 'print the run (RunInfo) as JSON');
  show.action(action(show, (session, id) => runsShow(session, id as string, { json: show.opts<{ json?: boolean }>().json === true })));

  const watch = runs
    .command('watch')
    .description('print each event of a run as it happens, until it settles (exit 0 completed, 1 otherwise)')
    .argument('<id>', 'the run id')
    .option('--json', 'one JSON event per line');
  watch.action(action(watch, (session, id) => runsWatch(session, id as string, { json: watch.opts<{ json?: boolean }>().json === true, signal })));

  const cancel = runs
    .command('cancel')
    .description('cancel a run (compensating its completed steps unless --no-compensate)')
    .argument('<id>', 'the run id')
    .option('--reason <reason>', 'why (kept in the run history)')
    .option('--no-compensate', 'do not compensate the completed steps')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the outcome as JSON');
  cancel.action(
    action(cancel, (session, id) => {
      const o = cancel.opts<{ reason?: string; compensate: boolean; yes?: boolean; json?: boolean }>();
      return runsCancel(session, id as string, { ...(o.reason === undefined ? {} : { reason: o.reason }), compensate: o.compensate, yes: o.yes === true, json: o.json === true });
    }),
  );

  const retry = runs
    .command('retry')
    .description('re-drive a failed, compensated, cancelled or parked run')
    .argument('<id>', 'the run id')
    .addOption(new Option('--from <where>', 'where it starts again').choices(['failed-step', 'start']).default('failed-step'))
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the run as it is now as JSON');
  retry.action(
    action(retry, (session, id) => {
      const o = retry.opts<{ from: string; yes?: boolean; json?: boolean }>();
      return runsRetry(session, id as string, { from: parseChoice(o.from, '--from', ['failed-step', 'start'] as const), yes: o.yes === true, json: o.json === true });
    }),
  );

  const dlq = program.command('dlq').description("the broker's dead letters");
  const dlqLs = dlq
    .command('list')
    .description('list dead letters (every queue of the chains, or one)')
    .option('--queue <queue>', 'only this queue')
    .option('--limit <n>', 'at most this many, 1 to 1000', '100')
    .option('--json', 'print { deadLetters } as JSON');
  dlqLs.action(
    action(dlqLs, (session) => {
      const o = dlqLs.opts<{ queue?: string; limit: string; json?: boolean }>();
      return dlqList(session, { ...(o.queue === undefined ? {} : { queue: o.queue }), limit: parseIntFlag(o.limit, '--limit', 1, 1000), json: o.json === true });
    }),
  );
  const redrive = dlq
    .command('redrive')
    .description('move dead letters back to their queue')
    .requiredOption('--queue <queue>', 'the queue whose dead letters move back')
    .option('--id <id>', 'only this dead letter (repeat for several)', (value: string, previous: string[] = []) => [...previous, value])
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print { moved } as JSON');
  redrive.action(
    action(redrive, (session) => {
      const o = redrive.opts<{ queue: string; id?: string[]; yes?: boolean; json?: boolean }>();
      return dlqRedrive(session, { queue: o.queue, ...(o.id ? { id: o.id } : {}), yes: o.yes === true, json: o.json === true });
    }),
  );

  const chains = program.command('chains').description('the chains of the chains module');
  const exp = chains
    .command('export')
    .description("a chain's state machine: JSON the Stately editor imports, or createMachine() source")
    .argument('<chain>', 'the chain name')
    .option('--version <n>', 'this version (default: the newest exported)')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'source']).default('json'));
  exp.action(
    action(exp, (session, name) => {
      const o = exp.opts<{ version?: string; format: string }>();
      return chainsExport(session, name as string, {
        ...(o.version === undefined ? {} : { version: parseIntFlag(o.version, '--version', 1, Number.MAX_SAFE_INTEGER) }),
        format: parseChoice(o.format, '--format', ['json', 'source'] as const),
      });
    }),
  );

  const check = program
    .command('check-deploy')
    .description('list the in-flight runs the chains module could not continue (exit 1 when any)')
    .option('--json', 'print { ok, chains, stranded } as JSON');
  check.action(action(check, (session) => checkDeploy(session, { json: check.opts<{ json?: boolean }>().json === true })));

  const dash = program
    .command('dashboard')
    .description('serve the web console until interrupted')
    .option('--port <port>', 'the port (0: any free port)', '3000')
    .option('--host <host>', 'the interface to listen on', '127.0.0.1')
    .option('--actions', 'allow cancel, retry and redrive from the browser');
  dash.action(
    action(dash, (session) => {
      const o = dash.opts<{ port: string; host: string; actions?: boolean }>();
      const stopped = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
      return dashboard(session, { port: parseIntFlag(o.port, '--port', 0, 65535), host: o.host, actions: o.actions === true, stopped });
    }),
  );
  return program;
}

type ActionFactory = (command: Command, body: (session: Session, ...args: unknown[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
