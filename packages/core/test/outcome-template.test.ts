import fc from 'fast-check';
import { assign, createMachine, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';
import { describe, expect, it, vi } from 'vitest';
import { chain, task, type AnyChain } from '../src/index.js';
import type { AnyTask } from '../src/task.js';
import { CANCEL_EVENT } from '../src/machine/chain-context.js';
import { INVOKE, type InvokeParams } from '../src/machine/compile-machine.js';
import { deciderMachine } from '../src/machine/decider-machine.js';
import * as pure from '../src/machine/pure-transition.js';
import { pureInitialTransition, pureTransition, type ExecutableAction } from '../src/machine/pure-transition.js';
import { outcomeTransition, SHAPES_PER_TRANSITION } from '../src/runtime/outcome-template.js';

// Spied on (a pass-through) to tell XState's own transitions from the templates'.
vi.mock('../src/machine/pure-transition.js', async (importOriginal) => {
  const actual = await importOriginal<typeof pure>();
  return { ...actual, pureTransition: vi.fn(actual.pureTransition) };
});

/** What a snapshot holds and what a transition's actions ask, as data (JSON, so key order counts too). */
function described([snapshot, actions]: [AnyMachineSnapshot, readonly ExecutableAction[]], before: AnyMachineSnapshot) {
  const plain = { value: snapshot.value as unknown, status: snapshot.status, context: snapshot.context as unknown, output: snapshot.output as unknown, error: snapshot.error };
  return {
    plain,
    json: JSON.stringify(plain, (_key, v: unknown) => (v === undefined ? '<undefined>' : v)),
    children: Object.keys(snapshot.children as object),
    history: snapshot.historyValue,
    // What decideEvent reads as "the machine ignored the event".
    ignored: snapshot === before || snapshot.status === 'error' || (snapshot.value === before.value && snapshot.context === before.context),
    actions: actions.map((a) => ({ type: a.type, params: a.params })),
  };
}

const undo = { compensate: () => undefined };
function makeChain(name: string, specs: ReadonlyArray<{ compensate: boolean; retries: number }>): AnyChain {
  const tasks: AnyTask[] = specs.map((s, i) => task(`t${i}`, (x: unknown) => x, { ...(s.compensate ? undo : {}), retry: { maxRetries: s.retries, backoff: { initial: 5 } } }));
  const [first, ...rest] = tasks as [AnyTask, ...AnyTask[]];
  return chain(name, first, ...rest);
}

const value = fc.oneof(fc.jsonValue(), fc.constantFrom<unknown>(undefined, null, 0, '', false, [], {}, { placeholder: 'first', slot: 0 }));

/** The events a run in `snapshot` could be sent next: outcomes of what it invoked last, its timers, a cancel, and stale ones. */
function candidates(snapshot: AnyMachineSnapshot, actions: readonly ExecutableAction[], c: AnyChain): EventObject[] {
  const attempt = (snapshot.context as { attempt: number }).attempt;
  const events: EventObject[] = [];
  const invoked = actions.find((a) => a.type === INVOKE)?.params as InvokeParams | undefined;
  // First (the walk picks it half the time, to go deep): the outcome the run waits for.
  if (invoked) events.push({ type: `xstate.done.actor.${invoked.id}`, output: null, attempt: invoked.input.attempt } as EventObject);
  events.push({ type: CANCEL_EVENT, reason: 'r', compensate: true } as EventObject, { type: CANCEL_EVENT, reason: null, compensate: false } as EventObject);
  for (const a of actions) {
    if (a.type === INVOKE) {
      const { id, input } = a.params as InvokeParams;
      events.push({ type: `xstate.error.actor.${id}`, error: { name: 'Error', message: 'no', retryable: true }, attempt: input.attempt, random: 0.25 } as EventObject);
      events.push({ type: `xstate.error.actor.${id}`, error: { name: 'Error', message: 'no', retryable: false }, attempt: input.attempt, random: 0.5 } as EventObject);
      events.push({ type: `xstate.done.actor.${id}`, output: null, attempt: input.attempt + 1 } as EventObject);
    } else if (a.type === 'xstate.raise') {
      events.push((a.params as { event: EventObject }).event);
    }
  }
  // Stale: the first step's outcome, whatever the state.
  events.push({ type: `xstate.done.actor.${c.steps[0]?.key ?? ''}`, output: null, attempt } as EventObject);
  return events;
}

describe('a run\'s transition from a template', () => {
  it('is what XState\'s transition gives, step by step, on any walk of any chain (two runs in lockstep: templates, XState alone)', () => {
    // Chains made once: their templates, built by the first walks, decide the later ones.
    const pool = Array.from({ length: 8 }, (_, k) =>
      makeChain(
        `walk${k}`,
        Array.from({ length: 1 + (k % 4) }, (_, i) => ({ compensate: (k + i) % 3 !== 0, retries: (k + i) % 3 })),
      ),
    );
    fc.assert(
      fc.property(fc.nat(), value, fc.array(fc.tuple(fc.nat(), value), { minLength: 1, maxLength: 14 }), (k, input, moves) => {
        const c = pool[k % pool.length] as AnyChain;
        const machine = deciderMachine(c);
        let [mine] = pureInitialTransition(machine, input);
        let [theirs, theirsActions] = pureInitialTransition(machine, input);
        for (const [pick, output] of moves) {
          if (theirs.status !== 'active') break;
          const options = candidates(theirs, theirsActions, c);
          const picked = options[pick % 2 === 0 ? 0 : (pick >> 1) % options.length] as EventObject;
          const event = picked.type.startsWith('xstate.done.actor.') && !picked.type.includes('compensate-') ? { ...picked, output } : picked;
          const templated = outcomeTransition(machine, mine, event);
          const decided = pureTransition(machine, theirs, event);
          const a = described(templated, mine);
          const b = described(decided, theirs);
          expect(a).toStrictEqual(b);
          expect(a.json).toBe(b.json);
          if (!a.ignored) [mine] = templated;
          if (!b.ignored) [theirs, theirsActions] = decided;
        }
      }),
      { numRuns: 400 },
    );
  });

  it('decides a step\'s outcome without XState once a run of that shape has taken it, and gives each run its own data', () => {
    const c = makeChain('plain', [
      { compensate: false, retries: 0 },
      { compensate: true, retries: 1 },
      { compensate: false, retries: 0 },
    ]);
    const machine = deciderMachine(c);
    const spy = vi.mocked(pure.pureTransition);
    const walk = (i: number) => {
      let [snapshot, actions] = pureInitialTransition(machine, { run: i });
      for (const step of c.steps) {
        const { id, input } = (actions[0] as ExecutableAction).params as InvokeParams;
        expect(id).toBe(step.key);
        [snapshot, actions] = outcomeTransition(machine, snapshot, { type: `xstate.done.actor.${id}`, output: { run: i, after: step.key, got: input.input }, attempt: input.attempt } as EventObject);
      }
      return snapshot;
    };
    walk(1);
    spy.mockClear();
    const second = walk(2);
    expect(spy).not.toHaveBeenCalled();
    expect(second.status).toBe('done');
    expect(second.output).toEqual({ run: 2, after: 't2', got: { run: 2, after: 't1', got: { run: 2, after: 't0', got: { run: 2 } } } });
    expect(second.context as unknown).toEqual({
      input: { run: 2 },
      outputs: { t0: { run: 2, after: 't0', got: { run: 2 } }, t1: { run: 2, after: 't1', got: { run: 2, after: 't0', got: { run: 2 } } }, t2: second.output as unknown },
      attempt: 1,
      retryDelayMs: 0,
      failure: null,
      compensationFailure: null,
    });
    // A failure's outcome (its error an object the retry guard reads) is always XState's.
    const [start, startActions] = pureInitialTransition(machine, 1);
    const { id, input } = (startActions[0] as ExecutableAction).params as InvokeParams;
    outcomeTransition(machine, start, { type: `xstate.error.actor.${id}`, error: { name: 'E', message: 'm', retryable: false }, attempt: input.attempt } as EventObject);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('leaves to XState a transition that looks into the data, whatever the shape', () => {
    const machine = createMachine({
      types: {} as { context: { input: unknown; outputs: Record<string, unknown>; attempt: number }; events: { type: 'xstate.done.actor.a'; output: { big?: boolean } } },
      context: { input: null, outputs: {}, attempt: 1 },
      initial: 'a',
      states: {
        a: {
          on: {
            'xstate.done.actor.a': [
              { guard: ({ event }) => (event.output as { big?: boolean } | null | undefined)?.big === true, target: 'big', actions: assign({ outputs: ({ event }) => ({ a: event.output }) }) },
              { target: 'small', actions: assign({ outputs: ({ event }) => ({ a: event.output }) }) },
            ],
          },
        },
        big: {},
        small: {},
      },
    }) as unknown as AnyStateMachine;
    const [start] = pureInitialTransition(machine, undefined);
    const spy = vi.mocked(pure.pureTransition);
    for (let i = 0; i < SHAPES_PER_TRANSITION + 3; i++) {
      // Small first: the probes (`undefined`, `0`, ...) and that run all go to `small`; only the placeholders tell.
      const big = i % 2 === 1;
      spy.mockClear();
      const [next] = outcomeTransition(machine, start, { type: 'xstate.done.actor.a', output: { big } } as EventObject);
      expect(next.value).toBe(big ? 'big' : 'small');
      expect(spy).toHaveBeenCalled();
    }
  });

  it('keeps at most a few shapes per state and event type; others take XState\'s transition', () => {
    const c = makeChain('shapes', [
      { compensate: false, retries: 0 },
      { compensate: false, retries: 0 },
    ]);
    const machine = deciderMachine(c);
    const [start] = pureInitialTransition(machine, 'x');
    const spy = vi.mocked(pure.pureTransition);
    // A fixed field that differs run by run (here `retryDelayMs`) is a shape of its own.
    const shaped = (k: number) => machine.resolveState({ value: start.value as never, context: { ...(start.context as object), retryDelayMs: k } }) as AnyMachineSnapshot;
    const done = { type: `xstate.done.actor.${c.steps[0]?.key ?? ''}`, output: 'o', attempt: 1 } as EventObject;
    for (let k = 0; k < SHAPES_PER_TRANSITION + 2; k++) {
      const [first] = outcomeTransition(machine, shaped(k), done);
      spy.mockClear();
      const [again] = outcomeTransition(machine, shaped(k), done);
      expect(again.context).toEqual(first.context);
      expect(again.context).toEqual(pureTransition(machine, shaped(k), done)[0].context);
      // The first shapes are templates (XState called only by this test's check); the rest are XState's.
      expect(spy).toHaveBeenCalledTimes(k < SHAPES_PER_TRANSITION ? 1 : 2);
    }
    // The completed steps' names are part of the shape: other names, another template.
    const second = { type: `xstate.done.actor.${c.steps[1]?.key ?? ''}`, output: 'p', attempt: 1 } as EventObject;
    const [inSecond] = outcomeTransition(machine, start, done);
    for (const outputs of [{ t0: 'a' }, { t0: 'a', extra: 'b' }, { extra: 'b', t0: 'a' }, {}]) {
      const at = machine.resolveState({ value: inSecond.value as never, context: { ...(inSecond.context as object), outputs } }) as AnyMachineSnapshot;
      const [templated] = outcomeTransition(machine, at, second);
      expect(JSON.stringify(templated.context)).toBe(JSON.stringify(pureTransition(machine, at, second)[0].context));
      expect(templated.output).toEqual(pureTransition(machine, at, second)[0].output);
    }
  });

  it('keeps no more than a few dozen event types per state: past them (made-up timer events), XState decides', () => {
    const c = makeChain('flood', [{ compensate: false, retries: 0 }]);
    const machine = deciderMachine(c);
    const [start] = pureInitialTransition(machine, 1);
    // Ignored (XState hands back the same snapshot), each type tried as a template and refused.
    for (let i = 0; i < 40; i++) expect(outcomeTransition(machine, start, { type: `xstate.after.made-up-${i}` })[0]).toBe(start);
    const done = { type: `xstate.done.actor.${c.steps[0]?.key ?? ''}`, output: 'o', attempt: 1 } as EventObject;
    const spy = vi.mocked(pure.pureTransition);
    outcomeTransition(machine, start, done);
    spy.mockClear();
    const [next] = outcomeTransition(machine, start, done);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(next.output).toBe('o');
  });
});
