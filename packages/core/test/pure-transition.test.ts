import { initialTransition, transition, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { chain, task } from '../src/index.js';
import { pureInitialTransition, pureTransition } from '../src/machine/pure-transition.js';

const strip = (actions: ReadonlyArray<{ type: string; params?: unknown }>) => JSON.parse(JSON.stringify(actions.map((a) => ({ type: a.type, params: a.params })))) as unknown;

describe('pure transitions with a reused inert scope', () => {
  const c = chain('p', task('one', (x: number) => x, { compensate: () => undefined }), task('two', (x: number) => x, { retry: { maxRetries: 1, backoff: { initial: 10, jitter: 'none' } } }));
  const machine = c.machine as AnyStateMachine;

  it("gives exactly xstate's transition() and initialTransition() results, call after call", () => {
    const [s0, a0] = initialTransition(machine, 5);
    const [p0, b0] = pureInitialTransition(machine, 5);
    expect(p0.value).toEqual(s0.value);
    expect(p0.context).toEqual(s0.context);
    expect(strip(b0)).toEqual(strip(a0));
    const events = [
      { type: 'xstate.done.actor.one', output: 6, attempt: 1 },
      { type: 'xstate.error.actor.two', error: { name: 'E', message: 'm', retryable: true }, attempt: 1, random: 0 },
      { type: 'xstate.after.retryDelay.p.two.retrying', attempt: 2 },
      { type: 'xstate.error.actor.two', error: { name: 'E', message: 'm', retryable: true }, attempt: 2, random: 0 },
      { type: 'xstate.done.actor.compensate-one', output: null, attempt: 1 },
    ];
    let s = s0;
    let p = p0;
    for (const event of events) {
      const [sn, sa] = transition(machine, s, event);
      const [pn, pa] = pureTransition(machine, p, event);
      expect(pn.value).toEqual(sn.value);
      expect(pn.context).toEqual(sn.context);
      expect(strip(pa)).toEqual(strip(sa));
      s = sn;
      p = pn;
    }
    expect(p.value).toBe('compensated');
  });
});
