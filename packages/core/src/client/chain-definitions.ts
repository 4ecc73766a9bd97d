/**
 * Chain definitions in the store: each process records the machine of every chain version it
 * holds, once, before it starts its first run (and a runtime when it starts), so a dashboard or
 * a CLI can draw any run without the chain's code.
 */
import type { AnyChain } from '../chain.js';
import type { Clock } from '../clock.js';
import { machineConfig } from '../machine/machine-config.js';
import type { ChainDefinitionRecord, Store } from '../ports/store.js';

/** One step of a recorded chain definition. */
export interface ChainDefinitionStep {
  /** The step's state name: the task name, suffixed `_2`, `_3` when a task repeats. */
  readonly key: string;
  readonly task: string;
  readonly queue: string;
  /** Whether the task has a compensation. */
  readonly compensates: boolean;
}

/** A chain version's machine, as the store recorded it. */
export interface ChainDefinition {
  readonly chain: string;
  readonly version: number;
  /** The structural fingerprint of its steps (`chain.fingerprint`). */
  readonly fingerprint: string;
  /** The compiled XState machine's config as JSON: what `createMachine()` takes and the Stately editor imports. */
  readonly machine: Record<string, unknown>;
  readonly steps: readonly ChainDefinitionStep[];
  /** When a process first recorded it (epoch ms). */
  readonly recordedAt: number;
}

/** The record of `chain` as the store keeps it. */
export function definitionRecordOf(chain: AnyChain, now: number): ChainDefinitionRecord {
  const steps: ChainDefinitionStep[] = chain.steps.map((s) => ({ key: s.key, task: s.task.name, queue: s.task.queue, compensates: s.task.compensate !== undefined }));
  return { chain: chain.name, version: chain.version, fingerprint: chain.fingerprint, recordedAt: now, definition: { machine: machineConfig(chain), steps } };
}

/** A stored record as a `ChainDefinition` (a record some other tool wrote without steps reads as none). */
export function toChainDefinition(record: ChainDefinitionRecord): ChainDefinition {
  const definition = (record.definition ?? {}) as { machine?: Record<string, unknown>; steps?: ChainDefinitionStep[] };
  return {
    chain: record.chain,
    version: record.version,
    fingerprint: record.fingerprint,
    machine: definition.machine ?? {},
    steps: Array.isArray(definition.steps) ? definition.steps : [],
    recordedAt: record.recordedAt,
  };
}

/**
 * Records a process's chains once: the first call writes them, later calls wait for that write.
 * A write that fails is tried again by the next call.
 */
export class DefinitionRecorder {
  private recorded: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly chains: () => readonly AnyChain[],
    private readonly clock: Clock,
  ) {}

  ensure(): Promise<void> {
    if (this.recorded) return this.recorded;
    const now = this.clock.now();
    const recorded = this.store.recordDefinitions(this.chains().map((c) => definitionRecordOf(c, now)));
    this.recorded = recorded;
    recorded.catch(() => {
      if (this.recorded === recorded) this.recorded = undefined;
    });
    return recorded;
  }
}
