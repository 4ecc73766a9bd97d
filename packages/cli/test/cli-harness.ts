/**
 * Runs the `taskchart` command as a user does: a child process (`node --conditions=source
 * --import tsx src/bin.ts`) in a temporary directory holding a real `taskchart.config.ts`.
 * The directories live under packages/cli/.tmp/ so the config resolves `@taskchart/*` as an
 * installed project does; each is removed after its test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(PACKAGE, 'src', 'bin.ts');
export const FIXTURE_CHAINS = join(PACKAGE, 'test', 'fixtures', 'chains.ts');

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<Finished>;
  stdout(): string;
  stderr(): string;
}

export interface Project {
  /** The temporary directory (the command's working directory). */
  readonly dir: string;
  /** A SQLite file path in it. */
  readonly db: string;
  /** Writes `taskchart.config.ts` (or `name`) with `text`. */
  write(name: string, text: string): string;
  /** Starts `taskchart ...args` in the directory. */
  start(args: readonly string[], env?: Record<string, string>): Running;
  /** Starts `taskchart ...args` on a pseudo-terminal (util-linux `script`): stdin is a TTY; write answers to `child.stdin`. */
  startTty(args: readonly string[]): Running;
  /** Runs `taskchart ...args` to its end. */
  run(args: readonly string[], env?: Record<string, string>): Promise<Finished>;
}

/** A fresh project directory per test, removed (and its processes killed) after it. */
export function projects(): () => Project {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    try {
      rmdirSync(join(PACKAGE, '.tmp')); // only when empty: other test files may be using it
    } catch {
      // not empty, or gone already
    }
  });
  return () => {
    const root = join(PACKAGE, '.tmp');
    mkdirSync(root, { recursive: true });
    const dir = mkdtempSync(join(root, 'project-'));
    dirs.push(dir);
    const start = (args: readonly string[], env: Record<string, string> = {}, tty = false): Running => {
      const command = [process.execPath, '--conditions=source', '--import', 'tsx', BIN, ...args];
      const child = tty
        ? spawn('script', ['-q', '-e', '-c', command.map(shellQuote).join(' '), '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TASKCHART_CONFIG: '' } })
        : spawn(command[0] ?? '', command.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TASKCHART_CONFIG: '', ...env } });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<Finished>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
      return { child, exited, stdout: () => out, stderr: () => err };
    };
    return {
      dir,
      db: join(dir, 'runs.db'),
      write: (name, text) => {
        const file = join(dir, name);
        writeFileSync(file, text);
        return file;
      },
      start,
      startTty: (args) => start(args, {}, true),
      run: (args, env) => start(args, env).exited,
    };
  };
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A config with a SQLite file store and `broker` (source of an expression), chains from the fixture module. */
export function sqliteConfig(db: string, broker = 'memoryBroker()', imports = "import { memoryBroker } from '@taskchart/broker-memory';"): string {
  return [
    "import { defineConfig } from '@taskchart/cli';",
    "import { sqliteStore } from '@taskchart/store-sqlite';",
    imports,
    '',
    'export default defineConfig({',
    `  store: () => sqliteStore(${JSON.stringify(db)}),`,
    `  broker: () => ${broker},`,
    `  chains: ${JSON.stringify(FIXTURE_CHAINS)},`,
    '});',
    '',
  ].join('\n');
}

/** Resolves once the async `check()` holds (polling every 20 ms); rejects after `timeoutMs`, naming `what`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
