/**
 * `taskchart runs list --json` on a real Postgres store (a schema per test, dropped after), with
 * runs made by a runtime in this process.
 */
import { createRuntime, type Runtime } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { postgresStore } from '@taskchart/store-postgres';
import { silentLogger } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { PG_URL, pgTestScope } from '../../store-postgres/test/pg-test.js';
import { FIXTURE_CHAINS, projects } from './cli-harness.js';
import { greetings, order, refund } from './fixtures/chains.js';

const project = projects();
const pg = pgTestScope('cli');
let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
  await pg.cleanup();
});

describe('taskchart runs list (Postgres store)', () => {
  it('lists the runs of the schema the config names, newest first, as JSON', async () => {
    const p = project();
    const schema = pg.schema();
    const store = `postgresStore({ connectionString: ${JSON.stringify(PG_URL)}, schema: ${JSON.stringify(schema)}, applicationName: ${JSON.stringify(pg.applicationName)} })`;
    p.write(
      'taskchart.config.ts',
      [
        "import { postgresStore } from '@taskchart/store-postgres';",
        "import { memoryBroker } from '@taskchart/broker-memory';",
        `export default { store: () => ${store}, broker: () => memoryBroker(), chains: ${JSON.stringify(FIXTURE_CHAINS)} };`,
        '',
      ].join('\n'),
    );
    runtime = createRuntime({
      store: postgresStore({ connectionString: PG_URL, schema, applicationName: pg.applicationName }),
      broker: memoryBroker(),
      chains: [order, refund, ...greetings],
      logger: silentLogger,
    });
    await runtime.start();
    await (await runtime.run(order, { id: 'p-1' }, { id: 'p-1' })).result();
    await (await runtime.run(order, { id: 'p-2', fail: true }, { id: 'p-2' })).result().catch(() => undefined);
    await (await runtime.run(refund, { id: 'p-3' }, { id: 'p-3' })).result();

    const listed = await p.run(['runs', 'list', '--json']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const page = JSON.parse(listed.stdout) as { runs: { id: string; chain: string; status: string }[] };
    expect(page.runs.map((r) => [r.id, r.chain, r.status])).toEqual([
      ['p-3', 'refund', 'completed'],
      ['p-2', 'order', 'compensated'],
      ['p-1', 'order', 'completed'],
    ]);
    const failed = JSON.parse((await p.run(['runs', 'list', '--json', '--status', 'compensated'])).stdout) as typeof page;
    expect(failed.runs.map((r) => r.id)).toEqual(['p-2']);
  }, 90_000);
});
