import { describe, expect, it } from 'vitest';
import { parseMessage } from '../src/adapter.js';
import { chain, task } from '../src/index.js';
import { sign, verifySignature, SIGNATURE_HEADER } from '../src/messages.js';
import { decideEvent, decideStart, restoreSnapshot } from '../src/runtime/decide.js';
import { jsonProblem } from '../src/runtime/json-value.js';

describe('wire messages', () => {
  const c = chain('wire', task('first', (x: { id: string }) => x, { compensate: () => undefined }), task('second', (x: { id: string }) => x));

  it('keeps the frozen wire format and stored snapshot (a change needs a new WIRE_VERSION)', () => {
    const start = decideStart(c, 'run-1', { id: 't-1' }, 1_700_000_000_000);
    const failed = decideEvent(c, start.record, restoreSnapshot(c, start.record), { type: 'xstate.error.actor.first', error: { name: 'Error', message: 'x', retryable: true }, attempt: 1, random: 0.5 }, 1_700_000_000_500);
    expect({ task: JSON.parse(start.outbox[0]?.body ?? '') as unknown, timer: JSON.parse(failed?.outbox[0]?.body ?? '') as unknown, snapshot: start.record.snapshot }).toMatchSnapshot();
  });

  it.each([
    ['not json', 'malformed message: not JSON'],
    ['[1]', 'malformed message: not a JSON object'],
    ['{"v":2}', 'unsupported wire version 2'],
    ['{"v":1,"runId":"r","chain":"c","attempt":0}', 'attempt must be a whole number >= 1'],
    ['{"v":1,"runId":"r","chain":"c","attempt":1,"kind":"task"}', 'malformed task message: missing step or task'],
    ['{"v":1,"runId":"r","chain":"c","attempt":1,"kind":"timer","event":"boom","dueAt":1}', 'event must be an xstate.after event'],
    ['{"v":1,"runId":"r","chain":"c","attempt":1,"kind":"other"}', 'unknown kind "other"'],
  ])('rejects %s with a reason', (body, reason) => {
    const parsed = parseMessage(body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });

  it('signs and verifies with HMAC-SHA256', () => {
    const key = 'a-signing-key-of-some-length';
    expect(verifySignature('body', { [SIGNATURE_HEADER]: sign('body', key) }, key)).toBeUndefined();
    expect(verifySignature('body', {}, key)).toContain('unsigned message');
    expect(verifySignature('tampered', { [SIGNATURE_HEADER]: sign('body', key) }, key)).toContain('bad signature');
    expect(verifySignature('body', { [SIGNATURE_HEADER]: 'zz' }, key)).toContain('bad signature');
  });
});

describe('JSON-safety check', () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const circular: Record<string, unknown> = {};
  circular['self'] = circular;
  it.each([
    [{ a: BigInt(1) }, '$.a is a BigInt'],
    [{ f: () => 1 }, '$.f is a function'],
    [{ m: new Money(1) }, '$.m is a Money instance'],
    [circular, '$.self is a circular reference'],
    [[1, undefined], '$[1] is undefined'],
    [{ n: Number.NaN }, '$.n is NaN'],
    [new Map(), '$ is a Map instance'],
  ])('names the offending path (case %#: %s)', (value, problem) => expect(jsonProblem(value)).toContain(problem));

  it('accepts plain data, dates and absent keys', () => {
    expect(jsonProblem({ a: [1, 'x', null, { b: true }], d: new Date(0), u: undefined })).toBeUndefined();
    expect(jsonProblem(undefined)).toBeUndefined();
  });
});
