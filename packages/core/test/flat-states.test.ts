import { describe, expect, it } from 'vitest';
import { flatKey, flattenStates, nestedValue } from '../src/machine/flat-states.js';

const step = (next: string) => ({
  initial: 'running',
  on: { cancel: [{ guard: 'g', target: '#m.done' }, { target: '#m.done' }] },
  states: {
    running: { entry: 'go', on: { ok: { target: `#m.${next}` }, cancel: { guard: 'own', target: 'retrying' } } },
    retrying: { after: { wait: { target: 'running' } } },
  },
});

describe('flattenStates', () => {
  it("makes each leaf a top-level state with its nested id, its own transitions before its ancestors', targets resolved to leaves", () => {
    const flat = flattenStates('m', { initial: 'a', states: { a: step('b'), b: step('done'), done: { type: 'final' } } });
    expect(flat.initial).toBe('a/running');
    expect(Object.keys(flat.states)).toEqual(['a/running', 'a/retrying', 'b/running', 'b/retrying', 'done']);
    expect(flat.states['a/running']).toEqual({
      id: 'm.a.running',
      entry: 'go',
      on: {
        ok: [{ target: 'b/running' }],
        cancel: [{ guard: 'own', target: 'a/retrying' }, { guard: 'g', target: 'done' }, { target: 'done' }],
      },
    });
    expect(flat.states['a/retrying']).toEqual({
      id: 'm.a.retrying',
      on: { cancel: [{ guard: 'g', target: 'done' }, { target: 'done' }] },
      after: { wait: [{ target: 'a/running' }] },
    });
    expect(flat.states['done']).toEqual({ id: 'm.done', type: 'final', on: {} });
  });

  it('refuses what flattening would change the meaning of, naming the state', () => {
    const flatten = (states: Record<string, Record<string, unknown>>) => () => flattenStates('m', { initial: 'a', states });
    expect(flatten({ a: { ...step('a'), entry: 'x' } })).toThrow('cannot flatten state "a": a compound state with "entry"');
    expect(flatten({ a: { initial: 'f', states: { f: { type: 'final' } } } })).toThrow('cannot flatten state "a.f": a final state below the top');
    expect(flatten({ a: { on: { e: { target: 'a', reenter: true } } } })).toThrow('re-entering');
    expect(flatten({ a: { invoke: { src: 's' } } })).toThrow('a state with "invoke"');
    expect(flatten({ a: { on: { e: '#m.nowhere' } } })).toThrow('target "#m.nowhere" does not exist');
    expect(flatten({ a: { on: { e: '.child' } } })).toThrow('is not under "#m." nor a sibling');
  });
});

describe('state values', () => {
  it('map between flat keys and nested values both ways', () => {
    for (const [key, value] of [
      ['a/running', { a: 'running' }],
      ['compensating/a/retrying', { compensating: { a: 'retrying' } }],
      ['completed', 'completed'],
    ] as const) {
      expect(nestedValue(key)).toEqual(value);
      expect(flatKey(value)).toBe(key);
    }
  });

  it('has no flat key for a parallel or malformed value', () => {
    expect(flatKey({ a: 'running', b: 'running' })).toBeUndefined();
    expect(flatKey({})).toBeUndefined();
    expect(flatKey({ a: 1 })).toBeUndefined();
    expect(flatKey(null)).toBeUndefined();
    expect(flatKey('a/running')).toBeUndefined();
    expect(flatKey({ 'a/b': 'running' })).toBeUndefined();
  });
});
