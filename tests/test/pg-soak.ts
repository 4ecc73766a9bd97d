/**
 * The soak of tests/test/pg-scale-out.test.ts: worker processes and a producer process
 * (tests/fixtures/pg-scale-process.ts) on one broker + ONE Postgres database, workers SIGKILLed
 * at random and replaced, then every invariant read from the database. Test isolation on the
 * real server: two schemas of its own (the store's, the side effects'), a queue prefix of its
 * own, an `application_name` of its own, all removed by `cleanup()`, which also checks that no
 * connection of the soak's processes is left.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { postgresStore, type PostgresStore } from '@taskchart/store-postgres';
import { spawnFixture, until, type Spawned } from './processes.js';

const PROCESS = fileURLToPath(new URL('../fixtures/pg-scale-process.ts', import.meta.url));
export const PG_URL = process.env['TASKCHART_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface SoakOptions {
  /** Extra environment of every process: TC_BROKER and what that broker needs. */
  readonly env: Record<string, string>;
  readonly runs: number;
  readonly workers: number;
  readonly kills: number;
}

/** What the soak measured: the figures to report, beside what it asserted. */
export interface SoakFigures {
  readonly runs: number;
  readonly kills: number;
  readonly wallMs: number;
  /** Attempts that ran (task or compensation executions, failed ones included; one per key, attempt and process). */
  readonly executions: number;
  /** Steps (and compensations) whose side effect was applied more than once: at-least-once at work. */
  readonly appliedTwice: number;
  /** Step or compensation executions that began after that step's completion was committed. */
  readonly ranAfterCompletion: number;
}

/** The outcome the fixture's chain gives run `n` (see tests/fixtures/pg-scale-process.ts). */
const compensated = (n: number) => n % 10 === 7;

export class PgSoak {
  readonly prefix: string;
  readonly schema: string;
  readonly fx: string;
  readonly app: string;
  private readonly children: ChildProcess[] = [];
  private readonly admin: PostgresStore;

  constructor(label: string) {
    const id = randomBytes(4).toString('hex');
    this.prefix = `tc-${label}-${id}-`;
    this.schema = `tc_test_${label}_${id}`;
    this.fx = `${this.schema}_fx`;
    this.app = `tc-test-${label}-${id}`;
    this.admin = postgresStore({ connectionString: PG_URL, schema: this.schema, applicationName: `${this.app}-admin`, poolSize: 2 });
  }

  private async sql<R>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.admin.pool.query(text, values)).rows as R[];
  }

  private async count(text: string): Promise<number> {
    return Number((await this.sql<{ n: string }>(text))[0]?.n ?? 0);
  }

  /** Creates the store's schema (migrated once, before the workers race for it) and the side-effect tables. */
  async prepare(): Promise<void> {
    await this.admin.ready();
    await this.sql(`CREATE SCHEMA "${this.fx}"`);
    await this.sql(`CREATE TABLE "${this.fx}".executions (key text NOT NULL, kind text NOT NULL, attempt int NOT NULL, pid int NOT NULL, at bigint NOT NULL, phase text NOT NULL)`);
    await this.sql(`CREATE TABLE "${this.fx}".effects (key text NOT NULL, kind text NOT NULL, n int NOT NULL, pid int NOT NULL, PRIMARY KEY (key, kind))`);
    await this.sql(`CREATE TABLE "${this.fx}".failures (run_id text PRIMARY KEY, task text NOT NULL, n int NOT NULL)`);
  }

  private spawn(args: string[], env: Record<string, string>): Spawned {
    return spawnFixture(PROCESS, args, this.children, {
      ...env,
      TC_PREFIX: this.prefix,
      TC_PG_URL: PG_URL,
      TC_SCHEMA: this.schema,
      TC_FX_SCHEMA: this.fx,
      TC_APP: this.app,
    });
  }

  /**
   * Starts `workers` workers and a producer of `runs` runs; while the runs progress, SIGKILLs a
   * random worker `kills` times (each at a random point) and starts a new one each time; waits
   * for the producer to see every result, then checks every invariant. Returns the figures.
   */
  async run(options: SoakOptions): Promise<SoakFigures> {
    const { env, runs } = options;
    const startWorker = async () => {
      const worker = this.spawn(['worker'], env);
      await until(() => worker.output().includes('ready'), 60_000, 'a worker to start');
      return worker;
    };
    const workers = await Promise.all(Array.from({ length: options.workers }, startWorker));
    const started = Date.now();
    const producer = this.spawn(['producer', String(runs)], env);

    const executions = () => this.count(`SELECT count(*) AS n FROM "${this.fx}".executions`);
    const terminal = () => this.count(`SELECT count(*) AS n FROM "${this.schema}".runs WHERE status IN ('completed', 'compensated', 'failed')`);
    // About 3.5 attempts per run: spread the kills over the first two thirds of the work.
    const spacing = Math.max(1, Math.floor((runs * 3.5 * 0.66) / options.kills));
    let kills = 0;
    while (kills < options.kills && (await terminal()) < runs) {
      const target = (await executions()) + Math.ceil(spacing * (0.5 + Math.random()));
      await until(async () => (await executions()) >= target || (await terminal()) >= runs, 300_000, 'the runs to progress');
      if ((await terminal()) >= runs) break;
      const victim = Math.floor(Math.random() * workers.length);
      const dead = workers[victim] as Spawned;
      dead.child.kill('SIGKILL');
      expect((await dead.exited).signal).toBe('SIGKILL');
      kills++;
      workers[victim] = await startWorker();
    }
    expect(kills, 'workers killed while runs were under way').toBeGreaterThan(0);

    const done = await producer.exited;
    const wallMs = Date.now() - started;
    expect(done.err).not.toMatch(/error|unhandled/i);
    expect(done.code).toBe(0);
    const failing = Array.from({ length: runs }, (_, n) => n).filter(compensated).length;
    expect(JSON.parse(done.out.split('\n')[1] ?? 'null')).toEqual({ fulfilled: runs - failing, ...(failing > 0 ? { RunFailedError: failing } : {}) });

    const figures = await this.check(runs);
    // Nothing left to publish once the live workers have taken over the killed ones' claims
    // (the lease is 1 s: a run can end before an entry a killed worker had published is cleared).
    const outbox = () => this.count(`SELECT count(*) AS n FROM "${this.schema}".outbox`);
    await until(async () => (await outbox()) === 0, 60_000, 'the outbox to drain').catch(async (error: unknown) => {
      const left = await this.sql(`SELECT run_id, queue, claimed_by, claimed_until FROM "${this.schema}".outbox ORDER BY id LIMIT 5`);
      throw new Error(`${String(error)}; left: ${JSON.stringify(left)}`);
    });
    expect(await outbox()).toBe(0);
    for (const w of workers) expect(w.child.exitCode, 'a live worker crashed').toBeNull();
    return { ...figures, runs, kills, wallMs };
  }

  /** Every invariant, read from the store's tables and the side-effect tables. */
  private async check(runs: number): Promise<Pick<SoakFigures, 'executions' | 'appliedTwice' | 'ranAfterCompletion'>> {
    const s = `"${this.schema}"`;
    const fx = `"${this.fx}"`;
    // Every run ended with the status its input calls for.
    const rows = await this.sql<{ id: string; status: string }>(`SELECT id, status FROM ${s}.runs`);
    expect(rows).toHaveLength(runs);
    const status = new Map(rows.map((r) => [r.id, r.status]));
    for (let n = 0; n < runs; n++) expect(status.get(`order-${n}`), `order-${n}`).toBe(compensated(n) ? 'compensated' : 'completed');

    const events = async (types: string[]) =>
      this.sql<{ run_id: string; type: string; step: string | null; at: string | null }>(
        `SELECT h.run_id, e->>'type' AS type, e->>'step' AS step, e->>'at' AS at FROM ${s}.history h, json_array_elements(h.entries::json) e WHERE e->>'type' = ANY($1)`,
        [types],
      );
    // Terminal exactly once: one final event per run, matching its status.
    const finals = await events(['run.completed', 'run.compensated', 'run.failed', 'run.parked']);
    expect(finals).toHaveLength(runs);
    for (const f of finals) expect(f.type).toBe(`run.${status.get(f.run_id) ?? '?'}`);

    // Every completed step's side effect was observed, and no other step's: completed once each.
    const completed = await events(['step.completed']);
    const completedKeys = completed.map((c) => `${c.run_id}:${c.step ?? ''}`);
    expect(new Set(completedKeys).size, 'a step completed twice').toBe(completedKeys.length);
    const applied = async (kind: string) => (await this.sql<{ key: string }>(`SELECT key FROM ${fx}.effects WHERE kind = $1`, [kind])).map((r) => r.key).sort();
    expect(await applied('step')).toEqual([...completedKeys].sort());
    const failing = Array.from({ length: runs }, (_, n) => n).filter(compensated).length;
    expect(completedKeys).toHaveLength((runs - failing) * 3 + failing * 2);

    // Compensations ran exactly for the completed steps of the runs that failed, once each.
    const expectedUndo = completedKeys.filter((k) => status.get(k.slice(0, k.lastIndexOf(':'))) === 'compensated').sort();
    expect(expectedUndo).toHaveLength(failing * 2);
    expect(await applied('undo')).toEqual(expectedUndo);
    const undone = (await events(['compensation.completed'])).map((c) => `${c.run_id}:${c.step ?? ''}`).sort();
    expect(undone).toEqual(expectedUndo);
    // onFailure was called (at least once) for each failed run, naming the step that failed.
    const reports = await this.sql<{ run_id: string; task: string }>(`SELECT run_id, task FROM ${fx}.failures`);
    const failed = [...status].filter(([, st]) => st === 'compensated').map(([id]) => `${id}:confirm`);
    expect(reports.map((r) => `${r.run_id}:${r.task}`).sort()).toEqual(failed.sort());

    // The figures: at-least-once shows as effects applied more than once, and attempts that
    // began after their step's completion was committed (a redelivered or republished message).
    const appliedTwice = await this.count(`SELECT count(*) AS n FROM ${fx}.effects WHERE n > 1`);
    const ranAfterCompletion = await this.count(
      `SELECT count(*) AS n FROM (SELECT key, pid, attempt, min(at) AS began FROM ${fx}.executions WHERE kind = 'step' GROUP BY key, pid, attempt) x
       JOIN (SELECT h.run_id || ':' || (e->>'step') AS key, (e->>'at')::bigint AS at FROM ${s}.history h, json_array_elements(h.entries::json) e WHERE e->>'type' = 'step.completed') c
       ON c.key = x.key WHERE x.began > c.at`,
    );
    return { executions: await this.count(`SELECT count(DISTINCT (key, kind, attempt, pid)) AS n FROM ${fx}.executions`), appliedTwice, ranAfterCompletion };
  }

  /** Kills what is left, drops both schemas, checks no connection of the soak's processes is left. */
  async cleanup(): Promise<void> {
    for (const c of this.children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      }
    }
    try {
      await this.sql(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
      await this.sql(`DROP SCHEMA IF EXISTS "${this.fx}" CASCADE`);
      // A killed process's backends leave pg_stat_activity a moment after the kernel closes its sockets.
      const left = () => this.count(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = '${this.app}'`);
      await until(async () => (await left()) === 0, 15_000, `the connections of ${this.app} to close`);
    } finally {
      await this.admin.close();
    }
  }
}
