/**
 * pg (node-postgres, its Pool) against postgres (porsager/postgres.js) on the store's own
 * workload shapes, with the store's exact statements (copied from src/postgres-store.ts; the
 * store itself is not used for the timed work), in a throwaway schema migrated by the store:
 *
 * - commit: one batch in one transaction, as `commit()` sends it: BEGIN; per write (run-id
 *   order) the compare-and-swap UPDATE of its run by (id, version) with JSON text, its history
 *   INSERT … RETURNING, its outbox INSERT (one entry, inserted claimed); one pg_notify of the
 *   changed runs; COMMIT. Batches of 1, 16 and 64 writes, 1 and 4 committers at once (each on
 *   runs of its own: no conflicts, no lock waits);
 * - load: point loads by id (`SELECT * FROM runs WHERE id = $1`);
 * - claim: `claimOutbox` (UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT 16) … RETURNING).
 *
 * Clients, one pool of POOL_SIZE connections each:
 * - `pg`: as the store does it (unnamed statements: parsed and planned by the server each time);
 * - `pg named`: the same with named (server-side prepared) statements;
 * - `postgres`: postgres.js with prepared statements (its default, and what its tagged templates do;
 *   `unsafe`, which the schema-dependent SQL needs, is told `prepare: true`), awaiting each
 *   statement as the store does;
 * - `postgres unprep`: postgres.js with `prepare: false` (it then describes each statement with
 *   parameters before running it: two round trips per statement);
 * - `postgres pipelined` (commit only): postgres.js sending the batch's UPDATEs together, then
 *   every history and outbox INSERT and the notify together (pipelined on the connection: 4
 *   round trips per batch instead of 3 per write + 3). pg cannot pipeline.
 *
 * Each case runs REPEAT times (clients in a rotating order), CASE_MS each after a warm-up. Prints
 * ops/s (a commit op is one batch), p50/p99 latency and this process's CPU per 1,000 ops
 * (process.cpuUsage: user + system), as median and spread over the repetitions. Drops the schema.
 *
 *   node --conditions=source --import tsx packages/store-postgres/bench/clients.ts [repeat]
 *
 * `TASKCHART_PG_URL` (default postgres://postgres@127.0.0.1:5432/test) names the server;
 * `BENCH_CASE_MS` (default 1500) the time per case.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import postgres from 'postgres';
import { postgresStore } from '../src/index.js';
import { storeStatements } from '../src/postgres-statements.js';

const PG_URL = process.env.TASKCHART_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REPEAT = Number(process.argv[2] ?? 3);
const CASE_MS = Number(process.env.BENCH_CASE_MS ?? 1500);
const WARMUP_MS = 300;
const POOL_SIZE = 10; // the store's default `poolSize`
const RUNS_PER_COMMITTER = 2000;
const MAX_CONCURRENCY = 4;
const CLAIM_LIMIT = 16;
const SEEDED_OUTBOX = 150_000;
const LEASE_MS = 30_000;
const APP = 'tc-bench-clients';
const TEXT_ARRAY_OID = 1009;
const BOOL_ARRAY_OID = 1000;
const schema = `tc_bench_clients_${randomBytes(4).toString('hex')}`;
const s = pg.escapeIdentifier(schema);
const channel = `taskchart.${schema}`;

// The store's own statements (src/postgres-statements.ts), as text: each client below prepares them its way.
const statements = storeStatements(schema, channel, false);
const SQL = {
  updateRun: statements.updateRun.text,
  insertHistory: statements.insertHistory.text,
  insertOutbox: statements.insertOutbox.text,
  claimOutbox: statements.claimOutbox(true).text,
  notify: statements.notify.text,
  load: statements.load.text,
};
type StatementName = keyof typeof SQL;

/** One write of a batch: the statements' parameters, built as `applyWrite` builds them. */
interface Write {
  update: unknown[];
  history: unknown[];
  outbox: unknown[];
  payload: string;
}

const runId = (committer: number, i: number) => `run-${committer}-${String(i).padStart(6, '0')}`;
/** The version each run has in the database (every commit succeeds; a miss aborts the bench). */
const versions = new Map<string, number>();
const owner = 'bench-owner';

function makeBatch(committer: number, size: number): Write[] {
  const picked = new Set<number>();
  while (picked.size < size) picked.add(Math.floor(Math.random() * RUNS_PER_COMMITTER));
  const now = Date.now();
  return [...picked]
    .map((i) => runId(committer, i))
    .sort()
    .map((id) => {
      const expected = versions.get(id) ?? 1;
      const version = expected + 1;
      const step = `step-${version % 7}`;
      const snapshot = { status: 'active', value: step, context: { input: { order: id, amount: 1200, currency: 'EUR', items: ['a', 'b', 'c'] }, attempts: { [step]: 1 }, results: { previous: { ok: true, at: now } } } };
      const history = [
        { type: 'step.completed', step: `step-${(version - 1) % 7}`, at: now, output: { ok: true } },
        { type: 'step.started', step, at: now, attempt: 1 },
      ];
      const update = [id, expected, 'running', version, step, 1, version, JSON.stringify(snapshot), null, null, null, JSON.stringify([]), now];
      const body = JSON.stringify({ runId: id, step, attempt: 1, version });
      return {
        update,
        history: [id, 'chain-a', now, JSON.stringify(history)],
        outbox: [id, owner, now + LEASE_MS, ['taskchart.steps'], [body], [null], [true]],
        payload: JSON.stringify([id, 'chain-a']),
      };
    });
}

function committed(batch: readonly Write[]): void {
  for (const w of batch) versions.set(w.update[0] as string, w.update[3] as number);
}

interface Client {
  readonly name: string;
  /** Commits the batch in one transaction; throws if a compare-and-swap missed. */
  commit(batch: readonly Write[]): Promise<void>;
  load(id: string): Promise<void>;
  /** Claims up to CLAIM_LIMIT entries; answers how many. */
  claim(now: number): Promise<number>;
  close(): Promise<void>;
}

function casMissed(id: unknown): Error {
  return new Error(`bench: compare-and-swap missed on ${String(id)} (the bench's versions drifted)`);
}

function pgClient(named: boolean): Client {
  const pool = new pg.Pool({ connectionString: PG_URL, max: POOL_SIZE, application_name: APP });
  const q = (client: pg.Pool | pg.PoolClient, name: StatementName, values: unknown[]) => client.query(named ? { name, text: SQL[name], values } : { text: SQL[name], values });
  return {
    name: named ? 'pg named' : 'pg',
    async commit(batch) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const w of batch) {
          if ((await q(client, 'updateRun', w.update)).rowCount !== 1) throw casMissed(w.update[0]);
          await q(client, 'insertHistory', w.history);
          await q(client, 'insertOutbox', w.outbox);
        }
        await q(client, 'notify', [batch.map((w) => w.payload)]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async load(id) {
      if ((await q(pool, 'load', [id])).rows.length !== 1) throw new Error(`bench: no run ${id}`);
    },
    async claim(now) {
      return (await q(pool, 'claimOutbox', [owner, now, now + LEASE_MS, CLAIM_LIMIT])).rows.length;
    },
    close: () => pool.end(),
  };
}

function postgresClient(mode: 'prepared' | 'unprepared' | 'pipelined'): Client {
  const sql = postgres(PG_URL, { max: POOL_SIZE, prepare: mode !== 'unprepared', connection: { application_name: APP }, onnotice: () => undefined });
  type Sql = typeof sql | postgres.TransactionSql;
  // `unsafe` (the store's SQL names its schema, so it is built at run time) prepares nothing unless
  // told to, and then describes each statement first: two round trips per statement.
  const options = { prepare: mode !== 'unprepared' };
  // A bare JS array is typed by its first element (a `boolean[]` parameter goes as `boolean`), and an
  // untyped sql.array with a null in it is malformed: every array goes as sql.array with its type's oid.
  const param = (v: unknown) => (Array.isArray(v) ? sql.array(v as string[], typeof v[0] === 'boolean' ? BOOL_ARRAY_OID : TEXT_ARRAY_OID) : v);
  const q = (tx: Sql, name: StatementName, values: unknown[]) => tx.unsafe(SQL[name], values.map(param) as postgres.ParameterOrJSON<never>[], options);
  return {
    name: mode === 'prepared' ? 'postgres' : `postgres ${mode === 'unprepared' ? 'unprep' : 'pipelined'}`,
    async commit(batch) {
      await sql.begin(async (tx) => {
        if (mode !== 'pipelined') {
          for (const w of batch) {
            if ((await q(tx, 'updateRun', w.update)).count !== 1) throw casMissed(w.update[0]);
            await q(tx, 'insertHistory', w.history);
            await q(tx, 'insertOutbox', w.outbox);
          }
          await q(tx, 'notify', [batch.map((w) => w.payload)]);
          return;
        }
        // Every UPDATE at once, then (knowing which applied) every INSERT and the notify at once.
        const updated = await Promise.all(batch.map((w) => q(tx, 'updateRun', w.update)));
        updated.forEach((r, i) => {
          if (r.count !== 1) throw casMissed(batch[i]?.update[0]);
        });
        await Promise.all([...batch.flatMap((w) => [q(tx, 'insertHistory', w.history), q(tx, 'insertOutbox', w.outbox)]), q(tx, 'notify', [batch.map((w) => w.payload)])]);
      });
    },
    async load(id) {
      if ((await q(sql, 'load', [id])).length !== 1) throw new Error(`bench: no run ${id}`);
    },
    async claim(now) {
      return (await q(sql, 'claimOutbox', [owner, now, now + LEASE_MS, CLAIM_LIMIT])).length;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

interface Sample {
  opsPerS: number;
  p50: number;
  p99: number;
  cpuMsPer1000: number;
}

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const median = (xs: readonly number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** Runs `op` on `concurrency` workers for WARMUP_MS (not counted), then CASE_MS. */
async function measure(concurrency: number, op: (worker: number) => Promise<void>): Promise<Sample> {
  const phase = async (ms: number, latencies: number[] | undefined) => {
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        while (performance.now() < until) {
          const started = performance.now();
          await op(worker);
          latencies?.push(performance.now() - started);
        }
      }),
    );
  };
  await phase(WARMUP_MS, undefined);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  await phase(CASE_MS, latencies);
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return { opsPerS: (latencies.length * 1000) / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), cpuMsPer1000: (used.user + used.system) / latencies.length };
}

interface Case {
  name: string;
  concurrency: number;
  /** Clients that run this case (the pipelined one only commits). */
  pipelined: boolean;
  run: (client: Client, concurrency: number) => (worker: number) => Promise<void>;
}

let claimEpoch = 0;
/** A logical clock far past every real lease, moved on per case: every outbox entry is claimable again. */
const claimNow = () => 10_000_000_000_000 + claimEpoch * 1_000_000_000;

function cases(): Case[] {
  const out: Case[] = [];
  for (const size of [1, 16, 64]) {
    for (const concurrency of [1, MAX_CONCURRENCY]) {
      out.push({
        name: `commit ${size} write${size > 1 ? 's' : ''}`,
        concurrency,
        pipelined: true,
        run: (client) => async (worker) => {
          const batch = makeBatch(worker, size);
          await client.commit(batch);
          committed(batch);
        },
      });
    }
  }
  for (const concurrency of [1, MAX_CONCURRENCY]) {
    out.push({
      name: 'load by id',
      concurrency,
      pipelined: false,
      run: (client) => () => client.load(runId(Math.floor(Math.random() * MAX_CONCURRENCY), Math.floor(Math.random() * RUNS_PER_COMMITTER))),
    });
  }
  for (const concurrency of [1, MAX_CONCURRENCY]) {
    out.push({
      name: `claim ${CLAIM_LIMIT} outbox`,
      concurrency,
      pipelined: false,
      run: (client) => {
        claimEpoch++;
        const now = claimNow();
        return async () => {
          const claimed = await client.claim(now);
          if (claimed !== CLAIM_LIMIT) throw new Error(`bench: claimed ${claimed} outbox entries, expected ${CLAIM_LIMIT} (seed more)`);
        };
      },
    });
  }
  return out;
}

const fmt = (x: number, digits = 0) => x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const spread = (xs: readonly number[], digits = 0) => (xs.length > 1 ? ` (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})` : '');

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL, application_name: APP });
  await admin.connect();
  const store = postgresStore({ connectionString: PG_URL, schema, applicationName: APP, poolSize: 1 });
  const clients = [pgClient(false), pgClient(true), postgresClient('prepared'), postgresClient('unprepared'), postgresClient('pipelined')];
  try {
    await store.ready();
    await store.close();
    const now = Date.now();
    await admin.query(
      `INSERT INTO ${s}.runs (id, chain, status, version, step, attempt, total_attempts, snapshot, input, output, error, failed_task, waiting, created_at, updated_at)
       SELECT 'run-' || c || '-' || lpad(i::text, 6, '0'), 'chain-a', 'running', 1, 'step-1', 1, 1,
              '{"status":"active","value":"step-1","context":{"input":{"n":' || i || '},"attempts":{"step-1":1}}}', '{"n":' || i || '}', NULL, NULL, NULL, '[]', ${now}, ${now}
         FROM generate_series(0, ${MAX_CONCURRENCY - 1}) AS c, generate_series(0, ${RUNS_PER_COMMITTER - 1}) AS i`,
    );
    await admin.query(
      `INSERT INTO ${s}.outbox (run_id, queue, body, options, claimed_by, claimed_until)
       SELECT 'run-0-' || lpad((i % ${RUNS_PER_COMMITTER})::text, 6, '0'), 'taskchart.steps', '{"runId":"run-0","step":"step-1","attempt":1}', NULL, NULL, 0
         FROM generate_series(1, ${SEEDED_OUTBOX}) AS i`,
    );
    await admin.query(`VACUUM ANALYZE ${s}.runs, ${s}.outbox`);
    const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
    console.log(`PostgreSQL ${rows[0]?.server_version ?? '?'}; pg ${POOL_SIZE} / postgres ${POOL_SIZE} connections; ${REPEAT} × ${CASE_MS} ms per case; load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    const results = new Map<string, Sample[]>();
    const all = cases();
    for (let rep = 0; rep < REPEAT; rep++) {
      for (const c of all) {
        // Rotate the order each time: a server that slows down (bloat, autovacuum, other load) hits every client alike.
        const order = clients.map((_, i) => clients[(i + rep) % clients.length] as Client);
        for (const client of order) {
          if (client.name === 'postgres pipelined' && !c.pipelined) continue;
          const key = `${c.name}\u0000${c.concurrency}\u0000${client.name}`;
          const sample = await measure(c.concurrency, c.run(client, c.concurrency));
          results.set(key, [...(results.get(key) ?? []), sample]);
        }
      }
      console.log(`repetition ${rep + 1}/${REPEAT} done; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    }

    console.log('\nmedian of the repetitions (min–max); a commit op is one batch');
    console.log('| case | conc. | client | ops/s | p50 ms | p99 ms | CPU ms / 1,000 ops |');
    console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: |');
    for (const c of all) {
      for (const client of clients) {
        const samples = results.get(`${c.name}\u0000${c.concurrency}\u0000${client.name}`);
        if (!samples) continue;
        const ops = samples.map((x) => x.opsPerS);
        const cpu = samples.map((x) => x.cpuMsPer1000);
        console.log(
          `| ${c.name} | ${c.concurrency} | ${client.name} | ${fmt(median(ops))}${spread(ops)} | ${fmt(median(samples.map((x) => x.p50)), 2)} | ${fmt(median(samples.map((x) => x.p99)), 2)} | ${fmt(median(cpu))}${spread(cpu)} |`,
        );
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
}

await main();
