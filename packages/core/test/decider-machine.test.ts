import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { chain, task, type AnyChain } from '../src/index.js';
import { CANCEL_EVENT } from '../src/machine/chain-context.js';
import { compensationActorId, INVOKE, stepActorId } from '../src/machine/compile-machine.js';
import { deciderMachine, onDecider, storedValue } from '../src/machine/decider-machine.js';
import { pureInitialTransition, pureTransition } from '../src/machine/pure-transition.js';

interface Action {
  readonly type: string;
  readonly params?: unknown;
}

/**
 * The live machine's actions as the decider machine gives them: `xstate.spawnChild` becomes
 * `INVOKE` with the same `{ id, input }`, and `xstate.stopChild` (the live actor's stop) goes.
 */
const asDecider = (actions: readonly Action[]) =>
  actions
    .filter((a) => a.type !== 'xstate.stopChild')
    .map((a) => (a.type === 'xstate.spawnChild' ? { type: INVOKE, params: { id: (a.params as { id: string }).id, input: (a.params as { input: unknown }).input } } : a));
const plain = (actions: readonly Action[]) => JSON.parse(JSON.stringify(actions.map((a) => ({ type: a.type, params: a.params })))) as unknown;

/** A small seeded PRNG: the same event sequences on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const undo = { compensate: () => undefined, compensateRetry: { maxRetries: 1, backoff: { initial: 5, jitter: 'none' as const } } };
const chains: AnyChain[] = [
  chain('one', task('only', (x: number) => x)),
  chain('p', task('a', (x: number) => x, undo), task('b', (x: number) => x, { retry: { maxRetries: 2, backoff: { initial: 10 } } }), task('c', (x: number) => x, undo)),
  chain('q', task('d', (x: number) => x, { ...undo, retry: { maxRetries: 1, backoff: { initial: 10, jitter: 'none' } } }), task('e', (x: number) => x, undo), task('f', (x: number) => x)),
];

/** Where a snapshot is: its step and whether it compensates (undefined in a final state). */
function place(snapshot: AnyMachineSnapshot): { step: string; compensation: boolean } | undefined {
  const value = snapshot.value as string | Record<string, string | Record<string, string>>;
  if (typeof value === 'string') return undefined;
  const [top, inner] = Object.entries(value)[0] ?? [];
  if (top === 'compensating' && typeof inner === 'object') return { step: Object.keys(inner)[0] ?? '', compensation: true };
  return top === undefined ? undefined : { step: top, compensation: false };
}

/** An event for a chain's machine: mostly what the run waits for, sometimes stale or out of place ones. */
function events(c: AnyChain, snapshot: AnyMachineSnapshot, random: () => number) {
  const context = snapshot.context as { attempt: number };
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const here = place(snapshot);
  const fitting = here !== undefined && random() < 0.8;
  const step = fitting ? here.step : pick(c.steps).key;
  const compensation = fitting ? here.compensation : random() < 0.3;
  const id = compensation ? compensationActorId(step) : stepActorId(step);
  const attempt = random() < 0.85 ? context.attempt : pick([undefined, context.attempt - 1, context.attempt + 1]);
  const error = { name: 'E', message: 'm', retryable: random() < 0.8, ...(random() < 0.2 ? { retryAfterMs: 50 } : {}) };
  const path = compensation ? `compensating.${step}` : step;
  return pick([
    { type: `xstate.done.actor.${id}`, output: { n: Math.floor(random() * 100) }, attempt },
    { type: `xstate.done.actor.${id}`, output: { n: Math.floor(random() * 100) }, attempt },
    { type: `xstate.error.actor.${id}`, error, attempt, random: random() },
    { type: `xstate.after.retryDelay.${c.name}.${path}.retrying`, attempt },
    ...(random() < 0.3 ? [{ type: CANCEL_EVENT, reason: pick([null, 'why']), compensate: random() < 0.5 }] : []),
  ]);
}

describe('the decider machine', () => {
  it("takes exactly the live machine's transitions: same states, context, output and actions (spawnChild as INVOKE)", () => {
    const random = prng(13);
    let transitions = 0;
    const ends = new Set<unknown>();
    for (const c of chains) {
      const live = c.machine as AnyStateMachine;
      const decider = deciderMachine(c);
      for (let run = 0; run < 150; run++) {
        const [s0, a0] = initialTransition(live, { run });
        const [d0, b0] = pureInitialTransition(decider, { run });
        expect(storedValue(c, d0)).toEqual(s0.value);
        expect(d0.context).toEqual(s0.context);
        expect(plain(b0)).toEqual(plain(asDecider(a0)));
        let s = s0;
        let d = d0;
        for (let i = 0; i < 20 && s.status === 'active'; i++) {
          const event = events(c, s, random);
          const [sn, sa] = transition(live, s, event as never);
          const [dn, da] = pureTransition(decider, d, event);
          const seen = (x: AnyMachineSnapshot, value: unknown): unknown => ({ value, status: x.status, output: x.output as unknown });
          expect(seen(dn, storedValue(c, dn))).toEqual(seen(sn, sn.value));
          expect(dn.context).toEqual(sn.context);
          expect(plain(da)).toEqual(plain(asDecider(sa)));
          // "No transition" is the same answer on both: the very snapshot back.
          expect(dn === d).toBe(sn === s);
          if (sn !== s) transitions++;
          s = sn;
          d = dn;
        }
        ends.add(s.status === 'done' ? s.value : s.status);
      }
    }
    // Every ending was reached: each final state, and the `error` status of an outcome no transition takes.
    expect([...ends].filter((e) => e !== 'active').sort()).toEqual(['cancelled', 'compensated', 'completed', 'error', 'failed']);
    // The sequences reach deep enough to mean something.
    expect(transitions).toBeGreaterThan(800);
  });

  it('keeps the drawn machine: chain.machine still invokes the tasks; the decider holds its leaves, flattened, with their ids', () => {
    const c = chains[1] as AnyChain;
    const live = c.machine as AnyStateMachine;
    expect(live.definition.states['b']?.states?.['running']?.invoke[0]?.src).toBe('b');
    type Node = { readonly id: string; readonly type: string; readonly states: Readonly<Record<string, Node>>; readonly invoke: readonly unknown[] };
    const leaves = (n: Node): Node[] => (Object.keys(n.states).length === 0 ? [n] : Object.values(n.states).flatMap(leaves));
    const decider = deciderMachine(c);
    const flat = Object.values(decider.root.states as Readonly<Record<string, Node>>);
    expect(flat.map((n) => n.id).sort()).toEqual(leaves(live.root as Node).map((n) => n.id).sort());
    expect(flat.every((n) => n.invoke.length === 0 && (n.type === 'atomic' || n.type === 'final'))).toBe(true);
    // Every state of chain.machine goes to the decider and back to the same value.
    for (const value of [{ a: 'running' }, { b: 'retrying' }, { compensating: { a: 'retrying' } }, 'completed', 'cancelled']) {
      const d = onDecider(c, live.resolveState({ value, context: {} }));
      expect(d.machine).toBe(decider);
      expect(storedValue(c, d)).toEqual(value);
    }
    // A partial value resolves as chain.machine resolves it; an unknown state throws XState's error.
    expect(storedValue(c, onDecider(c, live.resolveState({ value: 'b', context: {} })))).toEqual({ b: 'running' });
    expect(() => onDecider(c, { ...live.resolveState({ value: 'completed', context: {} }), value: { nope: 'running' } } as AnyMachineSnapshot)).toThrow(/nope/);
    // A flat key is no state of chain.machine, so not of the decider either.
    expect(() => onDecider(c, { ...live.resolveState({ value: 'completed', context: {} }), value: 'a/running' } as AnyMachineSnapshot)).toThrow(/a\/running/);
    expect(deciderMachine(c)).toBe(deciderMachine(c));
  });
});
