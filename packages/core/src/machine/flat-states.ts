/**
 * The decider machine's statechart, flattened: every leaf of the nested chart (`<step>.running`,
 * `compensating.<step>.retrying`, `completed`, ...) becomes one top-level state, keyed by its path
 * joined with {@link SEPARATOR} and keeping its nested id, with the transitions of its ancestors
 * added after its own.
 *
 * Why: XState's cost per transition grows with the depth it exits and enters. A step's done event
 * in the nested chart exits `<step>.running` and `<step>`, then enters `<next>` and
 * `<next>.running` (two sorts, two snapshot value rebuilds over three nodes); flat, it exits one
 * state and enters one. The flat chart takes the same transitions with the same actions, because
 * the compound states of a chain's chart carry no actions of their own (checked here) and every
 * transition an ancestor declares leaves it, so exiting the leaf is all the exit there is. The
 * property test in `decider-machine.test.ts` pins this against `chain.machine`.
 *
 * Delayed events keep their types (`xstate.after.<delay>.<state id>`) because each flat state keeps
 * its nested id. Stored snapshots keep the nested value: {@link nestedValue} and {@link flatKey}
 * map between the two.
 */
import type { StateValue } from 'xstate';

/** Joins a state's path into its flat key. No state key holds it: names are letters, digits, '_' and '-'. */
export const SEPARATOR = '/';

type Config = Readonly<Record<string, unknown>>;

interface Node {
  readonly config: Config;
  readonly path: readonly string[];
  readonly parent: Node | undefined;
  readonly children: ReadonlyMap<string, Node>;
}

/** What a flat chart replaces in the machine's config: the root's `initial` and `states`. */
export interface FlatChart {
  readonly initial: string;
  readonly states: Record<string, Config>;
}

/** Keys of a compound state this flattening knows to be behaviour-free (anything else is refused). */
const COMPOUND_KEYS = new Set(['initial', 'states', 'on']);
/** Keys of a leaf this flattening carries over (transitions retargeted). */
const LEAF_KEYS = new Set(['type', 'entry', 'exit', 'on', 'after', 'tags', 'meta', 'description']);

function node(config: Config, path: readonly string[], parent: Node | undefined): Node {
  const children = new Map<string, Node>();
  const self: Node = { config, path, parent, children };
  const states = config['states'] as Record<string, Config> | undefined;
  for (const [key, child] of Object.entries(states ?? {})) children.set(key, node(child, [...path, key], self));
  return self;
}

const keyOf = (n: Node) => n.path.join(SEPARATOR);

/** The leaf a transition into `n` ends in: `n`, or its initial descendants'. */
function leafOf(n: Node, rootId: string): Node {
  let at = n;
  while (at.children.size > 0) {
    const initial = at.config['initial'];
    const next = typeof initial === 'string' ? at.children.get(initial) : undefined;
    if (!next) throw new Error(`machine "${rootId}": state "${at.path.join('.')}" has no initial child to flatten into`);
    at = next;
  }
  return at;
}

/**
 * Flattens the chart `{ initial, states }` of the machine `rootId`. Throws when the chart holds
 * what flattening would change the meaning of: actions, delays or invocations on a compound state,
 * a final state below the top, a re-entering or eventless transition, a child-relative target.
 */
export function flattenStates(rootId: string, chart: { readonly initial: string | undefined; readonly states: Record<string, Config> }): FlatChart {
  const root = node({ initial: chart.initial, states: chart.states }, [], undefined);
  const refuse = (n: Node, what: string): never => {
    throw new Error(`machine "${rootId}": cannot flatten state "${n.path.join('.')}": ${what}`);
  };
  const resolve = (target: string, declaredAt: Node): string => {
    const absolute = target.startsWith(`#${rootId}.`);
    if (!absolute && (target.startsWith('#') || target.startsWith('.'))) refuse(declaredAt, `target "${target}" is not under "#${rootId}." nor a sibling`);
    let at = absolute ? root : (declaredAt.parent ?? root);
    for (const key of (absolute ? target.slice(rootId.length + 2) : target).split('.')) {
      const next = at.children.get(key);
      if (!next) return refuse(declaredAt, `target "${target}" does not exist`);
      at = next;
    }
    return keyOf(leafOf(at, rootId));
  };
  const retarget = (transitions: unknown, declaredAt: Node): Config[] =>
    (Array.isArray(transitions) ? (transitions as unknown[]) : [transitions]).map((t) => {
      const transition = (typeof t === 'string' ? { target: t } : t) as Config;
      if (transition['reenter']) refuse(declaredAt, 're-entering transitions exit and enter ancestors');
      const target = transition['target'];
      if (target === undefined) return transition;
      if (typeof target !== 'string') return refuse(declaredAt, 'a transition has several targets');
      return { ...transition, target: resolve(target, declaredAt) };
    });

  const states: Record<string, Config> = {};
  const visit = (n: Node): void => {
    if (n.children.size > 0) {
      for (const key of Object.keys(n.config)) if (n.parent && !COMPOUND_KEYS.has(key)) refuse(n, `a compound state with "${key}"`);
      for (const child of n.children.values()) visit(child);
      return;
    }
    for (const key of Object.keys(n.config)) if (!LEAF_KEYS.has(key)) refuse(n, `a state with "${key}"`);
    if (n.config['type'] === 'final' && n.path.length > 1) refuse(n, 'a final state below the top raises its parent\'s done event');
    // Its own transitions first, then each ancestor's: the order XState tries them in.
    const on: Record<string, Config[]> = {};
    for (let at: Node | undefined = n; at && at !== root; at = at.parent) {
      for (const [event, transitions] of Object.entries((at.config['on'] ?? {}) as Config)) on[event] = [...(on[event] ?? []), ...retarget(transitions, at)];
    }
    const flat: Record<string, unknown> = { ...n.config, id: [rootId, ...n.path].join('.'), on };
    const after = n.config['after'] as Config | undefined;
    if (after) flat['after'] = Object.fromEntries(Object.entries(after).map(([delay, transitions]) => [delay, retarget(transitions, n)]));
    states[keyOf(n)] = flat;
  };
  visit(root);
  return { initial: keyOf(leafOf(root, rootId)), states };
}

/** The nested state value of flat key `key` (`'a/running'` is `{ a: 'running' }`). */
export function nestedValue(key: string): StateValue {
  const path = key.split(SEPARATOR);
  let value: StateValue = path[path.length - 1] ?? key;
  for (let i = path.length - 2; i >= 0; i--) value = { [path[i] ?? '']: value };
  return value;
}

/**
 * The flat key of nested state value `value`, or `undefined` when it names more than one state
 * at a level (a chain's states are never parallel), a key no state can have, or is no state value.
 */
export function flatKey(value: unknown): string | undefined {
  const path: string[] = [];
  let at = value;
  while (typeof at === 'object' && at !== null) {
    const keys = Object.keys(at);
    const key = keys[0];
    if (keys.length !== 1 || key === undefined) return undefined;
    path.push(key);
    at = (at as Record<string, unknown>)[key];
  }
  if (typeof at !== 'string') return undefined;
  path.push(at);
  // A key holding the separator is no state of the nested chart, even if its text is a flat key.
  return path.some((key) => key.includes(SEPARATOR)) ? undefined : path.join(SEPARATOR);
}
