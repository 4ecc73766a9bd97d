/**
 * End to end on RabbitMQ + SQLite (issue 7, item 2): a run id the runtime accepts can never
 * break an AMQP limit. Runs with a 200-character id and a 130 × 'ü' id (260 bytes, so the step
 * message ids are over AMQP's 255-byte shortstr limit) complete, with a retry through the delay
 * ladder on the way, and 20 unrelated runs started alongside all complete too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chain, createRuntime, task, type Runtime } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { silentLogger } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupPrefix, trackedBroker } from './helpers.js';

const runtimes: Runtime[] = [];
const prefixes: string[] = [];
const dirs: string[] = [];

describe('runtime on amqp: ids over AMQP limits', () => {
  afterEach(async () => {
    await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
    for (const p of prefixes.splice(0)) await cleanupPrefix(p);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it.each([
    ['200 ASCII characters', 'r'.repeat(200)],
    ["130 × 'ü' (260 bytes)", 'ü'.repeat(130)],
  ])('completes a run whose id is %s, and 20 unrelated runs alongside', { timeout: 60_000 }, async (_label, longId) => {
    const prefix = `tc-${randomUUID().slice(0, 8)}-`;
    prefixes.push(prefix);
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-amqp-limits-'));
    dirs.push(dir);
    const broker = trackedBroker(prefix, { publishTimeoutMs: 5_000 });

    const add = task('add', (x: number) => x + 1);
    // Fails its first attempt: the retry timer (its message id carries the run id too) goes
    // through the delay ladder.
    // A long (valid) task name, as real flows have: with a 200-character run id, the step's
    // message id `<runId>:<step>:<attempt>` is then over 255 bytes too.
    const flaky = task(
      'create-the-guarantee-with-the-landlord-insurance-partner-api',
      (x: number, ctx) => {
        if (ctx.attempt === 1) throw new Error('transient');
        return x * 2;
      },
      { retry: { maxRetries: 2, backoff: { initial: 20, jitter: 'none' } } },
    );
    const done = task('done', (x: number) => `done ${x}`);
    const c = chain('limits', add, flaky, done);
    const runtime = createRuntime({ broker, store: sqliteStore(join(dir, 'runs.db')), chains: [c], logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();

    const long = await runtime.run(c, 1, { id: longId });
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => runtime.run(c, i)));
    expect(await long.result()).toBe('done 4');
    expect(await Promise.all(others.map((r) => r.result()))).toEqual(Array.from({ length: 20 }, (_, i) => `done ${(i + 1) * 2}`));
    expect((await runtime.getRun(longId))?.status).toBe('completed');
  });
});
