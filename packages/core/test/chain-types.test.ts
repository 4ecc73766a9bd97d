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

  it('accepts a step that takes a wider input than it is given', () => {
    const anyObject = task('anyObject', (o: { tenantId: string }) => o.tenantId);
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- a type-level test: `ok` is read through `typeof` only
    const ok = chain('ok', fetchQuote, anyObject);
    expectTypeOf<ChainOutput<typeof ok>>().toEqualTypeOf<string>();
  });
});
