import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/adapter.js';
import { chain, createRuntime, InvalidOptionError, task, type Broker } from '../src/index.js';
// By path: a workspace dependency of core on the store package would be a cycle (store-sqlite depends on core).
import { sqliteStore } from '@taskchart/store-sqlite';

const noopBroker: Broker = {
  name: 'none',
  capabilities: { durable: false, maxDelayMs: Infinity, deduplicates: false, maxMessageBytes: Infinity },
  publish: async () => undefined,
  consume: async () => ({ cancel: async () => undefined }),
  close: async () => undefined,
};

describe('durations', () => {
  it.each([
    [250, 250],
    ['250ms', 250],
    ['4s', 4000],
    ['1.5s', 1500],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['4 s', 4000],
  ])('parses %j', (input, ms) => expect(parseDuration(input, 'x')).toBe(ms));

  it.each([['4 parsecs'], ['-1s'], [-5], [Number.NaN], ['s'], [{}]])('rejects %j naming the option', (input) => {
    expect(() => parseDuration(input, 'task "t": timeout')).toThrow(/^task "t": timeout: /);
  });

  it('takes up to 365 days unless the option names its own limit, and names the value and the range past it', () => {
    expect(parseDuration('365d', 'x')).toBe(31_536_000_000);
    expect(() => parseDuration('366d', 'x')).toThrow('x: must be a duration between 0 ms and 365d (31536000000 ms), got "366d"');
    expect(() => parseDuration(31_536_000_001, 'x', { allowZero: false })).toThrow('x: must be a duration between 1 ms and 365d (31536000000 ms), got 31536000001 ms');
    expect(parseDuration('1d', 'x', { max: 86_400_000 })).toBe(86_400_000);
    expect(() => parseDuration('25h', 'x', { max: 86_400_000 })).toThrow('x: must be a duration between 0 ms and 1d (86400000 ms), got "25h"');
  });
});

describe('duration ranges of the options', () => {
  it('a task timeout, compensateTimeout and retry backoff take up to 365 days', () => {
    const t = task('slow', (x: number) => x, { timeout: '365d', compensateTimeout: '25d', retry: { backoff: { initial: '25d', max: '365d' } } });
    expect([t.timeoutMs, t.compensateTimeoutMs, t.retry.initialMs, t.retry.maxMs]).toEqual([365 * 86_400_000, 25 * 86_400_000, 25 * 86_400_000, 365 * 86_400_000]);
    const range = 'must be a duration between 1 ms and 365d (31536000000 ms), got "400d"';
    expect(() => task('t', (x: number) => x, { timeout: '400d' })).toThrow(`task "t": timeout: ${range}`);
    expect(() => task('t', (x: number) => x, { compensateTimeout: '400d' })).toThrow(`task "t": compensateTimeout: ${range}`);
    expect(() => task('t', (x: number) => x, { retry: { backoff: { initial: '400d' } } })).toThrow(`task "t": retry.backoff.initial: ${range}`);
    expect(() => task('t', (x: number) => x, { retry: { backoff: { max: '400d' } } })).toThrow(`task "t": retry.backoff.max: ${range}`);
  });

  it('the runtime periods outboxSweep and resultPoll take up to a day', () => {
    const store = sqliteStore(':memory:');
    const c = chain('periods', task('p', (x: number) => x));
    expect(() => createRuntime({ broker: noopBroker, store, chains: [c], outboxSweep: '1d', resultPoll: '1d' })).not.toThrow();
    expect(() => createRuntime({ broker: noopBroker, store, chains: [c], outboxSweep: '25d' })).toThrow(
      'createRuntime: outboxSweep: must be a duration between 1 ms and 1d (86400000 ms), got "25d"',
    );
    expect(() => createRuntime({ broker: noopBroker, store, chains: [c], resultPoll: 2_147_483_648 })).toThrow(
      'createRuntime: resultPoll: must be a duration between 1 ms and 1d (86400000 ms), got 2147483648 ms',
    );
  });
});

describe('definition-time validation', () => {
  const ok = task('ok', (x: number) => x);

  it('names the option of a bad task', () => {
    expect(() => task('riskCheck', (x: number) => x, { timeout: '4 parsecs' as never })).toThrow('task "riskCheck": timeout: "4 parsecs" is not a duration');
    expect(() => task('riskCheck', (x: number) => x, { retry: { maxRetries: -2 } })).toThrow('task "riskCheck": retry.maxRetries');
    expect(() => task('bad name!', (x: number) => x)).toThrow(InvalidOptionError);
    expect(() => task('t', (x: number) => x, { queue: 'jobs.dead' })).toThrow("task \"t\": queue: must not end with '.dead'");
    expect(() => task('t', 'nope' as never)).toThrow('task "t": run: must be a function');
    expect(() => task('t', (x: number) => x, { compensateRetry: { backoff: { factor: 0 } } })).toThrow('task "t" compensation: retry.backoff.factor');
  });

  it('rejects "__proto__" as a task or chain name (an object key that is the prototype: the chain would fail at its first run)', () => {
    expect(() => task('__proto__', (x: number) => x)).toThrow('task name: must not be "__proto__"');
    expect(() => chain('__proto__', ok)).toThrow('chain name: must not be "__proto__"');
  });

  it('rejects a chain of zero tasks', () => {
    expect(() => (chain as (name: string) => unknown)('empty')).toThrow('chain "empty": tasks: a chain needs at least one task');
  });

  it('rejects a chain given something that is not a task', () => {
    expect(() => (chain as (name: string, ...t: unknown[]) => unknown)('c', ok, { name: 'fake' })).toThrow('chain "c": tasks[1]: must be a task created with task()');
  });

  it('rejects two different tasks sharing a name in one chain, at definition', () => {
    const first = task('same', (x: number) => x);
    const second = task('same', (x: number) => x + 1);
    expect(() => chain('c', first, second)).toThrow('chain "c": tasks[1]: a different task already has the name "same" (tasks[0]); task names must be unique');
    expect(chain('twice', first, first).steps.map((s) => s.key)).toEqual(['same', 'same_2']);
  });

  it('rejects two different tasks sharing a name across chains', () => {
    const a = chain('a', task('same', (x: number) => x));
    const b = chain('b', task('same', (x: number) => x + 1));
    expect(() => createRuntime({ broker: noopBroker, store: sqliteStore(':memory:'), chains: [a, b] })).toThrow('duplicate task name "same"');
  });

  it('rejects duplicate chain names and bad runtime options', () => {
    const store = sqliteStore(':memory:');
    expect(() => createRuntime({ broker: noopBroker, store, chains: [chain('x', ok), chain('x', ok)] })).toThrow('duplicate chain name "x"');
    expect(() => createRuntime({ broker: noopBroker, store, chains: [] })).toThrow('createRuntime: chains: must list at least one chain');
    expect(() => createRuntime({ broker: noopBroker, store, chains: [chain('y', ok)], prefetch: 0 })).toThrow('createRuntime: prefetch: must be a whole number >= 1, got 0');
    expect(() => createRuntime({ broker: {} as Broker, store, chains: [chain('z', ok)] })).toThrow('createRuntime: broker: must be a Broker');
    expect(() => createRuntime({ broker: noopBroker, store, chains: [chain('w', ok)], signingKey: 'short' })).toThrow('createRuntime: signingKey');
  });

  it('allows one task twice in a chain, as separate steps', () => {
    const twice = chain('twice', ok, ok);
    expect(twice.steps.map((s) => s.key)).toEqual(['ok', 'ok_2']);
  });
});
