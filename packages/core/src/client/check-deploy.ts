/**
 * `client.checkDeploy(chains)`: which in-flight runs a set of definitions could not continue, so
 * a deploy can be stopped before it strands anything. Pure: the client pages through the store.
 */
import type { AnyChain } from '../chain.js';
import type { RunRecord, RunStatus } from '../ports/store.js';
import { definitionOf, type ChainVersions } from '../runtime/chain-versions.js';
import { restoreSnapshot, type PersistedChainSnapshot } from '../runtime/decide.js';
import { decideResume, migrateSnapshot, ResumeError } from '../runtime/resume.js';

/** An in-flight run the checked definitions cannot continue. */
export interface StrandedRun {
  readonly id: string;
  readonly chain: string;
  /** The chain version the run is on. */
  readonly version: number;
  readonly status: RunStatus;
  /** The step it runs, retries or compensates (`undefined` for a scheduled run). */
  readonly step: string | undefined;
  /** Its stored machine state (`{ b: 'retrying' }`). */
  readonly state: unknown;
  /** Why the definitions cannot continue it. */
  readonly why: string;
}

/** Why `versions` cannot continue active run `record`; `undefined` when they can. */
export function strandedWhy(versions: ChainVersions, record: RunRecord, now: number): string | undefined {
  if (record.status === 'scheduled') return versions.latest(record.chain) ? undefined : `chain "${record.chain}" is not among the definitions`;
  const resolution = versions.resolve(record);
  switch (resolution.kind) {
    case 'unknown-chain':
      return `chain "${record.chain}" is not among the definitions`;
    case 'unknown-version':
    case 'changed':
      return resolution.why;
    case 'exact':
      try {
        restoreSnapshot(resolution.chain, record);
        return undefined;
      } catch (error) {
        return `version ${resolution.chain.version} cannot restore its stored state: ${error instanceof Error ? error.message : String(error)}`;
      }
    case 'migrate':
      try {
        decideResume(resolution.chain, record, migrateSnapshot(record, resolution.steps), { at: now, type: 'run.migrated' }, now, { keepMessages: false });
        return undefined;
      } catch (error) {
        if (!(error instanceof ResumeError)) throw error;
        return `migrating it from version ${resolution.from} to version ${resolution.chain.version} fails: ${error.message}`;
      }
  }
}

/** `record` as `checkDeploy` lists it. */
export function stranded(record: RunRecord, why: string): StrandedRun {
  return {
    id: record.id,
    chain: record.chain,
    version: definitionOf(record).version,
    status: record.status,
    step: record.step,
    state: (record.snapshot as PersistedChainSnapshot | null)?.value ?? null,
    why,
  };
}

/** The definitions given to `checkDeploy`, validated as `createRuntime` validates its `chains`. */
export function isChain(value: unknown): value is AnyChain {
  return typeof value === 'object' && value !== null && typeof (value as AnyChain).name === 'string' && (value as AnyChain).machine !== undefined && typeof (value as AnyChain).version === 'number';
}
