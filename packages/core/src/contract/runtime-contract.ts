/**
 * The runtime scenarios every broker adapter runs on its real backend: chains complete, retries
 * back off, failures compensate in reverse order, runs survive a runtime restart (pending
 * backoff timers included), duplicates are absorbed, poison messages are dead-lettered.
 *
 *   import { runtimeContract } from '@taskchart/core/contract';
 *   runtimeContract({
 *     name: 'amqp',
 *     connect: (prefix) => amqpBroker({ url, queuePrefix: prefix }),
 *     store: (file) => sqliteStore(file),
 *   });
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chain } from '../chain.js';
import { RunFailedError } from '../errors.js';
import { DEAD_LETTER_REASON_HEADER, deadLetterQueueName, type Broker } from '../ports/broker.js';
import type { Store } from '../ports/store.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import type { FailureReport } from '../runtime/failure-report.js';
import { task } from '../task.js';
import { silentLogger } from '../testing/silent-logger.js';
import { waitFor } from '../testing/wait-for.js';

export interface RuntimeContractOptions {
  name: string;
  /** A new connection to the backend; every test passes a unique prefix. */
  connect(prefix: string): Broker | Promise<Broker>;
  /**
   * Opens the store kept at `file` (a path in a fresh temporary folder). Opening the same file
   * again after the first store was closed must see the same runs (a runtime restart).
   */
  store(file: string): Store | Promise<Store>;
  cleanup?(prefix: string): Promise<void>;
  /** How long a scenario may take. @defaultValue 20000 */
  timeoutMs?: number;
}

export function runtimeContract(options: RuntimeContractOptions): void {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const runtimes: Runtime[] = [];
  const prefixes: string[] = [];
  const dirs: string[] = [];
  const fresh = () => {
    const prefix = `tc-${randomUUID().slice(0, 8)}-`;
    prefixes.push(prefix);
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-contract-'));
    dirs.push(dir);
    return { prefix, db: join(dir, 'runs.db') };
  };

  describe(`runtime scenarios: ${options.name}`, () => {
    afterEach(async () => {
      await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
      if (options.cleanup) for (const p of prefixes.splice(0)) await options.cleanup(p).catch(() => undefined);
      prefixes.length = 0;
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });

    it('runs a chain to completion, each output feeding the next step', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const add = task('add', (x: { n: number }) => ({ n: x.n + 1 }));
      const double = task('double', (x: { n: number }) => ({ n: x.n * 2 }));
      const describeIt = task('describe', (x: { n: number }) => `n=${x.n}`);
      const c = chain('arith', add, double, describeIt);
      const runtime = createRuntime({ broker: await options.connect(prefix), store: await options.store(db), chains: [c], logger: silentLogger });
      runtimes.push(runtime);
      await runtime.start();
      const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => runtime.run(c, { n: i })));
      const results = await Promise.all(runs.map((r) => r.result()));
      expect(results).toEqual(Array.from({ length: 10 }, (_, i) => `n=${(i + 1) * 2}`));
      const info = await runtime.getRun(runs[0]?.id ?? '');
      expect(info?.status).toBe('completed');
      expect(info?.history.filter((h) => h.type === 'step.completed').map((h) => h.step)).toEqual(['add', 'double', 'describe']);
    });

    it('retries a flaky step with backoff and records each delay', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const calls = new Map<string, number>();
      const flaky = task(
        'flaky',
        (x: string, ctx) => {
          const n = (calls.get(ctx.idempotencyKey) ?? 0) + 1;
          calls.set(ctx.idempotencyKey, n);
          expect(ctx.attempt).toBe(n);
          if (n < 3) throw new Error(`transient ${n}`);
          return `${x}!`;
        },
        { retry: { maxRetries: 5, backoff: { initial: 50, max: 1000, jitter: 'none' } } },
      );
      const c = chain('flaky-chain', flaky);
      const runtime = createRuntime({ broker: await options.connect(prefix), store: await options.store(db), chains: [c], logger: silentLogger });
      runtimes.push(runtime);
      await runtime.start();
      const run = await runtime.run(c, 'ok');
      await expect(run.result()).resolves.toBe('ok!');
      const info = await runtime.getRun(run.id);
      expect(info?.history.filter((h) => h.type === 'step.retrying').map((h) => h.delayMs)).toEqual([50, 100]);
    });

    it('reports a step that fails for good once, then compensates completed steps in reverse order', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const undone: string[] = [];
      const reports: FailureReport[] = [];
      const step = (name: string) =>
        task(name, (x: string[]) => [...x, name], {
          compensate: (output) => {
            undone.push(`${name}:${output.join(',')}`);
          },
        });
      const broken = task('broken', (_: string[]): string[] => {
        throw new Error('risk API down');
      }, { retry: { maxRetries: 2, backoff: { initial: 20, jitter: 'none' } } });
      const c = chain('rollback', step('one'), step('two'), broken);
      const runtime = createRuntime({
        broker: await options.connect(prefix),
        store: await options.store(db),
        chains: [c],
        logger: silentLogger,
        onFailure: (r) => {
          reports.push(r);
        },
      });
      runtimes.push(runtime);
      await runtime.start();
      const run = await runtime.run(c, []);
      const error = await run.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RunFailedError);
      expect((error as RunFailedError).status).toBe('compensated');
      expect(undone).toEqual(['two:one,two', 'one:one']);
      await waitFor(() => reports.length >= 1, 2_000, 'the onFailure call');
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ runId: run.id, chain: 'rollback', task: 'broken', attempts: 3, input: ['one', 'two'], compensation: false });
      expect(reports[0]?.error.message).toBe('risk API down');
      expect(reports[0]?.error.stack).toContain('risk API down');
    });

    it('resumes runs on a new runtime after a restart, pending backoff timers included', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const effects = new Map<string, number>();
      let failFirst = true;
      const write = task('write', (x: number, ctx) => {
        effects.set(ctx.idempotencyKey, (effects.get(ctx.idempotencyKey) ?? 0) + 1);
        return x + 1;
      });
      const wait = task(
        'wait',
        (x: number) => {
          if (failFirst) throw new Error('not yet');
          return x * 2;
        },
        { retry: { maxRetries: 3, backoff: { initial: 2_000, jitter: 'none' } } },
      );
      const c = chain('restart', write, wait);
      const first = createRuntime({ broker: await options.connect(prefix), store: await options.store(db), chains: [c], logger: silentLogger });
      await first.start();
      const runs = await Promise.all([1, 2, 3].map((n) => first.run(c, n)));
      await waitFor(() => effects.size === 3, timeoutMs / 2, 'the first steps');
      // Every run now waits out a 2 s backoff (its first attempt failed); stop this runtime before the timers fire.
      const statuses = async () => Promise.all(runs.map(async (run) => (await first.getRun(run.id))?.status));
      for (let i = 0; (await statuses()).some((s) => s !== 'retrying'); i++) {
        if (i > 150) expect(await statuses()).toEqual(['retrying', 'retrying', 'retrying']);
        await new Promise((r) => setTimeout(r, 10));
      }
      await first.close();
      failFirst = false;
      const second = createRuntime({ broker: await options.connect(prefix), store: await options.store(db), chains: [c], logger: silentLogger });
      runtimes.push(second);
      await second.start();
      const results = await Promise.all(runs.map((r) => second.result(r.id)));
      expect(results).toEqual([4, 6, 8]);
      expect([...effects.values()]).toEqual([1, 1, 1]);
    });

    it('starts a scheduled run at its time, not before, across a restart', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const startedAt = new Map<string, number>();
      const stamp = task('stamp', (x: number, ctx) => {
        startedAt.set(ctx.runId, Date.now());
        return x + 1;
      });
      const c = chain('scheduled', stamp);
      const first = createRuntime({ broker: await options.connect(prefix), store: await options.store(db), chains: [c], logger: silentLogger });
      await first.start();
      const due = Date.now() + 1_500;
      const runs = await Promise.all([first.run(c, 1, { delay: 1_500 }), first.run(c, 2, { startAt: new Date(due) })]);
      for (const run of runs) {
        const info = await first.getRun(run.id);
        expect(info?.status).toBe('scheduled');
        expect(info?.history.map((h) => h.type)).toEqual(['run.scheduled']);
      }
      await first.close();
      expect(startedAt.size).toBe(0);
      const second = createRuntime({ broker: await options.connect(prefix), store: await options.store(db), chains: [c], logger: silentLogger });
      runtimes.push(second);
      await second.start();
      expect(await Promise.all(runs.map((r) => second.result(r.id)))).toEqual([2, 3]);
      for (const run of runs) {
        expect(startedAt.get(run.id)).toBeGreaterThanOrEqual(due - 50);
        const info = await second.getRun(run.id);
        expect(info?.history.map((h) => h.type)).toEqual(['run.scheduled', 'run.started', 'step.started', 'step.completed', 'run.completed']);
      }
    });

    it('absorbs duplicate deliveries: each step completes once', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const ran = new Map<string, number>();
      const dup = task('dup', (x: number, ctx) => {
        ran.set(ctx.idempotencyKey, (ran.get(ctx.idempotencyKey) ?? 0) + 1);
        return x;
      });
      const c = chain('dups', dup, task('after', (x: number) => x + 1));
      const broker = await options.connect(prefix);
      // Publish every message twice, as a broker that redelivers would.
      const doubling: Broker = {
        name: broker.name,
        capabilities: broker.capabilities,
        publish: async (queue, body, o) => {
          await broker.publish(queue, body, o);
          await broker.publish(queue, body, { ...o, ...(o?.deduplicationId ? { deduplicationId: `${o.deduplicationId}-again` } : {}) });
        },
        consume: (queue, handler, o) => broker.consume(queue, handler, o),
        close: () => broker.close(),
      };
      const runtime = createRuntime({ broker: doubling, store: await options.store(db), chains: [c], logger: silentLogger });
      runtimes.push(runtime);
      await runtime.start();
      const runs = await Promise.all(Array.from({ length: 5 }, (_, i) => runtime.run(c, i)));
      expect(await Promise.all(runs.map((r) => r.result()))).toEqual([1, 2, 3, 4, 5]);
      for (const run of runs) {
        const info = await runtime.getRun(run.id);
        expect(info?.history.filter((h) => h.type === 'step.completed')).toHaveLength(2);
        expect(info?.history.filter((h) => h.type === 'run.completed')).toHaveLength(1);
      }
    });

    it('dead-letters a poison message with a reason and keeps working', { timeout: timeoutMs }, async () => {
      const { prefix, db } = fresh();
      const ok = task('ok', (x: number) => x);
      const c = chain('poison', ok);
      const broker = await options.connect(prefix);
      const runtime = createRuntime({ broker, store: await options.store(db), chains: [c], logger: silentLogger });
      runtimes.push(runtime);
      await runtime.start();
      await broker.publish('taskchart', 'this is not json');
      await broker.publish('taskchart', JSON.stringify({ v: 1, kind: 'task', runId: 'r', chain: 'nope', step: 's', task: 't', attempt: 1, compensation: false, input: 1 }));
      const run = await runtime.run(c, 7);
      await expect(run.result()).resolves.toBe(7);
      const reasons: string[] = [];
      const consumer = await broker.consume(deadLetterQueueName('taskchart'), async (d) => {
        reasons.push(d.headers[DEAD_LETTER_REASON_HEADER] ?? '');
        await d.ack();
      });
      await waitFor(() => reasons.length === 2, timeoutMs / 2, 'two dead letters');
      await consumer.cancel();
      expect(reasons.sort()).toEqual([expect.stringContaining('malformed message: not JSON'), expect.stringContaining('unknown chain "nope"')].sort());
    });
  });
}
