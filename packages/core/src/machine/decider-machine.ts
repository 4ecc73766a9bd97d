/**
 * The machine the runtime's decider drives: `chain.machine`'s statechart compiled in `decider`
 * mode (see {@link MachineMode}), once per chain. Its states are `chain.machine`'s leaves,
 * flattened (see `flat-states.ts`); what leaves the decider (a stored snapshot, a run's state)
 * carries `chain.machine`'s nested state value, mapped here.
 */
import type { AnyMachineSnapshot, AnyStateMachine, StateValue } from 'xstate';
import type { AnyChain } from '../chain.js';
import { compileChainMachine } from './compile-machine.js';
import type { MachineMode } from './compile-machine.js';
import { flatKey, nestedValue } from './flat-states.js';

interface Decider {
  readonly machine: AnyStateMachine;
  /** Nested state value by flat state key, built as met; frozen, as they are shared by every snapshot in that state. */
  readonly values: Map<string, StateValue>;
}

const deciders = new WeakMap<AnyChain, Decider>();

function decider(chain: AnyChain): Decider {
  let found = deciders.get(chain);
  if (!found) {
    found = { machine: compileChainMachine(chain.name, chain.steps, 'decider' satisfies MachineMode) as AnyStateMachine, values: new Map() };
    deciders.set(chain, found);
  }
  return found;
}

/** `chain`'s decider machine: `chain.machine`'s statechart, flattened, announcing its invocations as actions. */
export function deciderMachine(chain: AnyChain): AnyStateMachine {
  return decider(chain).machine;
}

function deepFreeze(value: StateValue): StateValue {
  if (typeof value === 'object') for (const inner of Object.values(value)) if (inner !== undefined) deepFreeze(inner);
  return Object.freeze(value);
}

/** The state value of decider snapshot `snapshot` as `chain.machine` has it (what is stored and drawn). */
export function storedValue(chain: AnyChain, snapshot: AnyMachineSnapshot): StateValue {
  const { values } = decider(chain);
  const key = snapshot.value as string;
  let value = values.get(key);
  if (value === undefined) {
    value = deepFreeze(nestedValue(key));
    values.set(key, value);
  }
  return value;
}

/**
 * The decider snapshot of `chain.machine`'s state `value` with `context`. Throws XState's own
 * error when `chain.machine` has no such state (a value `chain.machine` resolves, e.g. a partial
 * one, is resolved by it first).
 */
export function resolveOnDecider(chain: AnyChain, value: unknown, context: unknown): AnyMachineSnapshot {
  const { machine } = decider(chain);
  let key = flatKey(value);
  if (key === undefined || !Object.hasOwn(machine.root.states, key)) {
    key = flatKey((chain.machine as AnyStateMachine).resolveState({ value: value as never, context }).value);
  }
  return machine.resolveState({ value: key as never, context });
}

/**
 * `snapshot` as a snapshot of `chain`'s decider machine: a snapshot resolved on `chain.machine`
 * (code that restores a run itself) is re-resolved from its value and context, which is all a
 * chain's snapshot holds.
 */
export function onDecider(chain: AnyChain, snapshot: AnyMachineSnapshot): AnyMachineSnapshot {
  return snapshot.machine === decider(chain).machine ? snapshot : resolveOnDecider(chain, snapshot.value, snapshot.context);
}
