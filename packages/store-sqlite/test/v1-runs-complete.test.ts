/**
 * A version 1 file, upgraded when opened, runs on: the runtime resumes each unfinished run from
 * what the upgrade derived (`waiting`) and every one of them ends, exactly as it would have.
 * The rows are test/fixtures/v1-rows.sql, written by the version 1 code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { memoryBroker } from '@taskchart/broker-memory';
import { chain, createRuntime, task, type FailureReport, type Runtime } from '@taskchart/core';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { sqliteStore } from '../src/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const dirs: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** The chain the version 1 rows were written by (same names and steps), its tasks now succeeding. */
function orderChain(calls: string[]) {
  type In = { id: string; mode: string };
  const reserve = task('reserve', async (input: In) => ({ ...input, reserved: true }));
  const charge = task(
    'charge',
    async (input: In & { reserved: boolean }) => {
      calls.push(`charge ${input.id}`);
      return { ...input, charged: true };
    },
    { compensate: async (output) => void calls.push(`undo charge ${output.id}`) },
  );
  const confirm = task(
    'confirm',
    async (input: In & { charged: boolean }, ctx) => {
      calls.push(`confirm ${input.id} attempt ${ctx.attempt}`);
      return { ...input, confirmed: true };
    },
    { retry: { maxRetries: 3, backoff: { initial: '1h', max: '1h', jitter: 'none' } } },
  );
  return chain('order', reserve, charge, confirm);
}

for (const variant of ['message copies (memory broker)', 'no message copies (durable broker)'] as const) {
  it(`resumes and ends every run of a version 1 file: ${variant}`, { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tc-v1-runs-'));
    dirs.push(dir);
    const path = join(dir, 'runs.db');
    const db = new Database(path);
    db.exec(fixture('sqlite-schema-v1.sql'));
    db.exec("INSERT INTO taskchart_meta (key, value) VALUES ('schema_version', '1')");
    db.exec(fixture('v1-rows.sql'));
    db.close();

    // The clock just after the version 1 process stopped; the retry is due an hour later.
    const clock = new ManualClock(1795913229600);
    const calls: string[] = [];
    const reports: FailureReport[] = [];
    const broker = memoryBroker({ clock });
    if (variant !== 'message copies (memory broker)') {
      // A durable broker kept the messages itself: put them back on its queue as it would have them.
      const v1 = new Database(path);
      const rows = v1.prepare("SELECT pending FROM taskchart_runs WHERE pending != '[]'").pluck().all() as string[];
      v1.prepare("UPDATE taskchart_runs SET pending = '[]'").run();
      v1.close();
      for (const pending of rows) {
        for (const m of JSON.parse(pending) as Array<{ queue: string; body: string; options: { delayMs?: number } }>) {
          await broker.publish(m.queue, m.body, m.options);
        }
      }
    }
    const runtime = createRuntime({ broker, store: sqliteStore(path), chains: [orderChain(calls)], clock, logger: silentLogger, onFailure: (r) => void reports.push(r) });
    runtimes.push(runtime);
    await runtime.start();
    await settle(20);
    // The retry falls due an hour after version 1 scheduled it.
    await clock.advance(3_600_000);
    await settle(50);

    expect(await runtime.getRun('v1-ok')).toMatchObject({ status: 'completed' });
    expect(await runtime.getRun('v1-hang')).toMatchObject({ status: 'completed', output: { id: 'hang', confirmed: true } });
    expect(await runtime.getRun('v1-retry')).toMatchObject({ status: 'completed', output: { id: 'retry', confirmed: true } });
    expect(await runtime.getRun('v1-fail')).toMatchObject({ status: 'compensated' });
    expect(calls.sort()).toEqual(['charge hang', 'confirm hang attempt 1', 'confirm retry attempt 2', 'undo charge fail'].sort());
    // The failure report version 1 left in its outbox is delivered (once).
    expect(reports.map((r) => [r.runId, r.task])).toEqual([['v1-fail', 'confirm']]);
  });
}
