/**
 * The example runs as a user runs it: a worker process and a web process (a client that consumes
 * nothing) on one RabbitMQ and one SQLite file. The web process sees every event the worker
 * commits, the first attempt's failure and the retry included.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { delayExchangeName, delayQueueName, deleteTopology, DELAY_LEVELS_MS } from '@taskchart/broker-amqp';

const src = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url));
const AMQP_URL = process.env['TASKCHART_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const prefix = `tc-example-${randomUUID().slice(0, 8)}-`;
const dir = mkdtempSync(join(tmpdir(), 'taskchart-web-worker-'));
const env = { ...process.env, AMQP_URL, QUEUE_PREFIX: prefix, TASKCHART_DB: join(dir, 'taskchart.db') };

afterAll(async () => {
  const ladder = DELAY_LEVELS_MS.map((ms) => delayQueueName(prefix, ms));
  await deleteTopology(AMQP_URL, { queues: [`${prefix}taskchart`, `${prefix}taskchart.dead`, ...ladder], exchanges: [delayExchangeName(prefix)] }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

it('a web process starts a run and follows its events while a worker process runs it', { timeout: 60_000 }, async () => {
  const worker = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', src('worker.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let workerOut = '';
  worker.stdout.on('data', (d: Buffer) => (workerOut += d.toString()));
  worker.stderr.on('data', (d: Buffer) => (workerOut += d.toString()));
  const workerExit = new Promise<number | null>((resolve) => worker.on('exit', resolve));
  try {
    const started = Date.now();
    while (!workerOut.includes('worker: ready')) {
      if (Date.now() - started > 30_000 || worker.exitCode !== null) throw new Error(`the worker did not start: ${workerOut}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=source', '--import', 'tsx', src('web.ts')], { env, timeout: 45_000 });
    expect(stdout.trim().split('\n')).toEqual([
      'web: run.started',
      'web: step.started fetchQuote #1',
      'web: step.completed fetchQuote #1',
      'web: step.started riskCheck #1',
      'web: step.failed riskCheck #1',
      'web: step.retrying riskCheck #2',
      'web: step.started riskCheck #2',
      'web: step.completed riskCheck #2',
      'web: run.completed',
      "web: result { tenantId: 't-1', quote: 120, score: 42 }",
      'web: completed after 3 attempts',
    ]);
    expect(workerOut).toContain('worker: riskCheck attempt 1 failed: risk API timed out');
    expect(workerOut).toContain('worker: riskCheck attempt 2 ok');
  } finally {
    worker.kill('SIGTERM');
    await workerExit;
  }
});
