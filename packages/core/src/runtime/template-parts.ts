/**
 * What the transition templates (`start-template.ts`, `outcome-template.ts`) share: placeholders
 * that notice being looked into, the comparison of two outcomes placeholder for placeholder, and
 * the substitution of a run's own values for the placeholders.
 *
 * A template is XState's outcome for placeholder data. It stands for XState's outcome on a run's
 * own data only when XState carried the data without looking into it: then the outcome is the
 * template with the run's values put in the placeholders' places.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';

/** Values a transition could tell apart without looking into them (`??`, `typeof`): a template must give XState's outcome for each. */
export const PROBES: readonly unknown[] = [undefined, null, 0, 1, '', 'x', false, true, []];

/** Whether `node` or a state under it has an eventless (`always`) transition. */
export function hasEventless(node: AnyStateMachine['root']): boolean {
  if (node.always !== undefined && node.always.length > 0) return true;
  return Object.values(node.states).some(hasEventless);
}

/** `target` behind a proxy that calls `seen` when anything looks into it. */
export function watched(target: object, seen: () => void): object {
  const look =
    <A extends unknown[], R>(trap: (...args: A) => R) =>
    (...args: A): R => {
      seen();
      return trap(...args);
    };
  return new Proxy(target, {
    get: look(Reflect.get),
    has: look(Reflect.has),
    ownKeys: look(Reflect.ownKeys),
    getOwnPropertyDescriptor: look(Reflect.getOwnPropertyDescriptor),
    getPrototypeOf: look(Reflect.getPrototypeOf),
    set: look(Reflect.set),
    defineProperty: look(Reflect.defineProperty),
    deleteProperty: look(Reflect.deleteProperty),
  });
}

/** Placeholders of one outcome paired with those of another: `a[i]` stands where `b[i]` does. */
export class Pairing {
  static readonly NONE = new Pairing([], []);
  private readonly pairs = new Map<object, object>();
  private readonly others = new Set<object>();

  constructor(a: readonly object[], b: readonly object[]) {
    a.forEach((x, i) => this.pairs.set(x, b[i] as object));
    for (const y of b) this.others.add(y);
  }

  /** Whether `a` and `b` are equal plain JSON-like values, each placeholder of `a` standing where its pair is in `b`. */
  same(a: unknown, b: unknown): boolean {
    if (typeof a === 'object' && a !== null && this.pairs.has(a)) return this.pairs.get(a) === b;
    if (typeof b === 'object' && b !== null && this.others.has(b)) return false;
    if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b) && typeof a !== 'function';
    const protoA: unknown = Object.getPrototypeOf(a);
    if ((protoA !== Object.prototype && protoA !== Array.prototype) || protoA !== Object.getPrototypeOf(b)) return false;
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    if (keysA.length !== keysB.length) return false;
    return keysA.every((key, i) => key === keysB[i] && this.same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
  }
}

/**
 * Adds to `holders` each object of `value` that holds a placeholder (a key of `slots`), and
 * freezes the others (shared by every run the template decides). Returns whether `value` holds one.
 */
export function markHolders(value: unknown, slots: ReadonlyMap<object, number>, holders: WeakSet<object>): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (slots.has(value)) return true;
  let holds = false;
  for (const inner of Object.values(value)) if (markHolders(inner, slots, holders)) holds = true;
  if (holds) holders.add(value);
  else Object.freeze(value);
  return holds;
}

/** `value` with `values[slot]` in place of each placeholder: the objects that hold one copied, the others shared. */
export function substitute(value: unknown, slots: ReadonlyMap<object, number>, values: readonly unknown[], holders: WeakSet<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const slot = slots.get(value);
  if (slot !== undefined) return values[slot];
  if (!holders.has(value)) return value;
  if (Array.isArray(value)) return value.map((inner) => substitute(inner, slots, values, holders));
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = substitute((value as Record<string, unknown>)[key], slots, values, holders);
  return copy;
}

/**
 * `base` (a snapshot XState resolved once for the template's state) with a run's `context` and
 * `output`: what `machine.resolveState({ value, context, output })` gives, without resolving the
 * state's nodes again (about 2 µs and 4 KiB a transition). XState never changes a snapshot; the
 * copy shares `base`'s state nodes and tags (made from the state alone) and has its own `children`
 * and `historyValue` (empty: a template's state has neither).
 */
export function withContext(base: AnyMachineSnapshot, context: unknown, output: unknown): AnyMachineSnapshot {
  const snapshot: Record<string, unknown> = Object.assign({}, base as unknown as Record<string, unknown>);
  snapshot['context'] = context;
  snapshot['output'] = output;
  snapshot['children'] = {};
  snapshot['historyValue'] = {};
  return snapshot as unknown as AnyMachineSnapshot;
}
