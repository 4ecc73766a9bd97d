/**
 * Reads an XState machine config (JSON, as `machineConfig(chain)` gives it) into the states and
 * transitions to draw: one node per state (by dot-joined path) and one edge per distinct
 * (source, target, event), with `#<machine id>.a.b`, sibling and `.child` targets resolved.
 */
import { InvalidOptionError } from '@taskchart/core';
import type { GraphNodeKind } from './types.js';

export interface StateNode {
  readonly id: string;
  readonly label: string;
  readonly kind: GraphNodeKind;
  readonly parent?: string;
  readonly initial: boolean;
  readonly children: readonly string[];
}

export interface Transition {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly label: string;
}

export interface MachineGraph {
  /** Every state, parents before their children. */
  readonly states: readonly StateNode[];
  readonly transitions: readonly Transition[];
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `taskchart.cancel` -> `cancel`; XState's own and other events keep their name. */
function eventLabel(event: string): string {
  return event.startsWith('taskchart.') ? event.slice('taskchart.'.length) : event;
}

/** The targets of one transition config (a string, an object, or an array of either). */
function targetsOf(config: unknown): string[] {
  if (typeof config === 'string') return [config];
  if (Array.isArray(config)) return config.flatMap(targetsOf);
  if (!isObject(config)) return [];
  const target = config['target'];
  if (typeof target === 'string') return [target];
  if (Array.isArray(target)) return target.filter((t): t is string => typeof t === 'string');
  return [];
}

/** Reads `machine` (an XState machine config as JSON). Throws InvalidOptionError when it has no `states`. */
export function readMachine(machine: Record<string, unknown>): MachineGraph {
  const rootStates = machine['states'];
  if (!isObject(rootStates)) throw new InvalidOptionError('layoutMachine: machine', 'expected an XState machine config with `states`');
  const machineId = typeof machine['id'] === 'string' ? machine['id'] : '(machine)';
  const states: StateNode[] = [];
  const configs = new Map<string, Json>();
  const pending: { source: string; parent: string | undefined; event: string; config: unknown }[] = [];

  const visit = (key: string, config: Json, parent: string | undefined, initial: boolean): void => {
    const id = parent === undefined ? key : `${parent}.${key}`;
    const childConfigs = isObject(config['states']) ? config['states'] : {};
    const childKeys = Object.keys(childConfigs);
    const kind: GraphNodeKind =
      config['type'] === 'final' ? 'final' : childKeys.length === 0 ? (parent === undefined ? 'step' : 'substate') : childKeys.every((k) => isObject(childConfigs[k]) && isObject(childConfigs[k]['states'])) ? 'group' : 'step';
    states.push({ id, label: key, kind, ...(parent === undefined ? {} : { parent }), initial, children: childKeys.map((k) => `${id}.${k}`) });
    configs.set(id, config);
    const transitions = (event: string, value: unknown) => pending.push({ source: id, parent, event, config: value });
    if (isObject(config['on'])) for (const [event, value] of Object.entries(config['on'])) transitions(eventLabel(event), value);
    if (isObject(config['after'])) for (const [delay, value] of Object.entries(config['after'])) transitions(delay, value);
    if (config['always'] !== undefined) transitions('always', config['always']);
    const invokes = Array.isArray(config['invoke']) ? config['invoke'] : [config['invoke']];
    for (const invoke of invokes) {
      if (!isObject(invoke)) continue;
      if (invoke['onDone'] !== undefined) transitions('done', invoke['onDone']);
      if (invoke['onError'] !== undefined) transitions('error', invoke['onError']);
    }
    if (config['onDone'] !== undefined) transitions('done', config['onDone']);
    const initialKey = config['initial'];
    for (const childKey of childKeys) {
      const child = childConfigs[childKey];
      if (isObject(child)) visit(childKey, child, id, childKey === initialKey);
    }
  };
  for (const [key, config] of Object.entries(rootStates)) if (isObject(config)) visit(key, config, undefined, key === machine['initial']);

  const resolve = (target: string, source: string, parent: string | undefined): string | undefined => {
    let path: string;
    if (target.startsWith('#')) {
      const [head = '', ...rest] = target.slice(1).split('.');
      if (head !== machineId) return undefined; // a state's own `id`: not used by compiled chains
      path = rest.join('.');
    } else if (target.startsWith('.')) {
      path = `${source}${target}`;
    } else {
      path = parent === undefined ? target : `${parent}.${target}`;
    }
    return configs.has(path) ? path : undefined;
  };
  const transitions: Transition[] = [];
  const seen = new Set<string>();
  for (const { source, parent, event, config } of pending) {
    for (const raw of targetsOf(config)) {
      const target = resolve(raw, source, parent);
      if (target === undefined) continue;
      const key = `${source}|${target}|${event}`;
      if (seen.has(key)) continue;
      seen.add(key);
      transitions.push({ id: `e${transitions.length}`, source, target, label: event });
    }
  }
  return { states, transitions };
}
