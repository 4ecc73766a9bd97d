/**
 * The tenant-referral flow: fetch a quote -> third-party risk check (flaky) -> issue the
 * guarantee -> notify the landlord. Tasks are built around the services they call, so the demo
 * and its test each get their own fakes.
 */
import { chain, NonRetryableError, task, type RetryOptions } from '@taskchart/core';
import { between, sleep } from './seeded.js';
import type { Services } from './services.js';

export interface Referral {
  readonly tenantId: string;
  readonly tenant: string;
  readonly landlord: string;
  readonly monthlyRent: number;
}

export interface Quoted extends Referral {
  readonly guaranteeId: string;
  readonly premium: number;
}

export interface Assessed extends Quoted {
  readonly riskScore: number;
}

export interface Guaranteed extends Assessed {
  readonly guaranteeStatus: 'issued';
}

export interface Notified {
  readonly tenantId: string;
  readonly guaranteeId: string;
  readonly notified: string;
}

/**
 * The retry policy the demo uses: Celery's schedule `min(max, initial * 2^retry)` without
 * jitter, shortened so the demo ends in seconds. Production would say
 * `{ maxRetries: 10, backoff: { initial: '4s', max: '10m', jitter: 'none' } }`.
 */
export const demoRetry = { maxRetries: 4, backoff: { initial: '200ms', max: '2s', jitter: 'none' } } satisfies RetryOptions;

export function referralChain(services: Services, retry: RetryOptions = demoRetry) {
  const { ledger, riskApi, mailbox, seed } = services;
  const work = (key: string, signal: AbortSignal) => sleep(between(seed, key, services.latencyMs[0], services.latencyMs[1]), signal);

  const fetchQuote = task(
    'fetchQuote',
    async (input: Referral, ctx): Promise<Quoted> => {
      if (!(input.monthlyRent > 0)) throw new NonRetryableError(`monthly rent must be positive, got ${input.monthlyRent}`);
      await work(`quote:${ctx.idempotencyKey}`, ctx.signal);
      const premium = Math.round(input.monthlyRent * 0.035 * 100) / 100;
      const file = ledger.openQuote(ctx.idempotencyKey, input.tenantId, input.monthlyRent, premium);
      return { ...input, guaranteeId: file.id, premium };
    },
    {
      retry,
      // Rolling back a referral voids the guarantee file the quote opened.
      compensate: (output) => ledger.void(output.guaranteeId, 'referral rolled back'),
    },
  );

  const riskCheck = task(
    'riskCheck',
    async (quote: Quoted, ctx): Promise<Assessed> => ({ ...quote, riskScore: await riskApi.score(quote.tenantId, ctx.attempt, ctx.signal) }),
    { retry, timeout: '5s' },
  );

  const createGuarantee = task(
    'createGuarantee',
    async (assessed: Assessed, ctx): Promise<Guaranteed> => {
      await work(`issue:${ctx.idempotencyKey}`, ctx.signal);
      ledger.issue(assessed.guaranteeId);
      return { ...assessed, guaranteeStatus: 'issued' };
    },
    { retry, compensate: (output) => ledger.void(output.guaranteeId, 'guarantee voided by rollback') },
  );

  const notifyLandlord = task(
    'notifyLandlord',
    async (g: Guaranteed, ctx): Promise<Notified> => {
      await work(`notify:${ctx.idempotencyKey}`, ctx.signal);
      const text = `${g.tenant} is guaranteed (${g.guaranteeId}, rent ${g.monthlyRent} EUR/month)`;
      mailbox.send(ctx.idempotencyKey, { landlord: g.landlord, guaranteeId: g.guaranteeId, text });
      return { tenantId: g.tenantId, guaranteeId: g.guaranteeId, notified: g.landlord };
    },
    { retry },
  );

  return chain('referral', fetchQuote, riskCheck, createGuarantee, notifyLandlord);
}

export type ReferralChain = ReturnType<typeof referralChain>;
