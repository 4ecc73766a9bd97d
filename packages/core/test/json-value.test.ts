import { describe, expect, it } from 'vitest';
import { jsonProblem, storedForm } from '../src/runtime/json-value.js';

/** The value as the store gives it back: the JSON round trip (a missing value is null). The oracle storedForm must match. */
const asStored = (value: unknown): unknown => (value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown));

const shared = { s: 1 };
const circular: Record<string, unknown> = { a: 1 };
circular['self'] = { back: circular };
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { x: 1, y: [1, 2] });
class Point {
  constructor(readonly x: number) {}
}

const values: Record<string, unknown> = {
  undefined: undefined,
  null: null,
  string: 'a',
  empty: '',
  number: 1.5,
  'minus zero': -0,
  'nested minus zero': { z: -0, a: [-0] },
  true: true,
  object: { i: 1, s: 'x', n: null, deep: { list: [1, 'two', { three: 3 }] } },
  'undefined key': { a: undefined, b: 1 },
  'integer keys': { b: 1, 2: 'two', a: 3, 1: 'one' },
  'own __proto__ key': JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as unknown,
  'null prototype': nullProto,
  date: new Date(0),
  'date inside': { at: new Date(86_400_000) },
  'same object twice (not circular)': { a: shared, b: [shared, shared] },
  array: [1, [2, [3]], {}],
  'empty array': [],
  NaN: Number.NaN,
  Infinity: { deep: [Number.POSITIVE_INFINITY] },
  'undefined in array': [1, undefined],
  'sparse array': [1, , 3], // a hole, on purpose
  function: { f: () => 1 },
  symbol: Symbol('s'),
  bigint: { n: 1n },
  'class instance': { p: new Point(1) },
  map: new Map(),
  'invalid date': new Date(Number.NaN),
  circular,
};

describe('storedForm: the check and the stored copy in one walk', () => {
  for (const [name, value] of Object.entries(values)) {
    it(`gives what jsonProblem and asStored give: ${name}`, () => {
      const problem = jsonProblem(value);
      const form = storedForm(value);
      if (problem) {
        expect(form).toEqual({ ok: false, problem });
      } else {
        expect(form.ok).toBe(true);
        const stored = form.ok ? form.value : undefined;
        const expected = asStored(value);
        expect(stored).toStrictEqual(expected);
        // Same text, same key order, and -0 written as 0 exactly as the store will give it back.
        expect(JSON.stringify(stored)).toBe(JSON.stringify(expected));
      }
    });
  }

  it('copies: the stored value shares no object with the task result', () => {
    const result = { list: [{ i: 1 }] };
    const form = storedForm(result);
    if (!form.ok) throw new Error(form.problem);
    result.list[0]!.i = 2;
    expect(form.value).toEqual({ list: [{ i: 1 }] });
  });

  it('keeps an own __proto__ key a key (no prototype change)', () => {
    const form = storedForm(JSON.parse('{"__proto__": {"polluted": true}}'));
    if (!form.ok) throw new Error(form.problem);
    expect(Object.getPrototypeOf(form.value)).toBe(Object.prototype);
    expect(Object.keys(form.value as object)).toEqual(['__proto__']);
  });
});
