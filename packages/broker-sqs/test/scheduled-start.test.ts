/**
 * Issue 11, item 3 on SQS: a scheduled start further away than the queue's longest delay (15
 * minutes on SQS; 1 second here, with `maxDelaySeconds: 1`, so the test runs in seconds) is
 * delayed hop by hop, survives a restart between hops and starts at its time, not before.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, task } from '@taskchart/core';
import { silentLogger } from '@taskchart/core/testing';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterAll, expect, it } from 'vitest';
import { sqsBroker } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
const prefix = `tc-${randomUUID().slice(0, 8)}-`;
const dir = mkdtempSync(join(tmpdir(), 'taskchart-sqs-scheduled-'));
afterAll(async () => {
  await sqs.cleanup(prefix).catch(() => undefined);
  await sqs.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('starts a run scheduled past the queue delay limit at its time, across a restart between hops', { timeout: 30_000 }, async () => {
  const startedAt: number[] = [];
  const stamp = task('stamp', (x: number) => {
    startedAt.push(Date.now());
    return x * 10;
  });
  const c = chain('scheduled-hops', stamp);
  const connect = () => sqsBroker({ ...sqs.connection, queuePrefix: prefix, waitTimeSeconds: 1, maxDelaySeconds: 1, onError: () => undefined });
  const db = join(dir, 'runs.db');
  const first = createRuntime({ broker: connect(), store: sqliteStore(db), chains: [c], logger: silentLogger });
  await first.start();
  const due = Date.now() + 3_500;
  const run = await first.run(c, 4, { startAt: due });
  // Let the first hop (at most 1 s) go by, then restart mid-wait.
  await new Promise((r) => setTimeout(r, 1_300));
  expect((await first.getRun(run.id))?.status).toBe('scheduled');
  await first.close();

  const second = createRuntime({ broker: connect(), store: sqliteStore(db), chains: [c], logger: silentLogger });
  await second.start();
  try {
    expect(await second.result(run.id, { timeout: '20s' })).toBe(40);
    expect(startedAt).toHaveLength(1);
    expect(startedAt[0]).toBeGreaterThanOrEqual(due);
  } finally {
    await second.close();
  }
});
