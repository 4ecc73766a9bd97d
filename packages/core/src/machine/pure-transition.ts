/**
 * XState's pure `transition`/`initialTransition`, without their per-call cost.
 *
 * `xstate.transition(machine, snapshot, event)` builds a throw-away actor (which computes the
 * machine's initial snapshot) on every call just to obtain an inert actor scope; at thousands of
 * steps per second that was a quarter of the runtime's CPU. We build one inert scope per machine
 * and call the machine's own `transition`/`getInitialSnapshot` with it, collecting the actions
 * exactly as xstate's functions do. The scope carries no state between calls: actions go to the
 * executor installed for the duration of one synchronous call, and the child actors a transition
 * creates are never started, so none registers in the shared system (checked: no heap growth
 * over 300,000 transitions).
 */
import { createActor, type ActorScope, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';

export interface ExecutableAction {
  readonly type: string;
  readonly params?: unknown;
}

interface InertScope {
  readonly scope: ActorScope<AnyMachineSnapshot, EventObject>;
  collect: ExecutableAction[] | undefined;
}

const scopes = new WeakMap<AnyStateMachine, InertScope>();

function inertScope(machine: AnyStateMachine): InertScope {
  let inert = scopes.get(machine);
  if (!inert) {
    const self = createActor(machine);
    const holder: InertScope = {
      collect: undefined,
      scope: {
        self,
        defer: () => undefined,
        id: '',
        logger: () => undefined,
        sessionId: '',
        stopChild: () => undefined,
        system: self.system,
        emit: () => undefined,
        actionExecutor: (action: unknown) => {
          holder.collect?.push(action as ExecutableAction);
        },
      },
    };
    inert = holder;
    scopes.set(machine, inert);
  }
  return inert;
}

function collecting<T>(machine: AnyStateMachine, run: (scope: ActorScope<AnyMachineSnapshot, EventObject>) => T): [T, ExecutableAction[]] {
  const inert = inertScope(machine);
  const actions: ExecutableAction[] = [];
  inert.collect = actions;
  try {
    return [run(inert.scope), actions];
  } finally {
    inert.collect = undefined;
  }
}

/** Same result as xstate's `initialTransition(machine, input)`. */
export function pureInitialTransition(machine: AnyStateMachine, input: unknown): [AnyMachineSnapshot, ExecutableAction[]] {
  return collecting(machine, (scope) => machine.getInitialSnapshot(scope as never, input) as AnyMachineSnapshot);
}

/** Same result as xstate's `transition(machine, snapshot, event)`. */
export function pureTransition(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): [AnyMachineSnapshot, ExecutableAction[]] {
  return collecting(machine, (scope) => machine.transition(snapshot as never, event, scope as never) as AnyMachineSnapshot);
}
