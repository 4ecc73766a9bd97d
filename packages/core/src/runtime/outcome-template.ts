/**
 * A run's transition on an event (a step's outcome, a timer, a cancel), decided by XState once
 * per chain state, event type and shape, and reused for every run that takes it.
 *
 * XState's `transition` of a chain's decider machine cost about 7.5 µs and a few KiB per step,
 * the largest share of a step's work outside the store. Its outcome depends on the run's data
 * (the chain's input, the completed steps' outputs, the event's `output`) only by carrying them:
 * `recordOutput` copies `outputs` with the new output set, the next step's invocation takes the
 * output as its input, and no guard looks into any of them. So it is decided once with
 * placeholders for the data, and a run's transition is that outcome with the run's values in the
 * placeholders' places, its snapshot a copy of the one XState resolved for the outcome's state with
 * the run's context (see `withContext`).
 *
 * What is not data must be the template's exactly: the context's other fields (`attempt`,
 * `retryDelayMs`, `failure`, ...) and the event's (`attempt`, a cancel's `reason`), all plain
 * values; the context's keys and the completed steps' names, in order. A run that differs takes
 * another template (up to {@link SHAPES_PER_TRANSITION} per state and event type) or XState's own
 * transition. An event carrying an object besides `output` (a failure's `error`: the retry guard
 * reads it) always takes XState's.
 *
 * Checked when built, as the start template is: nothing looks into the placeholders (proxies); a
 * second set of placeholders gives the same outcome with them swapped; the outcome has no child
 * actor nor history; and for data values a transition could tell apart without looking into them
 * (`undefined`, `null`, `0`, `''`, ...), and for the run's own values, the template gives XState's
 * outcome. Otherwise that state and event type take XState's transition for that shape.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { pureTransition, type ExecutableAction } from '../machine/pure-transition.js';
import { hasEventless, markHolders, Pairing, PROBES, substitute, watched, withContext } from './template-parts.js';

/** Templates kept per (state, event type): one per shape of the fixed fields met (most runs share one). */
export const SHAPES_PER_TRANSITION = 4;
/**
 * Event types kept per state. A chain's states take a handful; a timer message names its event, so
 * a foreign producer's made-up types must not grow the map: past this many, XState decides.
 */
const TYPES_PER_STATE = 32;

/** Where a key's value goes: a fixed value to match, or data (a placeholder's slot). */
const DATA = Symbol('data');

interface OutcomeTemplate {
  /** The context's keys, in order, and what each must hold ({@link DATA}: the input, or `outputs`, whose values are data). */
  readonly contextKeys: readonly string[];
  readonly contextFixed: readonly unknown[];
  /** The keys of `context.outputs`, in order (each value data: slots 1, 2, ...). */
  readonly outputKeys: readonly string[];
  readonly outputFixed: readonly unknown[];
  readonly eventKeys: readonly string[];
  readonly eventFixed: readonly unknown[];
  /** The snapshot XState resolves for the outcome's state (with the placeholders' context): what every run's is copied from. */
  readonly base: AnyMachineSnapshot;
  readonly status: string;
  readonly context: unknown;
  readonly output: unknown;
  readonly actions: readonly ExecutableAction[];
  /** Placeholders by slot: 0 the input, 1.. the outputs in `outputKeys` order, then the event's `output`. */
  readonly slots: ReadonlyMap<object, number>;
  readonly holders: WeakSet<object>;
}

interface Transitions {
  readonly templates: OutcomeTemplate[];
  /** Shapes tried, built or not: no more than {@link SHAPES_PER_TRANSITION}. */
  tried: number;
}

/** Per decider machine: per flat state value, per event type. `null`: the machine has eventless transitions (no templates). */
const byMachine = new WeakMap<AnyStateMachine, Map<string, Map<string, Transitions>> | null>();

type Plain = Record<string, unknown>;

/** Same result as {@link pureTransition}`(machine, snapshot, event)` for a chain's decider machine, from a template where one fits. */
export function outcomeTransition(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): [AnyMachineSnapshot, ExecutableAction[]] {
  const transitions = transitionsOf(machine, snapshot, event);
  if (transitions === undefined) return pureTransition(machine, snapshot, event);
  const context = snapshot.context as Plain;
  for (const template of transitions.templates) if (fits(template, context, event)) return fromTemplate(template, context, event);
  if (transitions.tried < SHAPES_PER_TRANSITION) {
    transitions.tried++;
    const template = tryBuild(machine, snapshot, event);
    if (template) {
      transitions.templates.push(template);
      return fromTemplate(template, context, event);
    }
  }
  return pureTransition(machine, snapshot, event);
}

/** The templates of `snapshot`'s state and `event`'s type; `undefined` where none can be (not a plain active snapshot). */
function transitionsOf(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): Transitions | undefined {
  let states = byMachine.get(machine);
  if (states === undefined) {
    states = hasEventless(machine.root) ? null : new Map();
    byMachine.set(machine, states);
  }
  const value = snapshot.value as unknown;
  if (states === null || snapshot.status !== 'active' || typeof value !== 'string' || snapshot.machine !== machine || !isEmpty(snapshot.children) || !isEmpty(snapshot.historyValue)) return undefined;
  let types = states.get(value);
  if (!types) {
    types = new Map();
    states.set(value, types);
  }
  let transitions = types.get(event.type);
  if (!transitions) {
    if (types.size >= TYPES_PER_STATE) return undefined;
    transitions = { templates: [], tried: 0 };
    types.set(event.type, transitions);
  }
  return transitions;
}

function isEmpty(value: unknown): boolean {
  for (const _ in value as object) return false;
  return true;
}

function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** Whether `keys` are `object`'s keys in order and each fixed one holds its value. */
function sameShape(object: Plain, keys: readonly string[], fixed: readonly unknown[]): boolean {
  let i = 0;
  for (const key in object) {
    if (key !== keys[i]) return false;
    const want = fixed[i];
    if (want !== DATA && !Object.is(object[key], want)) return false;
    i++;
  }
  return i === keys.length;
}

function fits(t: OutcomeTemplate, context: Plain, event: Plain): boolean {
  const outputs = context['outputs'];
  return sameShape(context, t.contextKeys, t.contextFixed) && sameShape(event, t.eventKeys, t.eventFixed) && isPlainObject(outputs) && sameShape(outputs, t.outputKeys, t.outputFixed);
}

/** The run's values by slot: its input, its outputs in order, the event's output. */
function valuesOf(t: OutcomeTemplate, context: Plain, event: Plain): unknown[] {
  const outputs = context['outputs'] as Plain;
  const values = new Array<unknown>(t.outputKeys.length + 2);
  values[0] = context['input'];
  for (let i = 0; i < t.outputKeys.length; i++) values[i + 1] = outputs[t.outputKeys[i] as string];
  values[t.outputKeys.length + 1] = event['output'];
  return values;
}

function fromTemplate(t: OutcomeTemplate, context: Plain, event: Plain): [AnyMachineSnapshot, ExecutableAction[]] {
  const { slots, holders } = t;
  const values = valuesOf(t, context, event);
  const next = substitute(t.context, slots, values, holders);
  const actions = t.actions.map((a): ExecutableAction => ({ type: a.type, params: substitute(a.params, slots, values, holders) }));
  return [withContext(t.base, next, t.status === 'done' ? substitute(t.output, slots, values, holders) : undefined), actions];
}

/** The shape of a run's context and event: which keys are data, which must match. `undefined` when a fixed field holds an object. */
interface Shape {
  readonly contextKeys: string[];
  readonly contextFixed: unknown[];
  readonly outputKeys: string[];
  readonly outputFixed: unknown[];
  readonly eventKeys: string[];
  readonly eventFixed: unknown[];
}

const isFixable = (value: unknown) => value === null || (typeof value !== 'object' && typeof value !== 'function');

function shapeOf(context: Plain, event: Plain): Shape | undefined {
  const outputs = context['outputs'];
  if (!isPlainObject(outputs)) return undefined;
  const outputKeys = Object.keys(outputs);
  const shape: Shape = { contextKeys: [], contextFixed: [], outputKeys, outputFixed: outputKeys.map(() => DATA), eventKeys: [], eventFixed: [] };
  for (const key in context) {
    const data = key === 'input' || key === 'outputs';
    if (!data && !isFixable(context[key])) return undefined;
    shape.contextKeys.push(key);
    shape.contextFixed.push(data ? DATA : context[key]);
  }
  for (const key in event) {
    const data = key === 'output';
    if (!data && !isFixable(event[key])) return undefined;
    shape.eventKeys.push(key);
    shape.eventFixed.push(data ? DATA : event[key]);
  }
  return shape;
}

/** A context and event of `shape` with `values` (by slot) as their data. */
function probe(shape: Shape, values: readonly unknown[]): [Plain, Plain] {
  const context: Plain = {};
  shape.contextKeys.forEach((key, i) => {
    if (key === 'input') context[key] = values[0];
    else if (key === 'outputs') {
      const outputs: Plain = {};
      shape.outputKeys.forEach((name, j) => (outputs[name] = values[j + 1]));
      context[key] = outputs;
    } else context[key] = shape.contextFixed[i];
  });
  const event: Plain = {};
  shape.eventKeys.forEach((key, i) => (event[key] = key === 'output' ? values[shape.outputKeys.length + 1] : shape.eventFixed[i]));
  return [context, event];
}

function tryBuild(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): OutcomeTemplate | null {
  try {
    return build(machine, snapshot, event);
  } catch {
    // XState threw on a placeholder or a probe: it will say so on the run's own values, if at all.
    return null;
  }
}

function build(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): OutcomeTemplate | null {
  const context = snapshot.context as Plain;
  const shape = shapeOf(context, event);
  if (!shape) return null;
  const count = shape.outputKeys.length + 2;
  let inspected = false;
  const seen = () => (inspected = true);
  const first = Array.from({ length: count }, (_, i) => watched({ placeholder: 'first', slot: i }, seen));
  const second = Array.from({ length: count }, (_, i) => watched({ placeholder: 'second', slot: i }, seen));
  const before = (values: readonly unknown[]): [AnyMachineSnapshot, EventObject] => {
    const [c, e] = probe(shape, values);
    return [machine.resolveState({ value: snapshot.value as never, context: c }) as AnyMachineSnapshot, e as EventObject];
  };
  const decide = (values: readonly unknown[]) => pureTransition(machine, ...before(values));
  const [from, fromEvent] = before(first);
  const [a, aActions] = pureTransition(machine, from, fromEvent);
  const [b, bActions] = decide(second);
  if (inspected) return null;
  // A transition that changes the context, ending where XState's snapshots hold nothing else (no
  // child, no history). One that keeps the context (or the snapshot: the event ignored) is left
  // to XState: the runtime tells an ignored event by that identity, which a template's copy loses.
  if (a === from || a.context === from.context || (a.status !== 'active' && a.status !== 'done') || typeof a.value !== 'string') return null;
  if (!isEmpty(a.children) || !isEmpty(a.historyValue) || a.error !== undefined) return null;
  const pairing = new Pairing(first, second);
  if (!sameOutcome(pairing, [a, aActions], [b, bActions])) return null;
  const slots = new Map<object, number>(first.map((p, i) => [p, i]));
  const holders = new WeakSet<object>();
  const actions = aActions.map((x): ExecutableAction => ({ type: x.type, params: x.params }));
  for (const part of [a.context, a.output, ...actions.map((x) => x.params)]) markHolders(part, slots, holders);
  const base = machine.resolveState({ value: a.value, context: a.context, output: a.output }) as AnyMachineSnapshot;
  const template: OutcomeTemplate = { ...shape, base, status: a.status, context: a.context, output: a.output, actions, slots, holders };
  // Values a transition could tell apart without looking into them, and the run's own: the template must give XState's outcome.
  const own = valuesOf(template, context, event);
  for (const values of [...PROBES.map((p) => new Array<unknown>(count).fill(p)), own]) {
    const [c, e] = probe(shape, values);
    if (!sameOutcome(Pairing.NONE, fromTemplate(template, c, e), decide(values))) return null;
  }
  return template;
}

function sameOutcome(pairing: Pairing, [a, aActions]: [AnyMachineSnapshot, ExecutableAction[]], [b, bActions]: [AnyMachineSnapshot, ExecutableAction[]]): boolean {
  if (a.status !== b.status || a.value !== b.value || aActions.length !== bActions.length) return false;
  if (!pairing.same(a.context, b.context) || !pairing.same(a.output, b.output)) return false;
  return aActions.every((x, i) => x.type === bActions[i]?.type && pairing.same(x.params, bActions[i]?.params));
}
