/**
 * The SQLite file's folder is removed under a running worker: the store refuses every call with
 * `StoreLostError`, and the runtime stops consuming and says so as an error, instead of
 * acknowledging work it can no longer keep (issue 7, item 6).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, StoreLostError, task, type Logger } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, settle } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a store whose file is deleted under a running worker', () => {
  it('stops consuming with a loud error; result() rejects with StoreLostError; nothing is acknowledged as done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-lost-'));
    dirs.push(dir);
    const clock = new ManualClock();
    const errors: string[] = [];
    const logger: Logger = { warn: () => undefined, error: (message) => errors.push(message) };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const executions: string[] = [];
    const slow = task('slow', async (x: number, ctx) => {
      executions.push(ctx.idempotencyKey);
      await gate;
      return x + 1;
    });
    const next = task('next', (x: number, ctx) => {
      executions.push(ctx.idempotencyKey);
      return x * 2;
    });
    const c = chain('lost', slow, next);
    const broker = memoryBroker({ clock });
    const runtime = createRuntime({ broker, store: sqliteStore(join(dir, 'runs.db')), chains: [c], clock, logger });
    await runtime.start();
    const run = await runtime.run(c, 1, { id: 'lost-1' });
    const outcome = run.result().then(() => 'resolved', (error: unknown) => error);
    await settle(10);
    expect(executions).toEqual(['lost-1:slow']);

    rmSync(dir, { recursive: true, force: true });
    release();
    await settle(20);

    expect(await outcome).toBeInstanceOf(StoreLostError);
    expect(errors.filter((m) => m.includes('the store is lost'))).toHaveLength(1);
    // The next step was never dispatched: the outcome of `slow` was not committed anywhere.
    expect(executions).toEqual(['lost-1:slow']);
    // The runtime consumes no more: a second run cannot even be recorded.
    await expect(runtime.run(c, 2, { id: 'lost-2' })).rejects.toBeInstanceOf(StoreLostError);
    await clock.advance(60_000);
    await settle(10);
    expect(executions).toEqual(['lost-1:slow']);
    await runtime.close();
  });
});
