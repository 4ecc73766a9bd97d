/**
 * The machine the runtime's decider drives: `chain.machine`'s statechart compiled in `decider`
 * mode (see {@link MachineMode}), once per chain.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { AnyChain } from '../chain.js';
import { compileChainMachine } from './compile-machine.js';
import type { MachineMode } from './compile-machine.js';

const deciders = new WeakMap<AnyChain, AnyStateMachine>();

/** `chain`'s decider machine: same states, transitions, guards and events as `chain.machine`. */
export function deciderMachine(chain: AnyChain): AnyStateMachine {
  let machine = deciders.get(chain);
  if (!machine) {
    machine = compileChainMachine(chain.name, chain.steps, 'decider' satisfies MachineMode) as AnyStateMachine;
    deciders.set(chain, machine);
  }
  return machine;
}

/**
 * `snapshot` as a snapshot of `chain`'s decider machine: a snapshot resolved on `chain.machine`
 * (code that restores a run itself) is re-resolved from its value and context, which is all a
 * chain's snapshot holds.
 */
export function onDecider(chain: AnyChain, snapshot: AnyMachineSnapshot): AnyMachineSnapshot {
  const machine = deciderMachine(chain);
  return snapshot.machine === machine ? snapshot : machine.resolveState({ value: snapshot.value as never, context: snapshot.context as never });
}
