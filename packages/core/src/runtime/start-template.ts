/**
 * A chain's first transition, decided by XState once per chain and reused for every run started.
 *
 * XState's initial transition of a chain's decider machine (the context built from the input,
 * the first step's `running` state entered, its invocation announced) allocated about 17 KiB per
 * run. Its outcome depends on the run's input only by carrying it: the input becomes
 * `context.input` and the first invocation's input, and no guard looks at it (the compiled
 * chart's initial state has no eventless transition and no guarded entry). So it is decided once
 * with a placeholder input, and a run's first transition is that outcome with the run's input in
 * the placeholder's places, its snapshot a copy of the one XState resolved for that first state
 * with the run's context (see `withContext`).
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
import { hasEventless, markHolders, Pairing, PROBES, substitute, watched, withContext } from './template-parts.js';

interface StartTemplate {
  /** The snapshot XState resolves for the first state (with the placeholder's context): what every run's is copied from. */
  readonly base: AnyMachineSnapshot;
  readonly context: unknown;
  readonly actions: readonly ExecutableAction[];
  /** The placeholder input (slot 0), found in `context` and the actions' params. */
  readonly slots: ReadonlyMap<object, number>;
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
  return template === null ? pureInitialTransition(machine, input) : fromTemplate(template, input);
}

function fromTemplate(template: StartTemplate, input: unknown): [AnyMachineSnapshot, ExecutableAction[]] {
  const { slots, holders } = template;
  const values = [input];
  const context = substitute(template.context, slots, values, holders);
  const actions = template.actions.map((a): ExecutableAction => ({ type: a.type, params: substitute(a.params, slots, values, holders) }));
  return [withContext(template.base, context, undefined), actions];
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
  const pairing = new Pairing([placeholder], [other]);
  const [first, firstActions] = pureInitialTransition(machine, placeholder);
  const [second, secondActions] = pureInitialTransition(machine, other);
  if (inspected || first.status !== 'active' || Object.keys(first.children as object).length > 0) return null;
  if (JSON.stringify(first.value) !== JSON.stringify(second.value) || firstActions.length !== secondActions.length) return null;
  if (!pairing.same(first.context, second.context)) return null;
  for (const [i, action] of firstActions.entries()) {
    const twin = secondActions[i];
    if (!twin || action.type !== twin.type || !pairing.same(action.params, twin.params)) return null;
  }
  const slots = new Map<object, number>([[placeholder, 0]]);
  const holders = new WeakSet<object>();
  const actions = firstActions.map((a): ExecutableAction => ({ type: a.type, params: a.params }));
  for (const part of [first.context, ...actions.map((a) => a.params)]) markHolders(part, slots, holders);
  const base = machine.resolveState({ value: first.value as never, context: first.context }) as AnyMachineSnapshot;
  const template: StartTemplate = { base, context: first.context, actions, slots, holders };
  // Inputs a transition could tell apart without looking into them (`??`, `typeof`): the template must give XState's outcome.
  for (const probe of PROBES) {
    const [templated, templatedActions] = fromTemplate(template, probe);
    const [decided, decidedActions] = pureInitialTransition(machine, probe);
    if (templated.status !== decided.status || JSON.stringify(templated.value) !== JSON.stringify(decided.value) || !Pairing.NONE.same(templated.context, decided.context)) return null;
    if (templatedActions.length !== decidedActions.length || !templatedActions.every((a, i) => a.type === decidedActions[i]?.type && Pairing.NONE.same(a.params, decidedActions[i]?.params))) return null;
  }
  return template;
}
