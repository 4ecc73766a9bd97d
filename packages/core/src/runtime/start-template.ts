/**
 * A chain's first transition, decided by XState once per chain and reused for every run started.
 *
 * XState's initial transition of a chain's decider machine (the context built from the input,
 * the first step's `running` state entered, its invocation announced) allocated about 17 KiB per
 * run. Its outcome depends on the run's input only by carrying it: the input becomes
 * `context.input` and the first invocation's input, and no guard looks at it (the compiled
 * chart's initial state has no eventless transition and no guarded entry). So it is decided once
 * with a placeholder input, and a run's first transition is that outcome with the run's input in
 * the placeholder's places, its snapshot resolved from state value and context as the snapshot
 * of a run loaded from the store is.
 *
 * Checked when built (a tripwire for a change to the compiled chart): the machine has no
 * eventless transition; nothing looks into the placeholder (a proxy); the outcome for a second
 * placeholder is the first's with the placeholder swapped; the first state is active, with no
 * child actor; and for inputs a transition could tell apart without looking into them (`undefined`,
 * `null`, `0`, `''`, `false`, ...) the template gives XState's outcome. Otherwise every run of that
 * chain takes XState's initial transition itself.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import { pureInitialTransition, type ExecutableAction } from '../machine/pure-transition.js';

interface StartTemplate {
  readonly value: unknown;
  readonly context: unknown;
  readonly actions: readonly ExecutableAction[];
  /** The placeholder input, found in `context` and the actions' params. */
  readonly placeholder: object;
  /** The objects of `context` and the actions that hold the placeholder (copied per run; the others are frozen and shared). */
  readonly holders: WeakSet<object>;
}

/** Per decider machine: its template, or `null` when its first transition is not one (XState decides every run's). */
const templates = new WeakMap<AnyStateMachine, StartTemplate | null>();

/** Same result as {@link pureInitialTransition}`(machine, input)` for a chain's decider machine, from its template. */
export function startTransition(machine: AnyStateMachine, input: unknown): [AnyMachineSnapshot, ExecutableAction[]] {
  let template = templates.get(machine);
  if (template === undefined) {
    template = tryBuildTemplate(machine);
    templates.set(machine, template);
  }
  return template === null ? pureInitialTransition(machine, input) : fromTemplate(machine, template, input);
}

function fromTemplate(machine: AnyStateMachine, template: StartTemplate, input: unknown): [AnyMachineSnapshot, ExecutableAction[]] {
  const { placeholder, holders } = template;
  const context = substitute(template.context, placeholder, input, holders);
  const actions = template.actions.map((a): ExecutableAction => ({ type: a.type, params: substitute(a.params, placeholder, input, holders) }));
  return [machine.resolveState({ value: template.value as never, context }) as AnyMachineSnapshot, actions];
}

/** The template of `machine`, or `null` (also when XState throws on a placeholder or a probe: it will say so on the run's own input, if at all). */
function tryBuildTemplate(machine: AnyStateMachine): StartTemplate | null {
  try {
    return buildTemplate(machine);
  } catch {
    return null;
  }
}

function buildTemplate(machine: AnyStateMachine): StartTemplate | null {
  if (hasEventless(machine.root)) return null;
  // Placeholders that notice being looked into: an initial transition that reads the input is no template.
  let inspected = false;
  const placeholder = watched({ placeholder: 'first' }, () => (inspected = true));
  const other = watched({ placeholder: 'second' }, () => (inspected = true));
  const [first, firstActions] = pureInitialTransition(machine, placeholder);
  const [second, secondActions] = pureInitialTransition(machine, other);
  if (inspected || first.status !== 'active' || Object.keys(first.children as object).length > 0) return null;
  if (JSON.stringify(first.value) !== JSON.stringify(second.value) || firstActions.length !== secondActions.length) return null;
  if (!sameBut(first.context, second.context, placeholder, other)) return null;
  for (const [i, action] of firstActions.entries()) {
    const twin = secondActions[i];
    if (!twin || action.type !== twin.type || !sameBut(action.params, twin.params, placeholder, other)) return null;
  }
  const holders = new WeakSet<object>();
  const actions = firstActions.map((a): ExecutableAction => ({ type: a.type, params: a.params }));
  for (const part of [first.context, ...actions.map((a) => a.params)]) markHolders(part, placeholder, holders);
  const template: StartTemplate = { value: first.value, context: first.context, actions, placeholder, holders };
  // Inputs a transition could tell apart without looking into them (`??`, `typeof`): the template must give XState's outcome.
  for (const probe of PROBES) {
    const [templated, templatedActions] = fromTemplate(machine, template, probe);
    const [decided, decidedActions] = pureInitialTransition(machine, probe);
    if (templated.status !== decided.status || JSON.stringify(templated.value) !== JSON.stringify(decided.value) || !sameBut(templated.context, decided.context, PROBE_MARK, PROBE_MARK)) return null;
    if (templatedActions.length !== decidedActions.length || !templatedActions.every((a, i) => a.type === decidedActions[i]?.type && sameBut(a.params, decidedActions[i]?.params, PROBE_MARK, PROBE_MARK))) return null;
  }
  return template;
}

const PROBES: readonly unknown[] = [undefined, null, 0, 1, '', 'x', false, true, []];
/** Stands for nothing in the probes' comparisons. */
const PROBE_MARK = {};

/** Whether `node` or a state under it has an eventless (`always`) transition. */
function hasEventless(node: AnyStateMachine['root']): boolean {
  if (node.always !== undefined && node.always.length > 0) return true;
  return Object.values(node.states).some(hasEventless);
}

/** `target` behind a proxy that calls `seen` when anything looks into it. */
function watched(target: object, seen: () => void): object {
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

/** Whether `a` and `b` are equal plain JSON-like values, `x` in `a` standing where `y` is in `b`. */
function sameBut(a: unknown, b: unknown, x: object, y: object): boolean {
  if (a === x || b === y) return a === x && b === y;
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b) && typeof a !== 'function';
  const protoA: unknown = Object.getPrototypeOf(a);
  if ((protoA !== Object.prototype && protoA !== Array.prototype) || protoA !== Object.getPrototypeOf(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key, i) => key === keysB[i] && sameBut((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], x, y));
}

/** Adds to `holders` each object of `value` that holds `placeholder`, and freezes the others (shared by every run). */
function markHolders(value: unknown, placeholder: object, holders: WeakSet<object>): boolean {
  if (value === placeholder) return true;
  if (typeof value !== 'object' || value === null) return false;
  let holds = false;
  for (const inner of Object.values(value)) if (markHolders(inner, placeholder, holders)) holds = true;
  if (holds) holders.add(value);
  else Object.freeze(value);
  return holds;
}

/** `value` with `input` in place of `placeholder`: the objects that hold it copied, the others shared. */
function substitute(value: unknown, placeholder: object, input: unknown, holders: WeakSet<object>): unknown {
  if (value === placeholder) return input;
  if (typeof value !== 'object' || value === null || !holders.has(value)) return value;
  if (Array.isArray(value)) return value.map((inner) => substitute(inner, placeholder, input, holders));
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = substitute((value as Record<string, unknown>)[key], placeholder, input, holders);
  return copy;
}
