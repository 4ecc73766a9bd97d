/**
 * Child processes for the crash tests: spawn a TypeScript fixture (as the workspace runs it),
 * read the SQLite file it writes from outside, and wait for a condition on real time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { expect } from 'vitest';

export interface Spawned {
  readonly child: ChildProcess;
  /** Resolves when the process exits, with its exit code or signal and everything it printed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
  /** What it printed on stdout so far. */
  output(): string;
}

/**
 * Starts `script` (a .ts fixture) with `args` in a new Node process, its output captured (and
 * stderr echoed when `CRASH_DEBUG` is set). The child is pushed on `children` so an `afterEach`
 * can SIGKILL what is left.
 */
export function spawnFixture(script: string, args: readonly string[], children: ChildProcess[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (process.env['CRASH_DEBUG']) process.stderr.write(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, out, err })),
  );
  return { child, exited, output: () => out };
}

/** Reads another process's database; [] while it does not exist yet or lacks the table. */
export function query<T>(path: string, sql: string): T[] {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    return db.prepare(sql).all() as T[];
  } catch {
    return [];
  } finally {
    db?.close();
  }
}

/**
 * Waits (real time, polling every 25 ms) until `check()` holds (it may be async, e.g. a query to
 * another process's Postgres tables); throws naming `what` after `timeoutMs`.
 */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Every one of `runs` runs in `db` completed, each of its `steps` steps had its side effect
 * exactly once (by idempotency key, in `effects`), completed once, and never ran again after its
 * completion was committed (at-least-once is for unfinished steps only).
 */
export function assertEveryStepOnce(db: string, effects: string, runs: number, steps: number): void {
  const rows = query<{ id: string; status: string }>(db, 'SELECT id, status FROM taskchart_runs ORDER BY id');
  expect(rows).toHaveLength(runs);
  expect(rows.every((r) => r.status === 'completed')).toBe(true);
  const applied = query<{ key: string; n: number }>(effects, 'SELECT key, COUNT(*) AS n FROM effects GROUP BY key');
  expect(applied).toHaveLength(runs * steps);
  const completed = query<{ run_id: string; step: string; at: number }>(
    db,
    "SELECT h.run_id, e.value ->> 'step' AS step, e.value ->> 'at' AS at FROM taskchart_history h, json_each(h.entries) e WHERE e.value ->> 'type' = 'step.completed'",
  );
  expect(completed).toHaveLength(runs * steps);
  expect(new Set(completed.map((c) => `${c.run_id}:${c.step}`)).size).toBe(runs * steps);
  for (const c of completed) {
    const after = query<{ n: number }>(effects, `SELECT COUNT(*) AS n FROM executions WHERE key = '${c.run_id}:${c.step}' AND at > ${c.at}`);
    expect(after[0]?.n, `${c.run_id}:${c.step} ran after it completed`).toBe(0);
  }
}
