/**
 * Listing runs with a million rows: loads 1,000,000 runs (generate_series, server side) into a
 * throwaway schema migrated by the store, then times `list()` by status, by chain, by both and
 * unfiltered, for the first page and for a deep cursor page (half-way through the filter's
 * matches), and a retention sweep of 10,000 finished runs. Prints a table; drops the schema.
 *
 *   node --conditions=source --import tsx packages/store-postgres/bench/list-runs.ts [runs]
 *
 * `TASKCHART_PG_URL` (default postgres://postgres@127.0.0.1:5432/test) names the server.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { RunQuery } from '@taskchart/core';
import { postgresStore } from '../src/index.js';

const PG_URL = process.env.TASKCHART_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUNS = Number(process.argv[2] ?? 1_000_000);
const REPEAT = 25;
const CHAINS = 20;
const DAY = 86_400_000;
const NOW = Date.now();
const schema = `tc_bench_list_${randomBytes(4).toString('hex')}`;

// Statuses by share of runs: most finished well, a few active, a handful parked.
const STATUS_SQL = `CASE
  WHEN i % 1000 < 700 THEN 'completed'
  WHEN i % 1000 < 850 THEN 'failed'
  WHEN i % 1000 < 900 THEN 'compensated'
  WHEN i % 1000 < 980 THEN 'running'
  WHEN i % 1000 < 999 THEN 'retrying'
  ELSE 'parked' END`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const listCursor = (createdAt: number, id: string) => Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL, application_name: 'tc-bench-list' });
  await admin.connect();
  const store = postgresStore({ connectionString: PG_URL, schema, applicationName: 'tc-bench-list', poolSize: 2, retention: { completed: '20d', batchSize: 500, every: '1d' }, logger: { warn: () => undefined, error: console.error } });
  const s = pg.escapeIdentifier(schema);
  try {
    await store.ready();
    let t = performance.now();
    // Created over 30 days before NOW; finished (updated) a minute after creation.
    await admin.query(
      `INSERT INTO ${s}.runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, output, error, failed_task, waiting, created_at, updated_at)
       SELECT 'run-' || lpad(i::text, 8, '0'), 'chain-' || (i % ${CHAINS}), ${STATUS_SQL}, 3, 'step', 1, 3,
              '{"status":"done","value":"step","context":{"input":{"n":' || i || '},"attempts":{"step":1}}}', '{"n":' || i || '}', '{"ok":true}', NULL, NULL, '[]',
              ${NOW} - (${RUNS} - i) * (${30 * DAY}::bigint / ${RUNS}), ${NOW} - (${RUNS} - i) * (${30 * DAY}::bigint / ${RUNS}) + 60000
         FROM generate_series(1, ${RUNS}) AS i`,
    );
    const loadMs = performance.now() - t;
    t = performance.now();
    await admin.query(`ANALYZE ${s}.runs`);
    const analyzeMs = performance.now() - t;
    const size = (await admin.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('${s}.runs')) AS size`)).rows[0]?.size;
    console.log(`loaded ${RUNS.toLocaleString('en')} runs in ${(loadMs / 1000).toFixed(1)} s (ANALYZE ${(analyzeMs / 1000).toFixed(1)} s), table with indexes ${size}`);

    /** The (created_at, id) half-way through what `where` selects, as a `list()` cursor. */
    const deepCursor = async (where: string, values: unknown[]) => {
      const { rows } = await admin.query<{ created_at: string; id: string; n: string }>(
        `SELECT created_at, id FROM ${s}.runs ${where} ORDER BY created_at DESC, id OFFSET (SELECT count(*) / 2 FROM ${s}.runs ${where}) LIMIT 1`,
        values,
      );
      const row = rows[0];
      if (!row) throw new Error(`nothing matches ${where}`);
      return listCursor(Number(row.created_at), row.id);
    };
    const cases: { name: string; query: RunQuery; where: string; values: unknown[] }[] = [
      { name: 'no filter', query: {}, where: '', values: [] },
      { name: "status 'failed' (15 %)", query: { status: ['failed'] }, where: 'WHERE status = $1', values: ['failed'] },
      { name: "status 'parked' (0.1 %)", query: { status: ['parked'] }, where: 'WHERE status = $1', values: ['parked'] },
      { name: "status 'failed' or 'compensated'", query: { status: ['failed', 'compensated'] }, where: 'WHERE status = ANY($1)', values: [['failed', 'compensated']] },
      { name: "status 'retrying' or 'parked' (2 %)", query: { status: ['retrying', 'parked'] }, where: 'WHERE status = ANY($1)', values: [['retrying', 'parked']] },
      { name: "chain 'chain-7' (5 %)", query: { chain: 'chain-7' }, where: 'WHERE chain = $1', values: ['chain-7'] },
      { name: "chain 'chain-19' + status 'parked'", query: { chain: 'chain-19', status: ['parked'] }, where: 'WHERE chain = $1 AND status = $2', values: ['chain-19', 'parked'] },
      { name: "chain 'chain-7' + status 'failed'", query: { chain: 'chain-7', status: ['failed'] }, where: 'WHERE chain = $1 AND status = $2', values: ['chain-7', 'failed'] },
    ];
    console.log(`\nlist() of 100 runs, median of ${REPEAT} calls (ms):`);
    console.log('| filter | first page | deep page (half-way) |');
    console.log('| --- | ---: | ---: |');
    for (const c of cases) {
      const cursor = await deepCursor(c.where, c.values);
      const time = async (query: RunQuery) => {
        const times: number[] = [];
        for (let i = 0; i < REPEAT; i++) {
          const started = performance.now();
          const page = await store.list({ ...query, limit: 100 });
          times.push(performance.now() - started);
          if (page.runs.length === 0) throw new Error(`${c.name}: empty page`);
        }
        return median(times);
      };
      const first = await time(c.query);
      const deep = await time({ ...c.query, cursor });
      console.log(`| ${c.name} | ${first.toFixed(2)} | ${deep.toFixed(2)} |`);
    }

    // Retention: completed runs older than 20 days (about 2/3 of the completed ones) are due; time 20 batches.
    t = performance.now();
    const swept = await store.purge();
    const sweepMs = performance.now() - t;
    const deleted = swept.deleted.completed ?? 0;
    console.log(`\nretention sweep: deleted ${deleted.toLocaleString('en')} runs in ${(sweepMs / 1000).toFixed(2)} s (${(sweepMs / Math.max(1, deleted / 500)).toFixed(1)} ms per 500-run batch)`);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
}

await main();
