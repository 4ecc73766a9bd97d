import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, InvalidOptionError, SerializationError, task, UnknownChainError, type RunInfo } from '@taskchart/core';
import { DEAD_LETTER_REASON_HEADER, deadLetterQueueName } from '@taskchart/core/adapter';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});
const terminal = (info: RunInfo | undefined) => !!info && ['completed', 'failed', 'compensated'].includes(info.status);

async function deadLetters(hh: Harness, queue = 'taskchart'): Promise<string[]> {
  const reasons: string[] = [];
  const consumer = await hh.broker.consume(deadLetterQueueName(queue), async (d) => {
    reasons.push(d.headers[DEAD_LETTER_REASON_HEADER] ?? '(none)');
    await d.ack();
  });
  await hh.drive(() => true);
  await consumer.cancel();
  return reasons;
}

const echo = task('echo', (x: unknown) => x);
const c = chain('echo-chain', echo);

describe('bad input gets a clear error and loses nothing', () => {
  it('dead-letters malformed, unknown-chain, unknown-task and unknown-run messages, and keeps working', async () => {
    h = await harness([c]);
    const base = { v: 1, kind: 'task', runId: 'r-x', chain: 'echo-chain', step: 'echo', task: 'echo', attempt: 1, compensation: false, input: 1 };
    await h.broker.publish('taskchart', '{not json');
    await h.broker.publish('taskchart', JSON.stringify({ ...base, chain: 'ghost' }));
    await h.broker.publish('taskchart', JSON.stringify({ ...base, task: 'renamed' }));
    await h.broker.publish('taskchart', JSON.stringify(base));
    await h.broker.publish('taskchart', JSON.stringify({ ...base, v: 7 }));
    const run = await h.runtime.run(c, { still: 'works' });
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(await run.result()).toEqual({ still: 'works' });
    const reasons = await deadLetters(h);
    expect(reasons).toHaveLength(5);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringContaining('malformed message: not JSON'),
        expect.stringContaining('unknown chain "ghost" (run r-x)'),
        expect.stringContaining('unknown task "renamed" for step "echo" of chain "echo-chain" (run r-x)'),
        expect.stringContaining('unknown run "r-x"'),
        expect.stringContaining('unsupported wire version 7'),
      ]),
    );
  });

  it('with a signing key, dead-letters unsigned messages and runs signed ones', async () => {
    h = await harness([c], { signingKey: 'a-long-enough-signing-key' });
    await h.broker.publish('taskchart', JSON.stringify({ v: 1, kind: 'task', runId: 'r', chain: 'echo-chain', step: 'echo', task: 'echo', attempt: 1, compensation: false, input: 1 }));
    const run = await h.runtime.run(c, 5);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    expect(await run.result()).toBe(5);
    expect(await deadLetters(h)).toEqual([expect.stringContaining('unsigned message')]);
  });

  it('fails the step (not the worker) when a result is not JSON-serialisable', async () => {
    const leaky = task('leaky', () => ({ when: 1, handle: () => 'socket' }));
    const lc = chain('leaky-chain', leaky);
    h = await harness([lc]);
    const run = await h.runtime.run(lc, null);
    await h.drive(async () => terminal(await h?.runtime.getRun(run.id)));
    const info = await h.runtime.getRun(run.id);
    expect(info).toMatchObject({ status: 'failed', error: { name: 'SerializationError', retryable: false } });
    expect(info?.error?.message).toBe('task "leaky" returned a result that is not JSON-serialisable: $.handle is a function');
  });

  it('refuses a run input that is not JSON-serialisable, naming the chain', async () => {
    h = await harness([c]);
    await expect(h.runtime.run(c, { n: BigInt(1) })).rejects.toThrow(SerializationError);
    await expect(h.runtime.run(c, { n: BigInt(1) })).rejects.toThrow('runtime.run(): input of chain "echo-chain" is not JSON-serialisable: $.n is a BigInt');
  });

  it('starts a run once per id (idempotent start) and answers undefined for an unknown id', async () => {
    h = await harness([c]);
    const a = await h.runtime.run(c, 1, { id: 'order-42' });
    const b = await h.runtime.run(c, 2, { id: 'order-42' });
    expect(b.id).toBe(a.id);
    await h.drive(async () => terminal(await h?.runtime.getRun('order-42')));
    expect(await b.result()).toBe(1);
    expect((await h.runtime.listRuns()).runs).toHaveLength(1);
    expect(await h.runtime.getRun('no-such-run')).toBeUndefined();
  });

  it('refuses a chain it was not given, an empty id, and an id taken by another chain', async () => {
    const stranger = chain('stranger', task('stranger-task', (x: number) => x));
    const sibling = chain('sibling', task('sibling-task', (x: number) => x));
    h = await harness([c, sibling]);
    await expect(h.runtime.run(stranger, 1)).rejects.toBeInstanceOf(UnknownChainError);
    await expect(h.runtime.run(c, 2, { id: '' })).rejects.toBeInstanceOf(InvalidOptionError);
    await h.runtime.run(c, 1, { id: 'same' });
    await expect(h.runtime.run(sibling, 1, { id: 'same' })).rejects.toThrow('runtime.run(): id: run "same" already exists for chain "echo-chain", not "sibling"');
  });
});

describe('a broker that is down when a runtime starts', () => {
  it('does not stall start(): what the outbox could not publish is retried by the sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-down-'));
    const db = join(dir, 'runs.db');
    // A producer-only runtime whose broker refuses every publish: the run's first message stays in the outbox.
    const clock = new ManualClock();
    const down = memoryBroker({ clock });
    const refusing = { ...down, name: 'down', capabilities: down.capabilities, publish: async () => Promise.reject(new Error('broker unreachable')), consume: down.consume.bind(down), close: down.close.bind(down) };
    const producer = createRuntime({ broker: refusing, store: sqliteStore(db), chains: [c], queues: [], clock, logger: silentLogger });
    await producer.start();
    await producer.run(c, 'kept', { id: 'while-down' });
    await producer.close();
    // Restart with the broker still down: start() returns.
    let fail = true;
    const flaky = memoryBroker({ clock });
    const broker = { name: 'flaky', capabilities: flaky.capabilities, publish: (q: string, b: string, o?: object) => (fail ? Promise.reject(new Error('still down')) : flaky.publish(q, b, o)), consume: flaky.consume.bind(flaky), close: flaky.close.bind(flaky) };
    const runtime = createRuntime({ broker, store: sqliteStore(db), chains: [c], clock, logger: silentLogger });
    await runtime.start();
    expect((await runtime.getRun('while-down'))?.status).toBe('running');
    // The broker comes back; the outbox sweep (every 5 s, seen twice) publishes the message.
    fail = false;
    for (let i = 0; i < 4 && (await runtime.getRun('while-down'))?.status !== 'completed'; i++) await clock.advance(5_000);
    expect(await runtime.result('while-down')).toBe('kept');
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
