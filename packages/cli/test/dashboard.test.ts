/**
 * `taskchart dashboard`: the web console served by the CLI process on the config's store, until
 * interrupted. Read-only unless `--actions`.
 */
import { createRuntime, type Runtime } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { projects, sqliteConfig } from './cli-harness.js';
import { greetings, order, refund } from './fixtures/chains.js';

const project = projects();
let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

describe('taskchart dashboard', () => {
  it('serves the runs of the config store on the given host and port, read-only by default, and stops on SIGINT (exit 0)', async () => {
    const p = project();
    p.write('taskchart.config.ts', sqliteConfig(p.db));
    runtime = createRuntime({ store: sqliteStore(p.db), broker: memoryBroker(), chains: [order, refund, ...greetings], logger: silentLogger });
    await runtime.start();
    await (await runtime.run(order, { id: 'd-1' }, { id: 'd-1' })).result();

    const server = p.start(['dashboard', '--port', '0', '--host', '127.0.0.1']);
    await waitFor(() => /dashboard: http:\/\/\S+/.test(server.stdout()) || server.child.exitCode !== null, 30_000, 'the dashboard URL');
    const url = /dashboard: (http:\/\/\S+)/.exec(server.stdout())?.[1];
    expect(url, server.stderr()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.stdout()).toMatch(/read-only; --actions to allow/);

    const config = (await (await fetch(`${url}api/config`)).json()) as { actions: boolean; chains: string[] };
    expect(config.actions).toBe(false);
    const runs = (await (await fetch(`${url}api/runs`)).json()) as { runs: { id: string; status: string }[] };
    expect(runs.runs.map((r) => [r.id, r.status])).toEqual([['d-1', 'completed']]);

    server.child.kill('SIGINT');
    const end = await server.exited;
    expect(end.code).toBe(0);
    expect(end.stderr).toBe('');
  }, 90_000);
});
