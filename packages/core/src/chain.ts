import { InvalidOptionError } from './errors.js';
import { compileChainOptions, fingerprintOf, type ChainMigration, type ChainOptions } from './chain-options.js';
import { compileChainMachine, type ChainMachine, type StepDef } from './machine/compile-machine.js';
import { validateName, type AnyTask, type Task, type TaskInput, type TaskOutput } from './task.js';

/** A chain of tasks: each task's output is the next one's input. Create with {@link chain}. */
export interface Chain<I, O> {
  readonly name: string;
  readonly steps: readonly StepDef[];
  /** The compiled XState v5 machine the runtime drives (export it, draw it, run it live). */
  readonly machine: ChainMachine;
  /** The version of this definition (`chain(..., { version })`). @defaultValue 1 */
  readonly version: number;
  /**
   * The structural fingerprint of the steps (step keys, task names, which steps compensate): a
   * run started on this version whose stored fingerprint differs was started on another
   * definition that kept the same version (a forgotten bump).
   */
  readonly fingerprint: string;
  /** `migrate[k]` moves the stored snapshot of a version-`k` run to version `k + 1`. */
  readonly migrate: Readonly<Record<number, ChainMigration>>;
  /** Type-level only: never set. */
  readonly __types?: { input: I; output: O };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest chain, for constraints
export type AnyChain = Chain<any, any>;
export type ChainInput<C> = C extends { readonly __types?: { input: infer I } } ? I : never;
export type ChainOutput<C> = C extends { readonly __types?: { output: infer O } } ? O : never;

type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : never;

/**
 * Checks that each task accepts the previous one's output. Where it does not, the expected task
 * type replaces the offending one, so the compiler reports the mismatch at that argument.
 */
export type ValidChain<T extends readonly AnyTask[]> = T extends readonly [infer A extends AnyTask, infer B extends AnyTask, ...infer Rest extends AnyTask[]]
  ? [TaskOutput<A>] extends [TaskInput<B>]
    ? [A, ...ValidChain<[B, ...Rest]>]
    : [A, Task<TaskOutput<A>, TaskOutput<B>>, ...Rest]
  : T;

/**
 * Defines a chain. Types are checked through it: `chain('c', a, b)` does not compile unless `b`
 * accepts what `a` returns. An optional last argument gives its options (`{ version, migrate }`,
 * see {@link ChainOptions}). Throws `InvalidOptionError` for an empty chain, a bad name or a bad
 * option.
 */
export function chain<const T extends readonly [AnyTask, ...AnyTask[]]>(name: string, ...tasks: T & ValidChain<T>): Chain<TaskInput<T[0]>, TaskOutput<Last<T>>>;
export function chain<const T extends readonly [AnyTask, ...AnyTask[]]>(
  name: string,
  ...args: [...tasks: T, options: ChainOptions] & [...ValidChain<T>, ChainOptions]
): Chain<TaskInput<T[0]>, TaskOutput<Last<T>>>;
export function chain(name: string, ...args: readonly unknown[]): AnyChain {
  validateName(name, 'chain name');
  const last = args[args.length - 1];
  // The options object: a plain object that is not (something meant as) a task.
  const hasOptions = typeof last === 'object' && last !== null && !Array.isArray(last) && !('run' in last) && !('name' in last);
  const list = (hasOptions ? args.slice(0, -1) : args) as readonly AnyTask[];
  const options = compileChainOptions(hasOptions ? last : {}, `chain "${name}"`);
  if (list.length === 0) throw new InvalidOptionError(`chain "${name}": tasks`, 'a chain needs at least one task');
  const seen = new Map<string, number>();
  const firstByName = new Map<string, { task: AnyTask; index: number }>();
  const steps: StepDef[] = list.map((t, index) => {
    if (!t || typeof t !== 'object' || typeof t.run !== 'function') {
      throw new InvalidOptionError(`chain "${name}": tasks[${index}]`, 'must be a task created with task()');
    }
    // The same task twice is fine (its second step is `name_2`); two tasks sharing a name are not.
    const first = firstByName.get(t.name);
    if (first && first.task !== t) {
      throw new InvalidOptionError(`chain "${name}": tasks[${index}]`, `a different task already has the name "${t.name}" (tasks[${first.index}]); task names must be unique`);
    }
    if (!first) firstByName.set(t.name, { task: t, index });
    const count = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, count);
    const key = count === 1 ? t.name : `${t.name}_${count}`;
    if (['compensating', 'completed', 'compensated', 'failed', 'cancelled'].includes(key)) {
      throw new InvalidOptionError(`chain "${name}": tasks[${index}]`, `task name "${key}" is reserved for the machine's own states`);
    }
    return { key, index, task: t };
  });
  return Object.freeze({ name, steps, machine: compileChainMachine(name, steps), version: options.version, fingerprint: fingerprintOf(steps), migrate: options.migrate });
}
