import { createActor, waitFor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { chain, task } from '../src/index.js';

const quote = task('quote', (x: { id: string }) => ({ ...x, quote: 100 }), { compensate: () => undefined });
const risk = task('risk', (x: { id: string; quote: number }) => ({ ...x, risk: 'low' }), { retry: { maxRetries: 2, backoff: { initial: 10, jitter: 'none' } } });
const referral = chain('referral', quote, risk);

describe('compiled machine', () => {
  it('has one state per step with running/retrying substates, compensation states and finals', () => {
    const def = referral.machine.definition;
    expect(Object.keys(def.states)).toEqual(['quote', 'risk', 'compensating', 'completed', 'cancelled', 'compensated', 'failed']);
    expect(Object.keys(def.states['quote']?.states ?? {})).toEqual(['running', 'retrying']);
    expect(Object.keys(def.states['compensating']?.states ?? {})).toEqual(['quote']);
    expect(def.states['completed']?.type).toBe('final');
    expect(def.states['failed']?.type).toBe('final');
    expect(def.states['compensated']?.type).toBe('final');
    expect(def.states['cancelled']?.type).toBe('final');
    // A cancel in 'risk' compensates 'quote' (unless told not to); in 'quote' there is nothing to undo.
    expect(def.states['risk']?.transitions.filter((t) => t.eventType === 'taskchart.cancel').map((t) => t.target?.map((s) => s.id))).toEqual([
      ['referral.compensating.quote'],
      ['referral.cancelled'],
    ]);
    expect(def.states['quote']?.transitions.filter((t) => t.eventType === 'taskchart.cancel').map((t) => t.target?.map((s) => s.id))).toEqual([['referral.cancelled']]);
    const retrying = def.states['risk']?.states?.['retrying'];
    expect(retrying?.transitions.map((t) => t.eventType)).toEqual(['xstate.after.retryDelay.referral.risk.retrying']);
    expect(def.states['risk']?.states?.['running']?.invoke[0]?.src).toBe('risk');
  });

  it('serialises to JSON for the Stately inspector', () => {
    const json = JSON.parse(JSON.stringify(referral.machine)) as { id: string; states: Record<string, unknown> };
    expect(json.id).toBe('referral');
    expect(Object.keys(json.states)).toContain('compensating');
  });

  it('omits compensation states when no step can be undone', () => {
    const plain = chain('plain', task('p1', (x: number) => x));
    expect(Object.keys(plain.machine.definition.states)).toEqual(['p1', 'completed', 'cancelled', 'compensated', 'failed']);
  });

  it('runs live with createActor, the same machine the runtime drives', async () => {
    const actor = createActor(referral.machine, { input: { id: 'r1' } });
    actor.start();
    const done = await waitFor(actor, (s) => s.status === 'done', { timeout: 2000 });
    expect(done.value).toBe('completed');
    expect(done.output).toEqual({ id: 'r1', quote: 100, risk: 'low' });
  });
});
