/**
 * Micro-benchmark behind the README's first suggestion: XState's pure `transition()` builds a
 * throw-away actor (and the machine's initial snapshot) on every call; calling
 * `machine.transition(snapshot, event, scope)` with one inert scope built once does the same
 * transition without it. Then the machine the runtime drives: the same statechart compiled in
 * `decider` mode, where a step's `invoke` (a child actor constructed and never started, and two
 * snapshot copies) is a custom action and the chart is flattened to its leaves.
 *
 *   node --conditions=source --import tsx bench/lib/xstate-transition-cost.ts
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { deciderMachine, storedValue } from '../../packages/core/src/machine/decider-machine.js';
import { pureInitialTransition, pureTransition } from '../../packages/core/src/machine/pure-transition.js';
import { noopChain } from './workload.js';

interface Action {
  readonly type: string;
}
interface Scope {
  actionExecutor: (action: Action) => void;
}
interface Logic {
  transition(snapshot: unknown, event: unknown, scope: Scope): { value: unknown };
  getInitialSnapshot(scope: Scope, input: unknown): { value: unknown };
}
interface XState {
  createActor(logic: unknown): { system: unknown };
  transition(logic: unknown, snapshot: unknown, event: unknown): [{ value: unknown }, Action[]];
  initialTransition(logic: unknown, input: unknown): [{ value: unknown }, Action[]];
}

// xstate is a dependency of @taskchart/core, not of bench/: resolve it from there.
const require = createRequire(new URL('../../packages/core/package.json', import.meta.url));
const xs = (await import(pathToFileURL(require.resolve('xstate')).href)) as XState;

const bench = noopChain(4);
const machine = bench.machine as unknown as Logic;
const [s0] = xs.initialTransition(machine, { i: 1 });
const event = { type: `xstate.done.actor.${bench.steps[0]?.key ?? ''}`, output: { i: 1 }, attempt: 1 };
const [viaXstate, xsActions] = xs.transition(machine, s0, event);
if (xsActions.length === 0) throw new Error(`event ${event.type} did nothing: the actor id scheme changed, adjust this script`);

// The runtime's own path: one reused inert scope per machine (packages/core/src/machine/pure-transition.ts).
const [viaScope, actions] = pureTransition(machine as never, s0 as never, event);
console.log(
  `same result: ${JSON.stringify(viaXstate.value) === JSON.stringify(viaScope.value)}; actions ${xsActions.map((a) => a.type).join(',')} | ${actions.map((a) => a.type).join(',')}`,
);

function time(name: string, fn: () => unknown, n = 20_000): void {
  for (let i = 0; i < 2_000; i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  console.log(`${name.padEnd(36)} ${(((performance.now() - t) * 1000) / n).toFixed(1)} µs`);
}
time('xstate transition()', () => xs.transition(machine, s0, event));
time('pureTransition (reused scope)', () => pureTransition(machine as never, s0 as never, event));
time('xstate initialTransition()', () => xs.initialTransition(machine, { i: 1 }));
time('pureInitialTransition (reused scope)', () => pureInitialTransition(machine as never, { i: 1 }));

// The runtime's machine (packages/core/src/machine/decider-machine.ts).
const decider = deciderMachine(bench);
const [d0] = pureInitialTransition(decider, { i: 1 });
const [viaDecider] = pureTransition(decider, d0, event);
// The decider's states are chain.machine's leaves, flattened: compare the value it stores (nested, as chain.machine's).
console.log(`decider machine, same result: ${JSON.stringify(storedValue(bench, viaDecider)) === JSON.stringify(viaXstate.value)}`);
time('pureTransition, decider machine', () => pureTransition(decider, d0, event));
time('pureInitialTransition, decider machine', () => pureInitialTransition(decider, { i: 1 }));
