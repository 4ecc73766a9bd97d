/**
 * The run page's reading of a run against its laid-out statechart (ui/state-path.ts): which nodes
 * a state value lights, and which states and edges a real run's history went through.
 */
import { chain, createRuntime, machineConfig, NonRetryableError, task } from '@taskchart/core';
import { silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { layoutMachine } from '../src/graph/layout.js';
import { activeNodeIds, runPath } from '../ui/state-path.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('activeNodeIds', () => {
  it('lights every level of a state value', () => {
    expect(activeNodeIds('completed')).toEqual(['completed']);
    expect(activeNodeIds({ quote: 'retrying' })).toEqual(['quote', 'quote.retrying']);
    expect(activeNodeIds({ compensating: { charge: 'running' } })).toEqual(['compensating', 'compensating.charge', 'compensating.charge.running']);
    expect(activeNodeIds(undefined)).toEqual([]);
  });
});

describe('runPath', () => {
  it('follows a real run that retried, failed for good and was compensated', async () => {
    let attempts = 0;
    const reserve = task('reserve', (x: { id: string }) => x, { compensate: () => undefined });
    const pay = task(
      'pay',
      (_: { id: string }): { id: string } => {
        attempts++;
        if (attempts === 1) throw new Error('gateway busy');
        throw new NonRetryableError('card declined');
      },
      { retry: { maxRetries: 3, backoff: { initial: 5, jitter: 'none' } } },
    );
    const booking = chain('booking', reserve, pay);
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-graph-path-'));
    dirs.push(dir);
    const runtime = createRuntime({ broker: memoryBroker(), store: sqliteStore(join(dir, 'runs.db')), chains: [booking], logger: silentLogger, resultPoll: '20ms' });
    await runtime.start();
    try {
      const handle = await runtime.run(booking, { id: 'b1' });
      await expect(handle.result()).rejects.toMatchObject({ name: 'RunFailedError' });
      const run = await runtime.getRun(handle.id);
      if (!run) throw new Error('run missing');
      expect(run.status).toBe('compensated');
      const graph = await layoutMachine(machineConfig(booking));
      const path = runPath(run.history, graph, run.failedStep);
      const edge = (id: string) => {
        const e = graph.edges.find((candidate) => candidate.id === id);
        return e ? `${e.source}>${e.target}:${e.label}` : id;
      };
      expect([...path.taken].map(edge).sort()).toEqual([
        'compensating.reserve.running>compensated:done',
        'pay.retrying>pay.running:retryDelay',
        'pay.running>compensating.reserve:error',
        'pay.running>pay.retrying:error',
        'reserve.running>pay:done',
      ]);
      expect([...path.visited].sort()).toEqual(
        ['compensated', 'compensating', 'compensating.reserve', 'compensating.reserve.running', 'pay', 'pay.retrying', 'pay.running', 'reserve', 'reserve.running'].sort(),
      );
      expect(path.marks.get('pay')).toEqual({ completed: false, retries: 1, failed: true, compensated: false });
      expect(path.marks.get('reserve')).toEqual({ completed: true, retries: 0, failed: false, compensated: true });
      expect(activeNodeIds(run.state)).toEqual(['compensated']);
    } finally {
      await runtime.close();
    }
  });
});
