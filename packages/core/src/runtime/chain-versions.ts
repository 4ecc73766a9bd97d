/**
 * The chain definitions a process holds, several versions of one chain side by side, and how
 * they continue a stored run: on the version it started with, through `migrate` functions to the
 * newest version, or not at all (an unknown version, a definition changed without a version bump).
 */
import type { AnyChain } from '../chain.js';
import type { ChainMigration } from '../chain-options.js';
import type { RunRecord } from '../ports/store.js';

/** The definition a run was started on, as its stored snapshot keeps it. */
export interface RunDefinition {
  readonly version: number;
  /** Absent for runs stored before chains had versions (they are version 1). */
  readonly fingerprint?: string;
}

/** The definition run `record` was started on (version 1 for a run stored before versions existed). */
export function definitionOf(record: RunRecord): RunDefinition {
  const stored = (record.snapshot as { definition?: RunDefinition } | null)?.definition;
  return stored ?? { version: 1 };
}

/** How a set of definitions continues a stored run. */
export type Resolution =
  | { readonly kind: 'exact'; readonly chain: AnyChain }
  | { readonly kind: 'migrate'; readonly chain: AnyChain; readonly from: number; readonly steps: readonly { readonly from: number; readonly fn: ChainMigration }[] }
  /** The definition loaded for the run's version has another fingerprint: a forgotten version bump. */
  | { readonly kind: 'changed'; readonly chain: AnyChain; readonly why: string }
  | { readonly kind: 'unknown-version'; readonly why: string }
  | { readonly kind: 'unknown-chain'; readonly why: string };

export class ChainVersions {
  /** Every version of each chain, oldest first. */
  private readonly byName = new Map<string, AnyChain[]>();

  /** `chains` must hold at most one definition per (name, version): `compileShared` checks it. */
  constructor(chains: Iterable<AnyChain>) {
    for (const c of chains) {
      const list = this.byName.get(c.name) ?? [];
      list.push(c);
      list.sort((x, y) => x.version - y.version);
      this.byName.set(c.name, list);
    }
  }

  /** The newest version of chain `name`: where new runs start. */
  latest(name: string): AnyChain | undefined {
    return this.byName.get(name)?.at(-1);
  }

  /** Version `version` of chain `name`, if loaded. */
  get(name: string, version: number): AnyChain | undefined {
    return this.byName.get(name)?.find((c) => c.version === version);
  }

  /** Whether `chain` is one of the definitions held (the same object). */
  holds(chain: AnyChain | undefined): boolean {
    return chain !== undefined && (this.byName.get(chain.name)?.includes(chain) ?? false);
  }

  /** Every definition held, each chain's versions oldest first. */
  all(): AnyChain[] {
    return [...this.byName.values()].flat();
  }

  /** The versions of chain `name` held, for messages (`1, 2`). */
  versionsOf(name: string): string {
    return (this.byName.get(name) ?? []).map((c) => c.version).join(', ') || '(none)';
  }

  /** How these definitions continue `record` (see {@link Resolution}). */
  resolve(record: RunRecord): Resolution {
    const list = this.byName.get(record.chain);
    if (!list) return { kind: 'unknown-chain', why: `chain "${record.chain}" is not loaded here` };
    const { version, fingerprint } = definitionOf(record);
    const exact = list.find((c) => c.version === version);
    if (exact) {
      if (fingerprint !== undefined && fingerprint !== exact.fingerprint) {
        return {
          kind: 'changed',
          chain: exact,
          why:
            `the definition changed without a version bump: the run started on version ${version} with steps of fingerprint ${fingerprint}, ` +
            `the loaded version ${version} has fingerprint ${exact.fingerprint}; give the new definition a higher version (and keep the old one loaded, or a migrate function)`,
        };
      }
      return { kind: 'exact', chain: exact };
    }
    const target = list.at(-1);
    if (!target || target.version < version) {
      return { kind: 'unknown-version', why: `version ${version} is not loaded here (loaded: ${this.versionsOf(record.chain)}), and no newer version can migrate it` };
    }
    const steps: { from: number; fn: ChainMigration }[] = [];
    for (let from = version; from < target.version; from++) {
      // The newest definition that says how to leave version `from` wins.
      const fn = [...list].reverse().find((c) => c.migrate[from] !== undefined)?.migrate[from];
      if (!fn) {
        return {
          kind: 'unknown-version',
          why: `version ${version} is not loaded here (loaded: ${this.versionsOf(record.chain)}), and no loaded version has migrate[${from}] to move it towards version ${target.version}`,
        };
      }
      steps.push({ from, fn });
    }
    return { kind: 'migrate', chain: target, from: version, steps };
  }
}
