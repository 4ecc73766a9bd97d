import { assign, createMachine, type AnyMachineSnapshot } from 'xstate';
import { describe, expect, it } from 'vitest';
import { chain, task, type AnyChain } from '../src/index.js';
import { CANCEL_EVENT, type ChainEvent } from '../src/machine/chain-context.js';
import { deciderMachine } from '../src/machine/decider-machine.js';
import { pureInitialTransition, pureTransition, type ExecutableAction } from '../src/machine/pure-transition.js';
import { startTransition } from '../src/runtime/start-template.js';

const undo = { compensate: () => undefined };
const chains: AnyChain[] = [
  chain('one', task('only', (x: unknown) => x)),
  chain('p', task('a', (x: unknown) => x, undo), task('b', (x: unknown) => x, { retry: { maxRetries: 2, backoff: { initial: 10 } } }), task('c', (x: unknown) => x, undo)),
  chain('v', task('d', (x: unknown) => x, { queue: 'elsewhere' }), task('e', (x: unknown) => x), { version: 3 }),
];
const inputs: unknown[] = [1, 0, null, undefined, 'text', [1, [2]], { i: 7, nested: { list: [{ deep: true }] } }, { placeholder: 'first' }];

/** What a snapshot holds and what a transition's actions ask, as plain data. */
const plainSnapshot = (s: AnyMachineSnapshot) => ({ value: s.value as unknown, context: s.context as unknown, status: s.status, output: s.output as unknown });
const plainActions = (actions: readonly ExecutableAction[]) => actions.map((a) => ({ type: a.type, params: a.params }));

describe('a chain\'s first transition from its template', () => {
  it('is what XState\'s initial transition gives, for every input, and continues the same way', () => {
    for (const c of chains) {
      const machine = deciderMachine(c);
      for (const input of inputs) {
        const [templated, templatedActions] = startTransition(machine, input);
        const [decided, decidedActions] = pureInitialTransition(machine, input);
        expect(plainSnapshot(templated)).toEqual(plainSnapshot(decided));
        expect((templated.context as { input: unknown }).input).toBe(input);
        expect(plainActions(templatedActions)).toEqual(plainActions(decidedActions));
        const first = c.steps[0]?.key ?? '';
        const events: ChainEvent[] = [
          { type: `xstate.done.actor.${first}`, output: { out: input }, attempt: 1 },
          { type: `xstate.error.actor.${first}`, error: { name: 'Error', message: 'no', retryable: true }, attempt: 1, random: 0.5 },
          { type: CANCEL_EVENT, reason: 'why', compensate: true },
        ];
        for (const event of events) {
          const [a, aActions] = pureTransition(machine, templated, event);
          const [b, bActions] = pureTransition(machine, decided, event);
          expect(plainSnapshot(a)).toEqual(plainSnapshot(b));
          expect(plainActions(aActions)).toEqual(plainActions(bActions));
        }
      }
    }
  });

  it('gives each run its own context and invocation: nothing of one run shows in another', () => {
    const machine = deciderMachine(chains[1] as AnyChain);
    const [one, oneActions] = startTransition(machine, { i: 1 });
    const [two, twoActions] = startTransition(machine, { i: 2 });
    expect(one.context).not.toBe(two.context);
    expect(oneActions[0]?.params).not.toBe(twoActions[0]?.params);
    expect((oneActions[0]?.params as { input: { input: unknown } }).input.input).toEqual({ i: 1 });
    expect((twoActions[0]?.params as { input: { input: unknown } }).input.input).toEqual({ i: 2 });
  });

  it('is used for every chain: what does not hold the input is shared, frozen', () => {
    for (const c of chains) {
      const machine = deciderMachine(c);
      const outputs = (input: unknown) => (startTransition(machine, input)[0].context as { outputs: object }).outputs;
      expect(outputs(1)).toBe(outputs(2));
      expect(Object.isFrozen(outputs(1))).toBe(true);
    }
  });

  it('leaves to XState a machine whose first transition looks at the input', () => {
    const machine = createMachine({
      types: {} as { context: { big: boolean; seen: unknown[] }; input: { big?: boolean } },
      context: ({ input }: { input: { big?: boolean } }) => ({ big: input.big === true, seen: [input] }),
      initial: 'start',
      states: {
        start: { always: [{ guard: ({ context }) => context.big, target: 'big' }, { target: 'small' }] },
        big: { entry: assign({ seen: () => [] }) },
        small: {},
      },
    });
    expect(startTransition(machine, { big: true })[0].value).toBe('big');
    expect(startTransition(machine, { big: false })[0].value).toBe('small');
    // No eventless transition, but a context that reads the input, or tells `undefined` apart.
    const reads = createMachine({ context: ({ input }: { input: { n?: number } }) => ({ n: input.n ?? 0 }), initial: 'a', states: { a: {} } });
    expect(startTransition(reads, { n: 5 })[0].context).toEqual({ n: 5 });
    const defaults = createMachine({ context: ({ input }: { input: unknown }) => ({ input: input ?? 'none' }), initial: 'a', states: { a: {} } });
    expect(startTransition(defaults, undefined)[0].context).toEqual({ input: 'none' });
    expect(startTransition(defaults, { n: 1 })[0].context).toEqual({ input: { n: 1 } });
  });
});
