import { describe, expect, expectTypeOf, it } from 'vitest';
import { chain, task, type ChainInput, type ChainOutput } from '../src/index.js';

const fetchQuote = task('fetchQuote', async (input: { tenantId: string }) => ({ ...input, quote: 120 }));
const riskCheck = task('riskCheck', async (q: { tenantId: string; quote: number }) => ({ ...q, risk: 'low' as const }));
const notify = task('notify', async (r: { risk: 'low' | 'high' }) => `risk was ${r.risk}`);

describe('chain types', () => {
  it('infers the input of the first task and the output of the last', () => {
    const referral = chain('referral', fetchQuote, riskCheck, notify);
    expectTypeOf<ChainInput<typeof referral>>().toEqualTypeOf<{ tenantId: string }>();
    expectTypeOf<ChainOutput<typeof referral>>().toEqualTypeOf<string>();
    expect(referral.steps.map((s) => s.key)).toEqual(['fetchQuote', 'riskCheck', 'notify']);
  });

  it('rejects a chain whose types do not line up, at compile time', () => {
    const wantsNumber = task('wantsNumber', (n: number) => n + 1);
    // @ts-expect-error -- riskCheck returns an object, wantsNumber takes a number
    const bad = chain('bad', riskCheck, wantsNumber);
    expect(bad.steps).toHaveLength(2);
    // @ts-expect-error -- notify needs { risk }, fetchQuote gives { tenantId, quote }
    chain('bad2', fetchQuote, notify);
  });

  it('keeps the inference and the mismatch errors with a trailing options object', () => {
    const referral = chain('referral', fetchQuote, riskCheck, notify, { version: 2, migrate: { 1: (s) => s } });
    expectTypeOf<ChainInput<typeof referral>>().toEqualTypeOf<{ tenantId: string }>();
    expectTypeOf<ChainOutput<typeof referral>>().toEqualTypeOf<string>();
    expect(referral.version).toBe(2);
    const single = chain('single', fetchQuote, { version: 3 });
    expect(single.steps).toHaveLength(1);
    expectTypeOf<ChainOutput<typeof single>>().toEqualTypeOf<{ tenantId: string; quote: number }>();
    // @ts-expect-error -- notify needs { risk }, fetchQuote gives { tenantId, quote }
    chain('bad3', fetchQuote, notify, { version: 2 });
    // @ts-expect-error -- an unknown option key
    expect(() => chain('bad4', fetchQuote, riskCheck, { versoin: 2 })).toThrow('chain "bad4": versoin: unknown option; did you mean "version"?');
  });

  it('accepts a step that takes a wider input than it is given', () => {
    const anyObject = task('anyObject', (o: { tenantId: string }) => o.tenantId);
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- a type-level test: `ok` is read through `typeof` only
    const ok = chain('ok', fetchQuote, anyObject);
    expectTypeOf<ChainOutput<typeof ok>>().toEqualTypeOf<string>();
  });
});
