/**
 * The options of `chain()`: its version and the functions that migrate runs of older versions,
 * and the structural fingerprint that tells a forgotten version bump.
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError } from './errors.js';
import { assertKnownKeys } from './known-keys.js';
import type { ChainContext } from './machine/chain-context.js';
import type { StepDef } from './machine/compile-machine.js';

/**
 * A run's stored machine snapshot, as a migration receives and returns it: the XState state
 * value (`{ b: 'running' }`, `{ b: 'retrying' }`, `{ compensating: { a: 'running' } }`) and the
 * context (`input`, the `outputs` of completed steps by step key, the current `attempt`, ...).
 */
export interface ChainSnapshot {
  readonly value: unknown;
  readonly context: ChainContext;
}

/** Moves the stored snapshot of a run from one version of a chain to the next. Pure, synchronous. */
export type ChainMigration = (snapshot: ChainSnapshot) => ChainSnapshot;

/** The options of `chain(name, ...tasks, options)`. Unknown keys are rejected. */
export interface ChainOptions {
  /**
   * The version of this definition, a whole number from 1 to 1,000,000. Bump it whenever the
   * steps change (renamed, removed, added, reordered, a compensation added or removed) while runs
   * may be in flight: each run continues on the version it started with.
   * @defaultValue 1
   */
  readonly version?: number;
  /**
   * `{ [fromVersion]: (snapshot) => snapshot }`: `migrate[k]` moves a run of version `k` to version
   * `k + 1` (each `k` below `version`). A runtime that lacks a run's version migrates it through
   * every step up to its newest version, when the functions (of any loaded version) cover the gap.
   * @defaultValue {} (runs of older versions are left for a runtime that has their version)
   */
  readonly migrate?: Readonly<Record<number, ChainMigration>>;
}

export interface CompiledChainOptions {
  readonly version: number;
  readonly migrate: Readonly<Record<number, ChainMigration>>;
}

const CHAIN_OPTION_KEYS = ['version', 'migrate'] as const;
export const MAX_CHAIN_VERSION = 1_000_000;

/** Validates `chain()` options once; `owner` (`chain "order"`) names the chain in errors. */
export function compileChainOptions(options: unknown, owner: string): CompiledChainOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidOptionError(`${owner}: options`, 'must be an object { version?, migrate? }');
  assertKnownKeys(options, CHAIN_OPTION_KEYS, owner);
  const { version = 1, migrate = {} } = options as ChainOptions;
  if (!Number.isInteger(version) || version < 1 || version > MAX_CHAIN_VERSION) {
    throw new InvalidOptionError(`${owner}: version`, `must be a whole number from 1 to ${MAX_CHAIN_VERSION}, got ${String(version)}`);
  }
  if (typeof migrate !== 'object' || migrate === null || Array.isArray(migrate)) throw new InvalidOptionError(`${owner}: migrate`, 'must be an object { [fromVersion]: (snapshot) => snapshot }');
  const compiled: Record<number, ChainMigration> = {};
  for (const [key, fn] of Object.entries(migrate)) {
    const from = Number(key);
    if (!Number.isInteger(from) || from < 1 || from >= version) {
      throw new InvalidOptionError(`${owner}: migrate.${key}`, `must be keyed by a version from 1 to ${version - 1} (the version it migrates from; this chain is version ${version})`);
    }
    if (typeof fn !== 'function') throw new InvalidOptionError(`${owner}: migrate.${key}`, 'must be a function (snapshot) => snapshot');
    compiled[from] = fn;
  }
  return { version, migrate: Object.freeze(compiled) };
}

/**
 * The structural fingerprint of a chain's steps: what a stored snapshot depends on (step keys,
 * task names, which steps have a compensation), not the task code. 16 hex digits of SHA-256.
 */
export function fingerprintOf(steps: readonly StepDef[]): string {
  const shape = steps.map((s) => [s.key, s.task.name, s.task.compensate ? 1 : 0]);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
