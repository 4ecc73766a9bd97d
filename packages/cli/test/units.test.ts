/** The CLI's pure parts: flag parsing, config checks, chain collection, exit codes. */
import { chain, task } from '@taskchart/core';
import { describe, expect, it } from 'vitest';
import { collectChains, pickChain } from '../src/chains-module.js';
import { checkConfig } from '../src/config.js';
import { describeError, exitCodeOf, NotFoundError, UsageError } from '../src/errors.js';
import { formatState, table } from '../src/format.js';
import { parseIntFlag, parseSince, parseStatuses } from '../src/parse.js';

const t = task('t', (x: number) => x);

describe('flags', () => {
  it('parses statuses, since and whole numbers, naming the flag and the valid range on a bad value', () => {
    expect(parseStatuses('failed, parked')).toEqual(['failed', 'parked']);
    expect(() => parseStatuses('failed,broken')).toThrow('--status: unknown status "broken"; valid: scheduled, running, retrying, compensating, completed, failed, compensated, cancelled, parked');
    expect(parseSince('1h', 10_000_000)).toBe(10_000_000 - 3_600_000);
    expect(parseSince('2026-11-29T05:00:00Z', 0)).toBe(Date.parse('2026-11-29T05:00:00Z'));
    expect(() => parseSince('yesterday', 0)).toThrow('--since: give a duration ago (30m, 1h, 7d) or an ISO time');
    expect(parseIntFlag('50', '--limit', 1, 1000)).toBe(50);
    expect(() => parseIntFlag('1001', '--limit', 1, 1000)).toThrow('--limit: give a whole number from 1 to 1000, got "1001"');
    expect(() => parseIntFlag('1.5', '--limit', 1, 1000)).toThrow(UsageError);
  });
});

describe('config checks', () => {
  const ok = { store: () => null, broker: () => null, chains: './chains.ts' };
  it('accepts the known keys and rejects anything else, naming the file and the key', () => {
    expect(checkConfig({ ...ok, signingKey: 'k', redact: ['iban', /^card/] }, '/x/taskchart.config.ts')).toBeDefined();
    expect(() => checkConfig({ ...ok, brokr: 1 }, '/x/taskchart.config.ts')).toThrow('config file /x/taskchart.config.ts: unknown key "brokr"; valid keys: store, broker, chains, signingKey, redact');
    expect(() => checkConfig([], '/x/c.ts')).toThrow('config file /x/c.ts: its default export must be an object');
    expect(() => checkConfig({ ...ok, chains: 3 }, '/x/c.ts')).toThrow('config file /x/c.ts: "chains" must be the path of the module');
    expect(() => checkConfig({ ...ok, redact: [1] }, '/x/c.ts')).toThrow('"redact" must be an array of strings and regular expressions');
  });
});

describe('chains module', () => {
  it('collects chains and arrays of chains, once each; refuses two different chains with one name and version', () => {
    const a = chain('a', t);
    const b1 = chain('b', t);
    const b2 = chain('b', t, t, { version: 2 });
    expect(collectChains({ a, again: a, bs: [b1, b2], other: 3 }, 'm')).toEqual([a, b1, b2]);
    expect(() => collectChains({ a, a2: chain('a', t) }, 'm')).toThrow('m: exports "a" and "a2" are two different chains named "a" with version 1');
    expect(() => collectChains({ x: 1 }, 'm')).toThrow('m exports no chain');
    expect(pickChain([b1, b2], 'b', undefined)).toBe(b2);
    expect(pickChain([b1, b2], 'b', 1)).toBe(b1);
    expect(() => pickChain([b1], 'c', undefined)).toThrow(NotFoundError);
  });
});

describe('output', () => {
  it('pads table columns and prints state values as paths', () => {
    expect(table(['ID', 'STATUS'], [['a-long-id', 'ok'], ['b', 'failed']])).toBe('ID         STATUS\na-long-id  ok\nb          failed');
    expect(formatState({ compensating: { charge: 'running' } })).toBe('compensating.charge.running');
    expect(formatState(undefined)).toBe('-');
  });

  it('maps errors to exit codes by name, and shows the stack only with --debug', () => {
    expect(exitCodeOf(new NotFoundError('x'))).toBe(3);
    expect(exitCodeOf(Object.assign(new Error('bad'), { name: 'InvalidOptionError' }))).toBe(2);
    expect(exitCodeOf(new Error('down'))).toBe(1);
    expect(describeError(new UsageError('no config'), false)).toBe('taskchart: no config');
    expect(describeError(new NotFoundError('no run "x"'), false)).toBe('taskchart: NotFoundError: no run "x"');
    expect(describeError(new Error('x'), true)).toMatch(/\n\s+at /);
  });
});
