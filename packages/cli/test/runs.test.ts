/**
 * The `taskchart` command against a real SQLite file, run as a user runs it: a child process in a
 * directory with a real `taskchart.config.ts`. The runs are made beforehand by a real runtime in
 * this process (the memory broker lives in this process, so the CLI only reads here; actions are
 * in actions.test.ts, on RabbitMQ).
 */
import { chain, createRuntime, machineConfig, task, type Runtime } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { projects, sqliteConfig, type Project } from './cli-harness.js';
import { control, greetings, order, refund } from './fixtures/chains.js';

const project = projects();
let runtime: Runtime | undefined;
afterEach(async () => {
  // A run left holding (a failed test) would keep close() waiting for its attempt.
  const rt = runtime;
  if (rt) await Promise.allSettled([...control.holding].map((id) => rt.cancel(id)));
  await runtime?.close();
  runtime = undefined;
  control.shipBroken = true;
});

/** A chain the chains module does not export: its active runs are stranded by a deploy of the module. */
const legacy = chain('legacy', task('old-step', (x: number) => x));

async function withRuns(p: Project): Promise<Runtime> {
  p.write('taskchart.config.ts', sqliteConfig(p.db));
  runtime = createRuntime({ store: sqliteStore(p.db), broker: memoryBroker(), chains: [order, refund, ...greetings, legacy], logger: silentLogger });
  await runtime.start();
  const ok = await runtime.run(order, { id: 'o-1', apiToken: 'tok-123' }, { id: 'o-1' });
  await ok.result();
  const bad = await runtime.run(order, { id: 'o-2', fail: true }, { id: 'o-2' });
  await bad.result().catch(() => undefined);
  return runtime;
}

describe('taskchart runs (SQLite file store)', () => {
  it('runs list: a table newest first, --json with inputs redacted, filters, and paging by cursor', async () => {
    const p = project();
    await withRuns(p);
    const table = await p.run(['runs', 'list']);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+CHAIN\s+STATUS\s+STEP\s+ATTEMPTS\s+CREATED\s+UPDATED$/);
    expect(lines[1]).toMatch(/^o-2\s+order\s+compensated\s+-\s+\d+\s+\d{4}-\d\d-\d\dT/);
    expect(lines[2]).toMatch(/^o-1\s+order\s+completed\s+/);

    const json = await p.run(['runs', 'list', '--json']);
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout) as { runs: { id: string; status: string; input: Record<string, unknown> }[]; next?: string };
    expect(page.runs.map((r) => [r.id, r.status])).toEqual([['o-2', 'compensated'], ['o-1', 'completed']]);
    expect(page.runs[1]?.input).toEqual({ id: 'o-1', apiToken: '[Filtered]' });
    expect(page.next).toBeUndefined();

    const filtered = JSON.parse((await p.run(['runs', 'list', '--status', 'completed,failed', '--chain', 'order', '--since', '1h', '--json'])).stdout) as typeof page;
    expect(filtered.runs.map((r) => r.id)).toEqual(['o-1']);
    const future = JSON.parse((await p.run(['runs', 'list', '--since', '2999-01-01T00:00:00Z', '--json'])).stdout) as typeof page;
    expect(future.runs).toEqual([]);

    const first = await p.run(['runs', 'list', '--limit', '1']);
    const cursor = /more: --cursor (\S+)/.exec(first.stdout)?.[1];
    expect(cursor).toBeDefined();
    const second = JSON.parse((await p.run(['runs', 'list', '--limit', '1', '--cursor', cursor ?? '', '--json'])).stdout) as typeof page;
    expect(second.runs.map((r) => r.id)).toEqual(['o-1']);
  }, 90_000);

  it('runs show: the summary and the history timeline with the error; --json is the RunInfo; unknown id exits 3', async () => {
    const p = project();
    await withRuns(p);
    const shown = await p.run(['runs', 'show', 'o-2']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^run\s+o-2$/m);
    expect(shown.stdout).toMatch(/^chain\s+order \(version 1\)$/m);
    expect(shown.stdout).toMatch(/^status\s+compensated$/m);
    expect(shown.stdout).toMatch(/^error\s+NonRetryableError: .*carrier refused the parcel/m);
    expect(shown.stdout).toMatch(/^failed\s+step ship after 1 attempt/m);
    expect(shown.stdout).toMatch(/step\.failed\s+ship #1\s+NonRetryableError: carrier refused the parcel/);
    expect(shown.stdout).toMatch(/compensation\.completed\s+charge/);
    expect(shown.stdout).toMatch(/run\.compensated/);

    const json = await p.run(['runs', 'show', 'o-1', '--json']);
    const info = JSON.parse(json.stdout) as { id: string; status: string; output: unknown; input: unknown; history: { type: string }[] };
    expect(info).toMatchObject({ id: 'o-1', status: 'completed', output: { shipped: 'o-1' }, input: { id: 'o-1', apiToken: '[Filtered]' } });
    expect(info.history.map((e) => e.type)).toEqual([
      'run.started', 'step.started', 'step.completed', 'step.started', 'step.completed', 'step.started', 'step.completed', 'run.completed',
    ]);

    const missing = await p.run(['runs', 'show', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe('taskchart: NotFoundError: no run "nope"\n');
    expect(missing.stdout).toBe('');
  }, 90_000);

  it('runs watch: replays a settled run and exits 0 (completed) or 1 (compensated); --json prints one event per line', async () => {
    const p = project();
    await withRuns(p);
    const done = await p.run(['runs', 'watch', 'o-1']);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/run\.completed/);
    expect(done.stdout.trim().split('\n').at(-1)).toBe('run o-1 completed');

    const failed = await p.run(['runs', 'watch', 'o-2', '--json']);
    expect(failed.code).toBe(1);
    const events = failed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; runId: string; cursor: string });
    expect(events.at(-1)).toMatchObject({ type: 'run.compensated', runId: 'o-2' });
    expect(events.every((e) => e.runId === 'o-2' && typeof e.cursor === 'string')).toBe(true);
  }, 90_000);

  it('runs watch: follows a run live, printing each event as it is committed, until it settles', async () => {
    const p = project();
    const rt = await withRuns(p);
    await rt.run(order, { id: 'o-live', hold: true }, { id: 'o-live' });
    await waitFor(() => control.holding.has('o-live'), 10_000, 'o-live to reach ship');
    const watch = p.start(['runs', 'watch', 'o-live']);
    const interrupted = p.start(['runs', 'watch', 'o-live', '--json']);
    await waitFor(() => /step\.started\s+ship/.test(watch.stdout()), 20_000, 'the watch to print the ship step');
    expect(watch.stdout()).not.toMatch(/run\.cancelled/);
    await waitFor(() => interrupted.stdout().includes('"step":"ship"'), 20_000, 'the JSON watch to print the ship step');
    interrupted.child.kill('SIGINT');
    expect((await interrupted.exited).code).toBe(130);
    await rt.cancel('o-live', { reason: 'test over' });
    const end = await watch.exited;
    expect(end.code).toBe(1);
    expect(end.stdout).toMatch(/run\.cancelled\s+reason: test over/);
    expect(end.stdout.trim().split('\n').at(-1)).toBe('run o-live cancelled');
  }, 90_000);

  it('check-deploy: exit 0 when nothing is stranded; exit 1 listing the runs the chains module cannot continue', async () => {
    const p = project();
    const rt = await withRuns(p);
    const clean = await p.run(['check-deploy']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^ok: no in-flight run would be stranded by greet@1, greet@2, order@1, refund@1/);

    await rt.run(legacy, 1, { id: 'l-1', delay: '1h' });
    const found = await p.run(['check-deploy']);
    expect(found.code).toBe(1);
    expect(found.stdout).toMatch(/1 in-flight run\(s\) would be stranded/);
    expect(found.stdout).toMatch(/l-1\s+legacy\s+1\s+scheduled\s+.*chain "legacy" is not among the definitions/);
    const json = JSON.parse((await p.run(['check-deploy', '--json'])).stdout) as { ok: boolean; stranded: { id: string }[] };
    expect(json.ok).toBe(false);
    expect(json.stranded.map((s) => s.id)).toEqual(['l-1']);
  }, 90_000);

  it('refuses actions without --yes when stdin is not a terminal (exit 2), and names what it refused', async () => {
    const p = project();
    await withRuns(p);
    const refused = await p.run(['runs', 'retry', 'o-2']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Retry run o-2 .*refused, stdin is not a terminal; pass --yes/);
    const info = JSON.parse((await p.run(['runs', 'show', 'o-2', '--json'])).stdout) as { status: string };
    expect(info.status).toBe('compensated');
  }, 90_000);
});

describe('taskchart chains export', () => {
  it('prints the machine config the Stately editor imports (json, the default) or createMachine() source; --version picks one', async () => {
    const p = project();
    p.write('taskchart.config.ts', sqliteConfig(p.db));
    const json = await p.run(['chains', 'export', 'order']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(machineConfig(order))));
    const newest = JSON.parse((await p.run(['chains', 'export', 'greet'])).stdout) as { states: Record<string, unknown> };
    expect(Object.keys(newest.states)).toContain('shout');
    const v1 = JSON.parse((await p.run(['chains', 'export', 'greet', '--version', '1'])).stdout) as { states: Record<string, unknown> };
    expect(Object.keys(v1.states)).not.toContain('shout');
    const source = await p.run(['chains', 'export', 'order', '--format', 'source']);
    expect(source.stdout).toMatch(/createMachine\(/);

    const unknown = await p.run(['chains', 'export', 'nope']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe('taskchart: NotFoundError: no chain "nope" in the chains module; it exports: greet, order, refund\n');
    const noVersion = await p.run(['chains', 'export', 'greet', '--version', '7']);
    expect(noVersion.code).toBe(3);
    expect(noVersion.stderr).toMatch(/chain "greet" has no version 7 in the chains module; it exports versions 2, 1/);
    const badFormat = await p.run(['chains', 'export', 'order', '--format', 'yaml']);
    expect(badFormat.code).toBe(2);
  }, 90_000);
});
